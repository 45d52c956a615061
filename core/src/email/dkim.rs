//! DKIM signing (RFC 6376) of a finished message for the SMTP transport: relaxed/relaxed
//! canonicalisation, `rsa-sha256` (RFC 6376) or `ed25519-sha256` (RFC 8463), bytes in and the
//! `DKIM-Signature` field out (the caller puts it in front of the message).
//!
//! Own code rather than `mail-auth`: that crate brings a DNS resolver, a MIME parser and
//! compression it would not use here; signing is the two canonicalisations, two hashes and one
//! signature on the core's `rsa`, `ed25519-dalek` and `sha2`.
//!
//! `h=` lists [`SIGNED_HEADERS`] that are present, once per instance, so that receivers offering
//! one-click unsubscribe find `List-Unsubscribe` and `List-Unsubscribe-Post` covered (RFC 8058
//! §4). RSA signing is blinded with a generator seeded from the caller's 32 random bytes (the
//! core reads no randomness).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use ed25519_dalek::Signer as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};

use super::error::{EmailError, Result};

/// Header fields signed when present, in this order.
pub const SIGNED_HEADERS: [&str; 12] = [
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "reply-to",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-id",
];

/// What to sign with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "camelCase", deny_unknown_fields)
)]
pub struct DkimOptions {
    /// `d=`: the signing domain.
    pub domain: String,
    /// `s=`: the selector whose TXT record holds the public key.
    pub selector: String,
    /// PEM: RSA (`PRIVATE KEY` or `RSA PRIVATE KEY`) or ed25519 (`PRIVATE KEY`).
    pub private_key: String,
    /// `t=`, Unix seconds; omitted when absent.
    pub timestamp: Option<i64>,
}

enum Key {
    Rsa(Box<RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

fn parse_key(pem: &str) -> Result<Key> {
    if let Ok(k) =
        RsaPrivateKey::from_pkcs8_pem(pem).or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
    {
        return Ok(Key::Rsa(Box::new(k)));
    }
    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        return Ok(Key::Ed25519(Box::new(k)));
    }
    Err(EmailError::argument(
        "privateKey",
        "expected an RSA or ed25519 private key in PEM (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` or `-algorithm ed25519`)",
    ))
}

/// A generator for RSA blinding, from the caller's 32 random bytes.
struct SeededRng(chacha20::ChaCha20);

impl rsa::rand_core::RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
        self.0.apply_keystream(dest);
    }
    fn try_fill_bytes(
        &mut self,
        dest: &mut [u8],
    ) -> std::result::Result<(), rsa::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rsa::rand_core::CryptoRng for SeededRng {}

/// The message's lines without their line ends (CRLF or LF), and where the body starts.
fn split(message: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut lines: Vec<&[u8]> = message
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    // `split` yields an empty piece after a final line end; it is not a line.
    if message.ends_with(b"\n") {
        lines.pop();
    }
    let body = lines
        .iter()
        .position(|l| l.is_empty())
        .unwrap_or(lines.len());
    (lines, body)
}

/// Header fields as (lower-cased name, raw field lines joined unfolded), in message order.
fn fields<'a>(lines: &[&'a [u8]]) -> Vec<(String, Vec<&'a [u8]>)> {
    let mut out: Vec<(String, Vec<&[u8]>)> = Vec::new();
    for line in lines {
        match (line.first(), out.last_mut()) {
            (Some(b' ' | b'\t'), Some((_, parts))) => parts.push(line),
            _ => {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                out.push((
                    String::from_utf8_lossy(name).trim().to_ascii_lowercase(),
                    vec![line],
                ));
            }
        }
    }
    out
}

/// Runs of space and tab as one space, trailing ones removed, leading ones kept as one space
/// only when `keep_leading` (body lines; header values lose them).
fn squash(bytes: &[u8], out: &mut Vec<u8>, keep_leading: bool) {
    let mut ws = false;
    for &b in bytes {
        if b == b' ' || b == b'\t' {
            ws = true;
        } else {
            if ws && (keep_leading || !out.is_empty()) {
                out.push(b' ');
            }
            ws = false;
            out.push(b);
        }
    }
}

