//! The SMTP envelope and message as they go on the wire: the `MAIL FROM` and `RCPT TO` command
//! lines (refusing anything that could break out of them) and the message bytes after `DATA`.

use super::error::{EmailError, Result};

/// Most recipients of one transaction; RFC 5321 §4.5.3.1.8 asks servers for at least 100.
pub const MAX_RECIPIENTS: usize = 1000;
/// Longest address: a path is at most 256 octets with its angle brackets (RFC 5321 §4.5.3.1.3).
pub const MAX_ADDRESS: usize = 254;

/// Reads and checks the envelope argument (`envelope`).
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming the first bad field, e.g. `envelope.to[2]`.
#[cfg(feature = "serde")]
pub fn parse_envelope(value: &serde_json::Value) -> Result<Envelope> {
    let envelope: Envelope = crate::input::with_path(value).map_err(|(path, e)| {
        EmailError::argument(crate::input::field_path("envelope", &path), e.to_string())
    })?;
    envelope.check()?;
    Ok(envelope)
}

/// The transaction's sender and recipients (RFC 5321 `MAIL FROM` and `RCPT TO`), which may
/// differ from the message's headers (`Bcc`, bounce address).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Envelope {
    pub from: String,
    pub to: Vec<String>,
}

/// Refuses anything that is not a plain `local@domain` path: SMTP framing characters, spaces
/// (a quoted local part with spaces is refused too, rather than half-supported), control
/// characters, and lengths past RFC 5321's.
fn check_address(field: &str, address: &str) -> Result<()> {
    let bad = |reason: &str| EmailError::InvalidAddress {
        field: field.to_owned(),
        value: address.to_owned(),
        reason: reason.to_owned(),
    };
    if address.len() > MAX_ADDRESS {
        return Err(bad("longer than 254 octets (RFC 5321)"));
    }
    if address
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>'))
    {
        return Err(bad("contains a space, a control character, `<` or `>`"));
    }
    match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(bad("expected local@domain")),
    }
}

impl Envelope {
    /// Checks the sender and every recipient.
    ///
    /// # Errors
    /// `EMAIL_INVALID_ADDRESS` naming the address's field, `EMAIL_INVALID_ARGUMENT` for an
    /// empty or oversized recipient list.
    pub fn check(&self) -> Result<()> {
        check_address("envelope.from", &self.from)?;
        if self.to.is_empty() || self.to.len() > MAX_RECIPIENTS {
            return Err(EmailError::argument(
                "envelope.to",
                format!("expected 1 to {MAX_RECIPIENTS} recipients"),
            ));
        }
        for (i, to) in self.to.iter().enumerate() {
            check_address(&format!("envelope.to[{i}]"), to)?;
        }
        Ok(())
    }

    /// Whether an address is not ASCII, so the server must offer `SMTPUTF8` (RFC 6531).
    #[must_use]
    pub fn needs_smtputf8(&self) -> bool {
        !self.from.is_ascii() || self.to.iter().any(|a| !a.is_ascii())
    }
}

/// The `MAIL FROM` command line, with `BODY=8BITMIME` (RFC 6152) when the message is not ASCII
/// and `SMTPUTF8` when an address is not.
#[must_use]
pub fn mail_command(envelope: &Envelope, eight_bit: bool) -> String {
    let mut line = format!("MAIL FROM:<{}>", envelope.from);
    if eight_bit {
        line.push_str(" BODY=8BITMIME");
    }
    if envelope.needs_smtputf8() {
        line.push_str(" SMTPUTF8");
    }
    line.push_str("\r\n");
    line
}

/// The `RCPT TO` command line of one recipient.
#[must_use]
pub fn rcpt_command(address: &str) -> String {
    format!("RCPT TO:<{address}>\r\n")
}

/// The message as it is written after `DATA`, without its final CRLF (the client writes
/// `CRLF . CRLF` itself, so the server stores exactly `message`).
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` (`message`) for an empty message, one that does not end with CRLF,
/// or a bare CR or LF anywhere: servers disagree on where such a line ends, which is what SMTP
/// smuggling exploits, so only CRLF line ends are sent.
pub fn data_payload(message: &[u8]) -> Result<&[u8]> {
    let body = message
        .strip_suffix(b"\r\n")
        .ok_or_else(|| EmailError::argument("message", "expected MIME bytes ending with CRLF"))?;
    let mut prev = 0u8;
    for (i, &b) in message.iter().enumerate() {
        let bare_cr = prev == b'\r' && b != b'\n';
        let bare_lf = b == b'\n' && prev != b'\r';
        if bare_cr || bare_lf {
            return Err(EmailError::argument(
                "message",
                format!("bare CR or LF at byte {i}: lines must end with CRLF"),
            ));
        }
        prev = b;
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(from: &str, to: &[&str]) -> Envelope {
        Envelope {
            from: from.to_owned(),
            to: to.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn command_lines() {
        let e = env("a@example.com", &["b@example.org"]);
        e.check().expect("valid");
        assert_eq!(mail_command(&e, false), "MAIL FROM:<a@example.com>\r\n");
        assert_eq!(
            mail_command(&e, true),
            "MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"
        );
        assert_eq!(rcpt_command("b@example.org"), "RCPT TO:<b@example.org>\r\n");
        let utf8 = env("a@example.com", &["jörg@example.org"]);
        utf8.check().expect("valid");
        assert!(utf8.needs_smtputf8() && !e.needs_smtputf8());
        assert_eq!(
            mail_command(&utf8, true),
            "MAIL FROM:<a@example.com> BODY=8BITMIME SMTPUTF8\r\n"
        );
    }

    #[test]
    fn addresses_cannot_break_the_command_line() {
        let long = format!("{}@example.com", "a".repeat(MAX_ADDRESS));
        for (bad, field) in [
            ("a@example.com>\r\nRCPT TO:<c@example.com", "envelope.to[1]"),
            ("a b@example.com", "envelope.to[1]"),
            ("<a@example.com>", "envelope.to[1]"),
            ("a@example.com\u{0}", "envelope.to[1]"),
            ("example.com", "envelope.to[1]"),
            ("a@", "envelope.to[1]"),
            ("@example.com", "envelope.to[1]"),
            (long.as_str(), "envelope.to[1]"),
        ] {
            match env("a@example.com", &["ok@example.com", bad]).check() {
                Err(EmailError::InvalidAddress { field: f, .. }) => assert_eq!(f, field, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(
            env("x", &["a@example.com"]).check().map_err(|e| e.code()),
            Err("EMAIL_INVALID_ADDRESS")
        );
        let none = env("a@example.com", &[]).check();
        assert!(
            matches!(none, Err(EmailError::InvalidArgument { ref field, .. }) if field == "envelope.to")
        );
    }

    #[test]
    fn payload_is_the_message_without_its_last_crlf() {
        let m = b"Subject: x\r\n\r\n.line\r\n";
        assert_eq!(data_payload(m).expect("valid"), b"Subject: x\r\n\r\n.line");
        for bad in [
            &b""[..],
            b"no crlf",
            b"a\nb\r\n",
            b"a\rb\r\n",
            b"a\r\n.\n\r\n",
            b"\n",
        ] {
            let e = data_payload(bad).expect_err("refused");
            assert!(e.to_string().starts_with("invalid `message`: "), "{e}");
        }
    }
}
