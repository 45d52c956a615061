//! What an SMTP exchange means for the message and each recipient: the hand-off outcomes of the
//! classification table (`sent`, `rejected_recipient`, `throttled`, …) from the server's replies
//! and from where the exchange stopped.
//!
//! The line that matters is the message's last byte: a failure before `DATA`'s content was sent
//! means the server cannot have the message (`retryable`); a lost connection or a missing reply
//! after it means it may (`ambiguous`). Replies refused at `RCPT` are judged per recipient, so a
//! `550 5.1.1` bounces that address while the others are delivered.

/// Outcome of one hand-off, stored in `email_attempts.outcome` (data, never thrown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum HandOff {
    Sent,
    RejectedPermanent,
    RejectedRecipient,
    AuthFailed,
    Throttled,
    Retryable,
    Ambiguous,
}

impl HandOff {
    /// The stored text.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HandOff::Sent => "sent",
            HandOff::RejectedPermanent => "rejected_permanent",
            HandOff::RejectedRecipient => "rejected_recipient",
            HandOff::AuthFailed => "auth_failed",
            HandOff::Throttled => "throttled",
            HandOff::Retryable => "retryable",
            HandOff::Ambiguous => "ambiguous",
        }
    }
}

/// The step an exchange was at when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Stage {
    /// TCP connect, implicit TLS, the greeting and `EHLO`.
    Connect,
    /// `STARTTLS`, the handshake and the second `EHLO`.
    StartTls,
    Auth,
    Mail,
    Rcpt,
    /// The `DATA` command (its `354`), before any of the message was written.
    Data,
    /// The message's bytes and the final reply to them.
    Message,
}

/// Longest reply text kept (the product stores provider texts truncated to 2 KiB).
pub const MAX_TEXT: usize = 2048;

/// One server reply: its code, its enhanced status code (RFC 3463) when the text starts with one
/// of the same class, and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Reply {
    pub code: u16,
    pub enhanced_code: Option<String>,
    pub text: String,
}

impl Reply {
    /// The reply `code` with `text` (its lines joined), truncated to [`MAX_TEXT`] bytes.
    #[must_use]
    pub fn new(code: u16, text: &str) -> Reply {
        let mut end = text.len().min(MAX_TEXT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Reply {
            code,
            enhanced_code: enhanced_code(code, text),
            text: text[..end].to_owned(),
        }
    }

    /// 2xx and 3xx: the server took the command.
    #[must_use]
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }
}

/// `class.subject.detail` at the start of `text`, when its class is the reply code's first
/// digit (RFC 2034 §4): `5.1.1` of `550 5.1.1 No such user`.
fn enhanced_code(code: u16, text: &str) -> Option<String> {
    let token = text.split_ascii_whitespace().next()?;
    let mut parts = token.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let digits =
        |s: &str, max: usize| (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let same_class = class.len() == 1 && class.parse::<u16>().ok() == Some(code / 100);
    (parts.next().is_none() && same_class && digits(subject, 3) && digits(detail, 3))
        .then(|| token.to_owned())
}

/// Why an exchange stopped without a reply to judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Failure {
    /// No reply within the timeout.
    Timeout,
    /// Refused, reset or closed connection; name resolution failed.
    Connection,
    /// The TLS handshake failed (untrusted certificate, wrong name, no common version).
    Tls,
    /// A reply that is not SMTP.
    Protocol,
    /// The server lacks what the exchange needs: `STARTTLS`, an `AUTH` mechanism, `SMTPUTF8`
    /// or `8BITMIME`.
    Unsupported,
}

/// What stopped an exchange at a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A negative reply.
    Reply(Reply),
    Failure(Failure),
}

/// How an exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The message's final reply was positive.
    Delivered,
    /// Every recipient was refused at `RCPT`, so `DATA` was not sent.
    NoRecipient,
    /// Stopped at `stage`.
    Stopped { stage: Stage, cause: Cause },
}

/// The outcome of the message and of each recipient, in the envelope's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: HandOff,
    pub recipients: Vec<HandOff>,
}

/// Judges an exchange: `rcpt` holds each recipient's `RCPT` reply (`None` when not reached).
#[must_use]
pub fn judge(rcpt: &[Option<Reply>], end: &End) -> Verdict {
    let refused = |r: &Option<Reply>| r.as_ref().filter(|r| !r.is_positive()).map(recipient);
    match end {
        End::Delivered => Verdict {
            outcome: HandOff::Sent,
            recipients: rcpt
                .iter()
                .map(|r| refused(r).unwrap_or(HandOff::Sent))
                .collect(),
        },
        End::NoRecipient => {
            let recipients: Vec<HandOff> = rcpt
                .iter()
                .map(|r| refused(r).unwrap_or(HandOff::Retryable))
                .collect();
            Verdict {
                outcome: combine(&recipients),
                recipients,
            }
        }
        End::Stopped { stage, cause } => {
            let outcome = stopped(*stage, cause);
            Verdict {
                outcome,
                recipients: rcpt.iter().map(|r| refused(r).unwrap_or(outcome)).collect(),
            }
        }
    }
}