/// Relaxed header canonicalisation (RFC 6376 §3.4.2), without the final CRLF.
fn relaxed_header(name: &str, parts: &[&[u8]]) -> Vec<u8> {
    let joined: Vec<u8> = parts.concat();
    let value = joined.splitn(2, |&b| b == b':').nth(1).unwrap_or_default();
    let mut out = Vec::with_capacity(name.len() + value.len() + 1);
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    let mut v = Vec::with_capacity(value.len());
    squash(value, &mut v, false);
    out.extend_from_slice(&v);
    out
}

/// Relaxed body canonicalisation (RFC 6376 §3.4.4).
fn relaxed_body(lines: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pending_empty = 0usize;
    for line in lines {
        let mut l = Vec::with_capacity(line.len());
        squash(line, &mut l, true);
        if l.is_empty() {
            pending_empty += 1;
            continue;
        }
        for _ in 0..pending_empty {
            out.extend_from_slice(b"\r\n");
        }
        pending_empty = 0;
        out.extend_from_slice(&l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A checked signing key with its domain and selector: parse once, sign many messages.
pub struct DkimSigner {
    key: Key,
    domain: String,
    selector: String,
    timestamp: Option<i64>,
}

impl std::fmt::Debug for DkimSigner {
    // Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

/// Signed header fields: lower-cased name and the field's raw lines.
type Signed<'a> = Vec<(&'static str, Vec<&'a [u8]>)>;

/// The header fields of `message` that DKIM signs, checked to include `From`.
fn signed_fields<'a>(headers: &[(String, Vec<&'a [u8]>)]) -> Result<Signed<'a>> {
    let mut signed = Vec::new();
    for name in SIGNED_HEADERS {
        // Several instances: the last one first, as verifiers pick them (RFC 6376 §5.4.2).
        for (n, parts) in headers.iter().rev() {
            if n == name {
                signed.push((name, parts.clone()));
            }
        }
    }
    if !signed.iter().any(|(n, _)| *n == "from") {
        return Err(EmailError::argument(
            "message",
            "has no `From` header, which DKIM must sign",
        ));
    }
    Ok(signed)
}

/// Whether `message` can be signed (it has a `From` header), without signing it.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `message`.
pub fn check_signable(message: &[u8]) -> Result<()> {
    let (lines, body_at) = split(message);
    signed_fields(&fields(&lines[..body_at])).map(drop)
}

impl DkimSigner {
    /// Parses the key and checks the names.
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming `privateKey`, `domain` or `selector`.
    pub fn new(opts: &DkimOptions) -> Result<Self> {
        let key = parse_key(&opts.private_key)?;
        for (field, v) in [("domain", &opts.domain), ("selector", &opts.selector)] {
            if v.is_empty()
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
            {
                return Err(EmailError::argument(
                    field,
                    "must be a DNS name (letters, digits, `.`, `-`, `_`)",
                ));
            }
        }
        Ok(DkimSigner {
            key,
            domain: opts.domain.clone(),
            selector: opts.selector.clone(),
            timestamp: opts.timestamp,
        })
    }

