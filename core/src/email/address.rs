//! Addresses: the `addr-spec` subset the product accepts, the `"Name <addr>"` and
//! `{ address, name }` input forms, the suppression key and recipient de-duplication.
//!
//! Accepted: a dot-atom local part and a domain of LDH labels (RFC 5322 §3.4.1, RFC 5321 §4.1.2),
//! within RFC 5321's limits (local part ≤ 64 octets, domain ≤ 255, address ≤ 254). Refused,
//! because no provider takes them reliably and each has been an injection or spoofing vector:
//! quoted local parts, comments, IP-literal domains and source routes. Internationalised domains
//! arrive as A-labels: the JS side converts them with the WHATWG URL host parser (UTS #46), so no
//! IDNA tables ship in the wasm. A non-ASCII local part needs `smtpUtf8` (RFC 6531).

use serde::{Deserialize, Serialize};

use super::error::{EmailError, Result};
use super::recipients::{AddressInput, AddressObject};

/// RFC 5321 §4.5.3.1.1.
pub const MAX_LOCAL: usize = 64;
/// RFC 5321 §4.5.3.1.2.
pub const MAX_DOMAIN: usize = 255;
/// RFC 5321 §4.5.3.1.3 (a 256-octet path less its angle brackets).
pub const MAX_ADDRESS: usize = 254;
/// RFC 1035 §2.3.4.
pub const MAX_LABEL: usize = 63;
/// Longest display name; longer ones are almost certainly content pasted into the wrong field.
pub const MAX_NAME: usize = 256;

/// Options of address parsing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressOptions {
    /// Accept non-ASCII local parts (the transport must support SMTPUTF8).
    #[serde(default)]
    pub smtp_utf8: bool,
}

/// A parsed mailbox: the address as given (domain case kept), its display name and its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mailbox {
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The suppression and de-duplication key ([`address_key`]).
    pub key: String,
}