/// The outcome of a message none of whose recipients was accepted: the retriable ones first
/// (they may still be delivered), a bounce only when every recipient bounced.
fn combine(recipients: &[HandOff]) -> HandOff {
    [HandOff::Throttled, HandOff::Retryable, HandOff::AuthFailed]
        .into_iter()
        .find(|o| recipients.contains(o))
        .unwrap_or(
            if recipients.iter().all(|o| *o == HandOff::RejectedRecipient) {
                HandOff::RejectedRecipient
            } else {
                HandOff::RejectedPermanent
            },
        )
}

/// A recipient's refusal at `RCPT`: `5.1.x` (bad mailbox, bad domain, bad syntax) is a hard
/// bounce of that address; other permanent refusals (policy, relay denied) fail the recipient
/// without saying the address is bad.
fn recipient(reply: &Reply) -> HandOff {
    match reply.code {
        530 | 535 => HandOff::AuthFailed,
        400..=499 => transient(reply),
        _ if reply
            .enhanced_code
            .as_deref()
            .is_some_and(|c| c.starts_with("5.1.")) =>
        {
            HandOff::RejectedRecipient
        }
        _ => HandOff::RejectedPermanent,
    }
}

/// SMTP has no `Retry-After`: a 4xx reply is a rate limit when its enhanced code is "mail
/// system congestion" (4.4.5, RFC 3463) or Gmail's "unusual rate" (4.7.28), or its text says so
/// as the big relays word it (SES "Throttling failure: Maximum sending rate exceeded", "too many
/// connections").
fn transient(reply: &Reply) -> HandOff {
    let text = reply.text.to_ascii_lowercase();
    let words = [
        "throttl",
        "rate limit",
        "ratelimit",
        "rate-limit",
        "sending rate",
        "too many",
    ];
    let code = reply.enhanced_code.as_deref();
    if matches!(code, Some("4.4.5" | "4.7.28")) || words.iter().any(|w| text.contains(w)) {
        HandOff::Throttled
    } else {
        HandOff::Retryable
    }
}