    /// The `DKIM-Signature` field for `message`, folded, ending with CRLF: put it in front of
    /// the message. `random`: 32 bytes (RSA blinding; unused for ed25519 but always required, so
    /// the caller's code does not depend on the key type).
    ///
    /// # Errors
    /// `EMAIL_INVALID_ARGUMENT` naming `random` or `message` (no `From`).
    pub fn sign(&self, message: &[u8], random: &[u8]) -> Result<String> {
        let seed: [u8; 32] = random.try_into().map_err(|_| {
            EmailError::argument(
                "random",
                format!("expected 32 random bytes, got {}", random.len()),
            )
        })?;
        let (lines, body_at) = split(message);
        let headers = fields(&lines[..body_at]);
        let body = lines.get(body_at + 1..).unwrap_or_default();
        let signed = signed_fields(&headers)?;
        let bh = STANDARD.encode(Sha256::digest(relaxed_body(body)));
        let h = signed.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(":");
        let algorithm = match self.key {
            Key::Rsa(_) => "rsa-sha256",
            Key::Ed25519(_) => "ed25519-sha256",
        };
        let t = self
            .timestamp
            .map(|t| format!(" t={t};"))
            .unwrap_or_default();
        let value = format!(
            "v=1; a={algorithm}; c=relaxed/relaxed; d={}; s={};{t}\r\n\th={h};\r\n\tbh={bh};\r\n\tb=",
            self.domain, self.selector
        );
        let mut data = Vec::new();
        for (name, parts) in &signed {
            data.extend_from_slice(&relaxed_header(name, parts));
            data.extend_from_slice(b"\r\n");
        }
        let own = format!("DKIM-Signature: {value}");
        let own_lines: Vec<&[u8]> = own
            .as_bytes()
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect();
        data.extend_from_slice(&relaxed_header("dkim-signature", &own_lines));
        let digest = Sha256::digest(&data);
        let signature = match &self.key {
            Key::Rsa(k) => {
                let mut rng = SeededRng(chacha20::ChaCha20::new(&seed.into(), &[0u8; 12].into()));
                k.sign_with_rng(&mut rng, Pkcs1v15Sign::new::<Sha256>(), &digest)
                    .map_err(|e| EmailError::argument("privateKey", format!("cannot sign: {e}")))?
            }
            Key::Ed25519(k) => k.sign(&digest).to_bytes().to_vec(),
        };
        Ok(format!("{own}{}\r\n", STANDARD.encode(signature)))
    }
}

/// What a signed message shows of its signing: the lower-cased names of its header fields, and
/// the `h=` names of its first `DKIM-Signature` (`None` without one).
#[must_use]
pub fn coverage(message: &[u8]) -> (Vec<String>, Option<Vec<String>>) {
    let (lines, body_at) = split(message);
    let headers = fields(&lines[..body_at]);
    let h = headers
        .iter()
        .find(|(n, _)| n == "dkim-signature")
        .map(|(_, parts)| {
            let value = String::from_utf8_lossy(&parts.concat()).into_owned();
            value
                .split(';')
                // tag-spec: FWS may surround the `=` (RFC 6376 §3.2).
                .filter_map(|tag| tag.split_once('='))
                .filter(|(name, _)| name.trim() == "h")
                .map(|(_, names)| names)
                .flat_map(|names| names.split(':'))
                .map(|n| {
                    n.split_whitespace()
                        .collect::<String>()
                        .to_ascii_lowercase()
                })
                .filter(|n| !n.is_empty())
                .collect()
        });
    (headers.into_iter().map(|(n, _)| n).collect(), h)
}