fn refuse(field: &str, value: &str, reason: &str) -> EmailError {
    EmailError::InvalidAddress {
        field: field.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// `atext` of RFC 5322 §3.2.3.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn check_local(field: &str, value: &str, local: &str, opts: AddressOptions) -> Result<()> {
    if local.is_empty() {
        return Err(refuse(field, value, "the local part (before `@`) is empty"));
    }
    if local.starts_with('"') {
        return Err(refuse(field, value, "quoted local parts are not accepted"));
    }
    if local.len() > MAX_LOCAL {
        return Err(refuse(
            field,
            value,
            &format!(
                "the local part is {} octets, over the limit of {MAX_LOCAL}",
                local.len()
            ),
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(refuse(
            field,
            value,
            "the local part starts or ends with `.` or has `..`",
        ));
    }
    for c in local.chars() {
        if c == '.' || is_atext(c) {
            continue;
        }
        if !c.is_ascii() && !c.is_control() && !c.is_whitespace() {
            if opts.smtp_utf8 {
                continue;
            }
            return Err(refuse(
                field,
                value,
                "a non-ASCII local part needs `smtpUtf8: true` (and a transport that supports SMTPUTF8)",
            ));
        }
        return Err(refuse(
            field,
            value,
            &format!("the local part has {c:?}, which a dot-atom does not allow"),
        ));
    }
    Ok(())
}

pub(crate) fn check_domain(field: &str, value: &str, domain: &str) -> Result<()> {
    if domain.starts_with('[') {
        return Err(refuse(field, value, "IP-literal domains are not accepted"));
    }
    if !domain.is_ascii() {
        return Err(refuse(
            field,
            value,
            "the domain is not in A-labels: convert it first (new URL(\"http://\" + domain).hostname)",
        ));
    }
    if domain.len() > MAX_DOMAIN {
        return Err(refuse(
            field,
            value,
            &format!(
                "the domain is {} octets, over the limit of {MAX_DOMAIN}",
                domain.len()
            ),
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(refuse(
                field,
                value,
                "the domain has an empty label (leading or trailing `.`, or `..`)",
            ));
        }
        if label.len() > MAX_LABEL {
            return Err(refuse(
                field,
                value,
                &format!(
                    "a domain label is {} octets, over the limit of {MAX_LABEL}",
                    label.len()
                ),
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(refuse(
                field,
                value,
                "a domain label has a character other than letters, digits and `-`",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(refuse(
                field,
                value,
                "a domain label starts or ends with `-`",
            ));
        }
    }
    // A dotless name is a local alias (RFC 5321 §2.3.5), and an all-numeric last label is an
    // IPv4 address written without brackets: neither names a mail domain on the Internet.
    if labels.len() < 2 {
        return Err(refuse(
            field,
            value,
            "the domain has a single label: use a fully qualified domain",
        ));
    }
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(refuse(
            field,
            value,
            "the domain's last label is numeric (an IP address is not accepted)",
        ));
    }
    Ok(())
}

/// Checks a bare `addr-spec` (`local@domain`), naming `field` on refusal.
///
/// # Errors
/// `EMAIL_INVALID_ADDRESS` with the reason.
pub fn check_addr_spec(field: &str, value: &str, opts: AddressOptions) -> Result<()> {
    if value.is_empty() {
        return Err(refuse(field, value, "the address is empty"));
    }
    if value.contains(['\r', '\n', '\0']) {
        return Err(refuse(field, value, "the address contains CR, LF or NUL"));
    }
    if value.starts_with('@') {
        return Err(refuse(field, value, "source routes are not accepted"));
    }
    if value.contains(['(', ')']) {
        return Err(refuse(field, value, "comments are not accepted"));
    }
    if value.starts_with('"') {
        return Err(refuse(field, value, "quoted local parts are not accepted"));
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return Err(refuse(field, value, "the address has no `@`"));
    };
    check_local(field, value, local, opts)?;
    check_domain(field, value, domain)?;
    if value.len() > MAX_ADDRESS {
        return Err(refuse(
            field,
            value,
            &format!(
                "the address is {} octets, over the limit of {MAX_ADDRESS}",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// The key under which an address is suppressed and de-duplicated: the whole address
/// lowercased. The domain is case-insensitive by definition; the local part is lowercased too,
/// because mailbox providers treat it case-insensitively in practice and a bounce for
/// `John@x.test` must stop mail to `john@x.test`. No provider-specific folding (dots, `+tags`):
/// `a+news@x.test` and `a@x.test` stay distinct keys.
#[must_use]
pub fn address_key(address: &str) -> String {
    if address.is_ascii() {
        address.to_ascii_lowercase()
    } else {
        address.to_lowercase()
    }
}

fn check_name(field: &str, value: &str, name: &str) -> Result<()> {
    if name.chars().any(char::is_control) {
        return Err(refuse(
            field,
            value,
            "the display name contains a control character (CR, LF, NUL, …)",
        ));
    }
    if name.len() > MAX_NAME {
        return Err(refuse(
            field,
            value,
            &format!("the display name is over {MAX_NAME} octets"),
        ));
    }
    Ok(())
}

/// The display name of `"Name" <addr>` or `Name <addr>`, unquoted.
fn display_name(field: &str, value: &str, raw: &str) -> Result<Option<String>> {
    let raw = raw.trim_matches([' ', '\t']);
    if raw.is_empty() {
        return Ok(None);
    }
    let Some(inner) = raw.strip_prefix('"') else {
        if raw.contains(['"', '<', '>']) {
            return Err(refuse(
                field,
                value,
                "the display name has an unbalanced quote or angle bracket",
            ));
        }
        return Ok(Some(raw.to_owned()));
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) => out.push(e),
                None => break,
            },
            '"' if chars.as_str().is_empty() => return Ok(Some(out)),
            '"' => break,
            _ => out.push(c),
        }
    }
    Err(refuse(
        field,
        value,
        "the quoted display name is not closed (or has text after it)",
    ))
}

/// Parses one address input, naming `field` (e.g. `to[2]`) on refusal.
///
/// # Errors
/// `EMAIL_INVALID_ADDRESS` with the reason.
pub fn parse_address(field: &str, input: &AddressInput, opts: AddressOptions) -> Result<Mailbox> {
    let (address, name) = match input {
        AddressInput::Object(AddressObject { address, name }) => {
            (address.clone(), name.clone().filter(|n| !n.is_empty()))
        }
        AddressInput::Text(text) => match text.strip_suffix('>') {
            Some(head) => {
                let Some((name, addr)) = head.rsplit_once('<') else {
                    return Err(refuse(field, text, "`>` without `<`"));
                };
                (addr.to_owned(), display_name(field, text, name)?)
            }
            None if text.contains('<') => {
                return Err(refuse(field, text, "`<` without a closing `>`"))
            }
            None => (text.clone(), None),
        },
    };
    let shown = match input {
        AddressInput::Text(t) => t.as_str(),
        AddressInput::Object(o) => o.address.as_str(),
    };
    check_addr_spec(field, &address, opts)?;
    if let Some(n) = &name {
        check_name(field, shown, n)?;
    }
    Ok(Mailbox {
        key: address_key(&address),
        address,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Mailbox> {
        parse_address(
            "to",
            &AddressInput::Text(s.into()),
            AddressOptions::default(),
        )
    }

    #[test]
    fn forms() {
        let m = parse("\"Doe, \\\"J\\\"\" <J.Doe@Example.COM>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Doe, \"J\""));
        assert_eq!(m.address, "J.Doe@Example.COM");
        assert_eq!(m.key, "j.doe@example.com");
        let m = parse("Acme Team <no-reply@mail.acme.com>").unwrap();
        assert_eq!(m.name.as_deref(), Some("Acme Team"));
        let m = parse("<a@b.example>").unwrap();
        assert_eq!(m.name, None);
        for bad in [
            "Name <a@b.example",
            "Name a@b.example>",
            "\"Open <a@b.example>",
        ] {
            assert_eq!(
                parse(bad).unwrap_err().code(),
                "EMAIL_INVALID_ADDRESS",
                "{bad}"
            );
        }
    }
}