/// The outcome of an exchange that stopped at `stage`.
fn stopped(stage: Stage, cause: &Cause) -> HandOff {
    match cause {
        Cause::Failure(failure) => match (stage, failure) {
            (Stage::Message, Failure::Timeout | Failure::Connection | Failure::Protocol) => {
                HandOff::Ambiguous
            }
            (Stage::Auth, Failure::Unsupported) => HandOff::AuthFailed,
            // The server cannot take this message (SMTPUTF8, 8BITMIME), now or later.
            (Stage::Mail, Failure::Unsupported) => HandOff::RejectedPermanent,
            _ => HandOff::Retryable,
        },
        // A positive reply never stops an exchange; treated as a reply that is not SMTP.
        Cause::Reply(r) if r.is_positive() => stopped(stage, &Cause::Failure(Failure::Protocol)),
        Cause::Reply(r) if r.code == 530 || r.code == 535 => HandOff::AuthFailed,
        Cause::Reply(r) if stage == Stage::Auth && r.code >= 500 => HandOff::AuthFailed,
        Cause::Reply(r) if r.code < 500 => transient(r),
        Cause::Reply(_) => match stage {
            // Refusing the session (554 greeting, EHLO, STARTTLS) judges the connection, not the
            // message: another attempt or transport may take it.
            Stage::Connect | Stage::StartTls => HandOff::Retryable,
            // A refusal that stops the exchange at `RCPT` is not about one address.
            Stage::Auth | Stage::Mail | Stage::Rcpt | Stage::Data | Stage::Message => {
                HandOff::RejectedPermanent
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(code: u16, text: &str) -> Reply {
        Reply::new(code, text)
    }

    fn stop(stage: Stage, cause: Cause) -> End {
        End::Stopped { stage, cause }
    }

    #[test]
    fn enhanced_codes_of_the_same_class_only() {
        assert_eq!(
            r(550, "5.1.1 No such user").enhanced_code.as_deref(),
            Some("5.1.1")
        );
        assert_eq!(
            r(250, "2.0.0 Ok: queued as X").enhanced_code.as_deref(),
            Some("2.0.0")
        );
        assert_eq!(
            r(451, "4.7.28 rate limited").enhanced_code.as_deref(),
            Some("4.7.28")
        );
        assert_eq!(r(550, "4.1.1 wrong class").enhanced_code, None);
        assert_eq!(r(550, "5.1 short").enhanced_code, None);
        assert_eq!(r(550, "5.1.1.1 long").enhanced_code, None);
        assert_eq!(r(550, "5.1.1234 long detail").enhanced_code, None);
        assert_eq!(r(550, "Mailbox unavailable").enhanced_code, None);
        assert_eq!(r(550, "").enhanced_code, None);
    }

    #[test]
    fn text_is_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let reply = r(550, &long);
        assert!(reply.text.len() <= MAX_TEXT && reply.text.len() >= MAX_TEXT - 1);
        assert!(long.starts_with(&reply.text));
    }

    #[test]
    fn delivered_with_a_bounced_recipient() {
        let rcpt = [
            Some(r(250, "2.1.5 Ok")),
            Some(r(550, "5.1.1 No such user")),
            Some(r(550, "5.7.1 Relay access denied")),
            Some(r(452, "4.5.3 Too many recipients")),
        ];
        let v = judge(&rcpt, &End::Delivered);
        assert_eq!(v.outcome, HandOff::Sent);
        assert_eq!(
            v.recipients,
            [
                HandOff::Sent,
                HandOff::RejectedRecipient,
                HandOff::RejectedPermanent,
                HandOff::Throttled
            ]
        );
    }

    #[test]
    fn no_recipient_accepted() {
        let bounced = [Some(r(550, "5.1.1 a")), Some(r(553, "5.1.3 b"))];
        assert_eq!(
            judge(&bounced, &End::NoRecipient).outcome,
            HandOff::RejectedRecipient
        );
        let mixed = [Some(r(550, "5.1.1 a")), Some(r(550, "no such user"))];
        let v = judge(&mixed, &End::NoRecipient);
        assert_eq!(v.outcome, HandOff::RejectedPermanent);
        assert_eq!(
            v.recipients,
            [HandOff::RejectedRecipient, HandOff::RejectedPermanent]
        );
        let later = [Some(r(550, "5.1.1 a")), Some(r(451, "4.3.0 try later"))];
        assert_eq!(judge(&later, &End::NoRecipient).outcome, HandOff::Retryable);
        let busy = [Some(r(451, "4.3.0 a")), Some(r(421, "4.4.5 congestion"))];
        assert_eq!(judge(&busy, &End::NoRecipient).outcome, HandOff::Throttled);
        let auth = [Some(r(530, "5.7.0 Authentication required"))];
        assert_eq!(judge(&auth, &End::NoRecipient).outcome, HandOff::AuthFailed);
    }

    #[test]
    fn the_last_byte_separates_retryable_from_ambiguous() {
        let rcpt = [Some(r(250, "ok"))];
        for failure in [Failure::Timeout, Failure::Connection, Failure::Protocol] {
            let before = judge(&rcpt, &stop(Stage::Data, Cause::Failure(failure)));
            assert_eq!(before.outcome, HandOff::Retryable);
            assert_eq!(before.recipients, [HandOff::Retryable]);
            let after = judge(&rcpt, &stop(Stage::Message, Cause::Failure(failure)));
            assert_eq!(after.outcome, HandOff::Ambiguous);
            assert_eq!(after.recipients, [HandOff::Ambiguous]);
            for stage in [
                Stage::Connect,
                Stage::StartTls,
                Stage::Auth,
                Stage::Mail,
                Stage::Rcpt,
            ] {
                assert_eq!(
                    judge(&[None], &stop(stage, Cause::Failure(failure))).outcome,
                    HandOff::Retryable
                );
            }
        }
        let tls = judge(&[None], &stop(Stage::Connect, Cause::Failure(Failure::Tls)));
        assert_eq!(tls.outcome, HandOff::Retryable);
    }

    #[test]
    fn replies_by_stage() {
        let cases = [
            (
                Stage::Connect,
                421,
                "4.3.2 Service not available",
                HandOff::Retryable,
            ),
            (
                Stage::Connect,
                554,
                "5.7.1 No service for you",
                HandOff::Retryable,
            ),
            (
                Stage::StartTls,
                454,
                "4.7.0 TLS not available",
                HandOff::Retryable,
            ),
            (
                Stage::Auth,
                535,
                "5.7.8 Authentication credentials invalid",
                HandOff::AuthFailed,
            ),
            (
                Stage::Auth,
                534,
                "5.7.9 Please log in with your web browser",
                HandOff::AuthFailed,
            ),
            (
                Stage::Auth,
                504,
                "5.5.4 Unrecognized authentication type",
                HandOff::AuthFailed,
            ),
            (
                Stage::Auth,
                454,
                "4.7.0 Temporary authentication failure",
                HandOff::Retryable,
            ),
            (
                Stage::Mail,
                530,
                "5.7.0 Authentication required",
                HandOff::AuthFailed,
            ),
            (
                Stage::Mail,
                553,
                "5.7.1 Sender address rejected",
                HandOff::RejectedPermanent,
            ),
            (Stage::Mail, 451, "4.3.0 Local error", HandOff::Retryable),
            (
                Stage::Mail,
                421,
                "4.7.0 Too many connections",
                HandOff::Throttled,
            ),
            (
                Stage::Mail,
                454,
                "Throttling failure: Maximum sending rate exceeded.",
                HandOff::Throttled,
            ),
            (
                Stage::Data,
                554,
                "5.5.1 No valid recipients",
                HandOff::RejectedPermanent,
            ),
            (
                Stage::Message,
                552,
                "5.3.4 Message too big",
                HandOff::RejectedPermanent,
            ),
            (
                Stage::Message,
                554,
                "5.7.1 Message rejected as spam",
                HandOff::RejectedPermanent,
            ),
            (Stage::Message, 451, "4.7.1 Greylisted", HandOff::Retryable),
            (
                Stage::Message,
                421,
                "4.7.28 Our system has detected an unusual rate",
                HandOff::Throttled,
            ),
            (
                Stage::Message,
                450,
                "4.7.28 rate limited",
                HandOff::Throttled,
            ),
            (Stage::Message, 250, "not a stop", HandOff::Ambiguous),
            (Stage::Mail, 250, "not a stop", HandOff::Retryable),
        ];
        for (stage, code, text, want) in cases {
            let got = judge(
                &[Some(r(250, "ok"))],
                &stop(stage, Cause::Reply(r(code, text))),
            );
            assert_eq!(got.outcome, want, "{stage:?} {code} {text}");
        }
    }

    #[test]
    fn unsupported_extensions() {
        let unsupported =
            |stage| judge(&[None], &stop(stage, Cause::Failure(Failure::Unsupported))).outcome;
        assert_eq!(unsupported(Stage::StartTls), HandOff::Retryable);
        assert_eq!(unsupported(Stage::Auth), HandOff::AuthFailed);
        assert_eq!(unsupported(Stage::Mail), HandOff::RejectedPermanent);
    }

    const STAGES: [Stage; 7] = [
        Stage::Connect,
        Stage::StartTls,
        Stage::Auth,
        Stage::Mail,
        Stage::Rcpt,
        Stage::Data,
        Stage::Message,
    ];
    const FAILURES: [Failure; 5] = [
        Failure::Timeout,
        Failure::Connection,
        Failure::Tls,
        Failure::Protocol,
        Failure::Unsupported,
    ];

    proptest::proptest! {
        #[test]
        fn only_a_positive_final_reply_is_sent_and_only_after_the_message_is_ambiguous(
            codes in proptest::collection::vec(proptest::option::of(200u16..600), 1..8),
            bounce in proptest::collection::vec(proptest::bool::ANY, 8),
            stage in 0usize..7,
            failure in proptest::option::of(0usize..5),
            code in 400u16..600,
            end in 0usize..3,
        ) {
            let rcpt: Vec<Option<Reply>> = codes
                .iter()
                .zip(&bounce)
                .map(|(c, b)| c.map(|c| r(c, if *b && c >= 500 { "5.1.1 unknown" } else { "text" })))
                .collect();
            let cause = failure.map_or_else(|| Cause::Reply(r(code, "text")), |f| Cause::Failure(FAILURES[f]));
            let end = match end {
                0 => End::Delivered,
                1 => End::NoRecipient,
                _ => stop(STAGES[stage], cause),
            };
            let v = judge(&rcpt, &end);
            proptest::prop_assert_eq!(v.recipients.len(), rcpt.len());
            proptest::prop_assert_eq!(v.outcome == HandOff::Sent, end == End::Delivered);
            let after_message = matches!(end, End::Stopped { stage: Stage::Message, .. });
            proptest::prop_assert!(v.outcome != HandOff::Ambiguous || after_message);
            for (reply, outcome) in rcpt.iter().zip(&v.recipients) {
                let bounced = reply.as_ref().is_some_and(|r| {
                    r.code >= 500 && r.code != 530 && r.code != 535 && r.text.starts_with("5.1.")
                });
                proptest::prop_assert_eq!(bounced, *outcome == HandOff::RejectedRecipient);
            }
        }
    }

    #[test]
    fn stored_names() {
        assert_eq!(HandOff::RejectedRecipient.as_str(), "rejected_recipient");
        assert_eq!(HandOff::AuthFailed.as_str(), "auth_failed");
    }
}