/// [`DkimSigner::sign`] with a key parsed for this one message.
///
/// # Errors
/// `EMAIL_INVALID_ARGUMENT` naming `privateKey`, `domain`, `selector`, `random` or `message`
/// (no `From`).
pub fn dkim_sign(message: &[u8], opts: &DkimOptions, random: &[u8]) -> Result<String> {
    DkimSigner::new(opts)?.sign(message, random)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed_key() -> (ed25519_dalek::SigningKey, String) {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let pem = key.to_pkcs8_pem(Default::default()).unwrap().to_string();
        (key, pem)
    }

    #[test]
    fn relaxed_canonicalisation_follows_rfc_6376_examples() {
        // RFC 6376 §3.4.5.
        let msg = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
        let (lines, at) = split(msg);
        let f = fields(&lines[..at]);
        assert_eq!(relaxed_header(&f[0].0, &f[0].1), b"a:X");
        assert_eq!(relaxed_header(&f[1].0, &f[1].1), b"b:Y Z");
        assert_eq!(relaxed_body(&lines[at + 1..]), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(&[]), b"");
        let (lf_lines, lf_at) = split(b"A: X\n\nbody\n");
        assert_eq!(relaxed_body(&lf_lines[lf_at + 1..]), b"body\r\n");
    }

    #[test]
    fn ed25519_signature_verifies_over_the_canonical_data() {
        let (key, pem) = ed_key();
        let opts = DkimOptions {
            domain: "example.com".into(),
            selector: "s1".into(),
            private_key: pem,
            timestamp: Some(1_700_000_000),
        };
        let msg = b"From: a@example.com\r\nTo: b@example.org\r\nSubject:  Hi \r\nX-Other: 1\r\nList-Unsubscribe: <https://x/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nHello\r\n";
        let field = dkim_sign(msg, &opts, &[0; 32]).unwrap();
        assert!(field.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com; s=s1; t=1700000000;"));
        assert!(
            field.contains("h=from:to:subject:list-unsubscribe:list-unsubscribe-post;"),
            "{field}"
        );
        let b64 = field.rsplit("b=").next().unwrap().trim_end();
        let sig = ed25519_dalek::Signature::from_slice(&STANDARD.decode(b64).unwrap()).unwrap();
        let unsigned = &field[..field.len() - b64.len() - 2];
        let mut data = b"from:a@example.com\r\nto:b@example.org\r\nsubject:Hi\r\nlist-unsubscribe:<https://x/u/1>\r\nlist-unsubscribe-post:List-Unsubscribe=One-Click\r\n".to_vec();
        let lines: Vec<&[u8]> = unsigned
            .as_bytes()
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .collect();
        data.extend_from_slice(&relaxed_header("dkim-signature", &lines));
        assert!(key
            .verifying_key()
            .verify_strict(&Sha256::digest(&data), &sig)
            .is_ok());
    }

    #[test]
    fn bad_inputs_are_named() {
        let opts = DkimOptions {
            domain: "example.com".into(),
            selector: "s".into(),
            private_key: "nope".into(),
            timestamp: None,
        };
        assert!(dkim_sign(b"From: a@b\r\n\r\n", &opts, &[0; 32])
            .unwrap_err()
            .to_string()
            .contains("`privateKey`"));
        let (_, pem) = ed_key();
        let opts = DkimOptions {
            private_key: pem,
            ..opts
        };
        assert!(dkim_sign(b"To: a@b\r\n\r\n", &opts, &[0; 32])
            .unwrap_err()
            .to_string()
            .contains("`message`"));
        assert!(dkim_sign(b"From: a@b\r\n\r\n", &opts, &[0; 3])
            .unwrap_err()
            .to_string()
            .contains("`random`"));
        let bad = DkimOptions {
            domain: "a b".into(),
            ..opts
        };
        assert!(dkim_sign(b"From: a@b\r\n\r\n", &bad, &[0; 32])
            .unwrap_err()
            .to_string()
            .contains("`domain`"));
    }

    #[test]
    fn coverage_reads_h_with_folding_white_space_around_the_equals_sign() {
        let message = b"DKIM-Signature: v=1; a=ed25519-sha256; d=acme.example; s=s1;\r\n\th = From : To:\r\n List-Unsubscribe ; bh=x; b=y\r\nFrom: a@acme.example\r\nTo: b@example.com\r\nList-Unsubscribe: <https://u.example>\r\n\r\nbody\r\n";
        let (present, h) = coverage(message);
        assert_eq!(h.unwrap(), ["from", "to", "list-unsubscribe"]);
        assert!(present.iter().any(|p| p == "list-unsubscribe"));
        let (_, none) = coverage(b"From: a@acme.example\r\n\r\nbody\r\n");
        assert!(none.is_none());
    }
}
