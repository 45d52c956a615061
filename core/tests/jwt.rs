//! Every verification rule and failure mode of `jwt::Verifier`.

use serde_json::json;
use usebetter_core::jwt::{
    bearer_claim, bearer_token, decode_unverified, JwksInput, OneOrMany, Verifier, VerifyOptions,
};

use crate::support::{b64, fixture, sign, token, NOW, SECRET};

fn secret() -> VerifyOptions {
    VerifyOptions {
        secret: Some(SECRET.into()),
        ..VerifyOptions::default()
    }
}

fn pem(file: &str) -> VerifyOptions {
    VerifyOptions {
        public_key: Some(fixture(file)),
        ..VerifyOptions::default()
    }
}

fn code(opts: &VerifyOptions, tok: &str) -> &'static str {
    Verifier::new(opts)
        .unwrap()
        .verify(tok, NOW)
        .unwrap_err()
        .code()
}

fn claims() -> serde_json::Value {
    json!({ "sub": "u1", "tenant_id": "acme", "exp": NOW + 60 })
}

#[test]
fn each_algorithm_verifies_with_its_key() {
    let cases = [
        ("HS256", secret()),
        ("RS256", pem("rsa.pub")),
        ("RS256", pem("rsa.pkcs1.pub")),
        ("ES256", pem("ec.pub")),
        ("EdDSA", pem("ed.pub")),
    ];
    for (alg, opts) in cases {
        let out = Verifier::new(&opts)
            .unwrap()
            .verify(&token(alg, &claims()), NOW);
        assert_eq!(out.unwrap()["tenant_id"], "acme", "{alg}");
    }
}

#[test]
fn bad_signature() {
    assert_eq!(
        code(&pem("rsa.pub"), &token("RS256-other", &claims())),
        "JWT_BAD_SIGNATURE"
    );
    let good = token("HS256", &claims());
    let (input, sig) = good.rsplit_once('.').unwrap();
    let mut bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    bytes[7] ^= 1;
    let flipped = format!("{input}.{}", b64(&bytes));
    assert_eq!(code(&secret(), &flipped), "JWT_BAD_SIGNATURE");
    // A payload swapped under a valid signature.
    let good = token("HS256", &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(br#"{"tenant_id":"evil"}"#),
        parts[2]
    );
    assert_eq!(code(&secret(), &forged), "JWT_BAD_SIGNATURE");
}

#[test]
fn alg_none_is_always_rejected() {
    let t = sign(&json!({ "alg": "none" }), &claims(), "none");
    assert_eq!(code(&secret(), &t), "JWT_ALG_NONE");
    let t = sign(&json!({ "alg": "NONE" }), &claims(), "none");
    assert_eq!(code(&secret(), &t), "JWT_ALG_NONE");
    let t = sign(&json!({ "typ": "JWT" }), &claims(), "none");
    assert_eq!(code(&secret(), &t), "JWT_ALG_NONE");
    assert_eq!(decode_unverified(&t).unwrap_err().code(), "JWT_ALG_NONE");
}

#[test]
fn algorithm_confusion_is_impossible() {
    // An HS256 token "signed" with the RSA public key text must not verify against that key.
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256"}"#),
        b64(claims().to_string().as_bytes())
    );
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(fixture("rsa.pub").as_bytes()).unwrap();
    m.update(input.as_bytes());
    let t = format!("{input}.{}", b64(&m.finalize().into_bytes()));
    assert_eq!(code(&pem("rsa.pub"), &t), "JWT_ALG_NOT_ALLOWED");
    let mut any = pem("rsa.pub");
    any.algorithms = Some(vec!["HS256".into()]);
    assert_eq!(code(&any, &t), "JWT_KEY_NOT_FOUND");
}

#[test]
fn allow_list_is_enforced() {
    let mut o = secret();
    o.algorithms = Some(vec!["HS512".into()]);
    assert_eq!(code(&o, &token("HS256", &claims())), "JWT_ALG_NOT_ALLOWED");
    let t = sign(&json!({ "alg": "PS256" }), &claims(), "none");
    assert_eq!(code(&secret(), &t), "JWT_ALG_NOT_ALLOWED");
    o.algorithms = Some(vec!["XX1".into()]);
    assert_eq!(Verifier::new(&o).unwrap_err().code(), "INVALID_CONFIG");
    o.algorithms = Some(vec![]);
    assert_eq!(Verifier::new(&o).unwrap_err().code(), "INVALID_CONFIG");
}

#[test]
fn time_claims() {
    let v = Verifier::new(&secret()).unwrap();
    let at = |exp: i64| token("HS256", &json!({ "exp": exp }));
    assert_eq!(v.verify(&at(NOW), NOW).unwrap_err().code(), "JWT_EXPIRED");
    assert_eq!(
        v.verify(&at(NOW - 1), NOW).unwrap_err().code(),
        "JWT_EXPIRED"
    );
    assert!(v.verify(&at(NOW + 1), NOW).is_ok());
    let nbf = token("HS256", &json!({ "nbf": NOW + 10 }));
    assert_eq!(v.verify(&nbf, NOW).unwrap_err().code(), "JWT_NOT_YET_VALID");
    assert!(v.verify(&nbf, NOW + 10).is_ok());
    let float_exp = token("HS256", &json!({ "exp": (NOW as f64) + 0.5 }));
    assert!(v.verify(&float_exp, NOW - 1).is_ok());
    let string_exp = token("HS256", &json!({ "exp": "tomorrow" }));
    assert_eq!(
        v.verify(&string_exp, NOW).unwrap_err().code(),
        "JWT_BAD_CLAIM"
    );
}

#[test]
fn leeway_applies_to_exp_and_nbf() {
    let mut o = secret();
    o.leeway = Some(30);
    let v = Verifier::new(&o).unwrap();
    assert!(v
        .verify(&token("HS256", &json!({ "exp": NOW - 29 })), NOW)
        .is_ok());
    assert!(v
        .verify(&token("HS256", &json!({ "exp": NOW - 30 })), NOW)
        .is_err());
    assert!(v
        .verify(&token("HS256", &json!({ "nbf": NOW + 30 })), NOW)
        .is_ok());
    assert!(v
        .verify(&token("HS256", &json!({ "nbf": NOW + 31 })), NOW)
        .is_err());
}

#[test]
fn audience_and_issuer() {
    let mut o = secret();
    o.audience = Some(OneOrMany::Many(vec!["api".into(), "web".into()]));
    o.issuer = Some(OneOrMany::One("https://issuer".into()));
    let v = Verifier::new(&o).unwrap();
    let ok = token(
        "HS256",
        &json!({ "aud": ["x", "web"], "iss": "https://issuer" }),
    );
    assert!(v.verify(&ok, NOW).is_ok());
    let ok1 = token("HS256", &json!({ "aud": "api", "iss": "https://issuer" }));
    assert!(v.verify(&ok1, NOW).is_ok());
    let bad_aud = token("HS256", &json!({ "aud": "other", "iss": "https://issuer" }));
    assert_eq!(
        v.verify(&bad_aud, NOW).unwrap_err().code(),
        "JWT_BAD_AUDIENCE"
    );
    let no_aud = token("HS256", &json!({ "iss": "https://issuer" }));
    assert_eq!(
        v.verify(&no_aud, NOW).unwrap_err().code(),
        "JWT_BAD_AUDIENCE"
    );
    let bad_iss = token("HS256", &json!({ "aud": "api", "iss": "https://evil" }));
    assert_eq!(
        v.verify(&bad_iss, NOW).unwrap_err().code(),
        "JWT_BAD_ISSUER"
    );
}

#[test]
fn malformed_tokens() {
    let v = Verifier::new(&secret()).unwrap();
    for t in [
        "",
        "a.b",
        "a.b.c.d",
        "!!.e30.",
        "e30.!!.",
        "W10.e30.",
        "e30.e30.!!",
    ] {
        assert_eq!(
            v.verify(t, NOW).unwrap_err().code(),
            "JWT_MALFORMED",
            "{t:?}"
        );
    }
    let crit = sign(
        &json!({ "alg": "HS256", "crit": ["exp"] }),
        &claims(),
        "HS256",
    );
    assert_eq!(v.verify(&crit, NOW).unwrap_err().code(), "JWT_MALFORMED");
}

#[test]
fn key_errors() {
    assert_eq!(
        Verifier::new(&VerifyOptions::default()).unwrap_err().code(),
        "JWT_NO_KEYS"
    );
    let bad_pem = VerifyOptions {
        public_key: Some("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----".into()),
        ..VerifyOptions::default()
    };
    assert_eq!(
        Verifier::new(&bad_pem).unwrap_err().code(),
        "JWT_INVALID_KEY"
    );
    assert_eq!(
        Verifier::new(&pem("rsa1024.pub")).unwrap_err().code(),
        "JWT_INVALID_KEY"
    );
    let short = VerifyOptions {
        secret: Some("short".into()),
        ..VerifyOptions::default()
    };
    // Refused when the options are read, not at the first token.
    let err = Verifier::new(&short).unwrap_err();
    assert_eq!(err.code(), "JWT_INVALID_KEY");
    assert!(err.to_string().contains("`secret` has 5 bytes"), "{err}");
}

fn jwks() -> serde_json::Value {
    // Public halves of the fixture keys, as a JWKS (values computed by `openssl`).
    serde_json::from_str(&fixture("jwks.json")).unwrap()
}

#[test]
fn jwks_selects_by_kid_and_type() {
    let opts = VerifyOptions {
        jwks: Some(JwksInput::Document(jwks())),
        ..VerifyOptions::default()
    };
    let v = Verifier::new(&opts).unwrap();
    for (alg, kid) in [("RS256", "rsa-1"), ("ES256", "ec-1"), ("EdDSA", "ed-1")] {
        let h = json!({ "alg": alg, "kid": kid });
        assert!(v.verify(&sign(&h, &claims(), alg), NOW).is_ok(), "{alg}");
    }
    let no_kid = token("ES256", &claims());
    assert!(v.verify(&no_kid, NOW).is_ok());
    let wrong_kid = sign(
        &json!({ "alg": "RS256", "kid": "nope" }),
        &claims(),
        "RS256",
    );
    assert_eq!(
        v.verify(&wrong_kid, NOW).unwrap_err().code(),
        "JWT_KEY_NOT_FOUND"
    );
    let mismatched = sign(
        &json!({ "alg": "RS256", "kid": "ec-1" }),
        &claims(),
        "RS256",
    );
    assert_eq!(
        v.verify(&mismatched, NOW).unwrap_err().code(),
        "JWT_KEY_NOT_FOUND"
    );
    let text = VerifyOptions {
        jwks: Some(JwksInput::Text(jwks().to_string())),
        ..VerifyOptions::default()
    };
    assert!(Verifier::new(&text).unwrap().verify(&no_kid, NOW).is_ok());
}

#[test]
fn jwks_errors() {
    let cases = [
        json!({}),
        json!({ "keys": [] }),
        json!({ "keys": [{ "kty": "RSA", "n": "AQAB" }] }),
        json!({ "keys": [{ "kty": "EC", "crv": "P-384", "x": "", "y": "" }] }),
        json!({ "keys": [{ "kty": "XYZ" }] }),
        json!({ "keys": [{ "kty": "oct", "k": "c2VjcmV0", "alg": "RS256" }] }),
    ];
    for doc in cases {
        let o = VerifyOptions {
            jwks: Some(JwksInput::Document(doc.clone())),
            ..VerifyOptions::default()
        };
        assert_eq!(
            Verifier::new(&o).unwrap_err().code(),
            "JWT_INVALID_KEY",
            "{doc}"
        );
    }
    let text = VerifyOptions {
        jwks: Some(JwksInput::Text("{not json".into())),
        ..VerifyOptions::default()
    };
    assert_eq!(Verifier::new(&text).unwrap_err().code(), "INVALID_CONFIG");
}

#[test]
fn unverified_decoding_reads_payload() {
    let t = token("HS256", &claims());
    assert_eq!(decode_unverified(&t).unwrap()["sub"], "u1");
    let utf8 = token("HS256", &json!({ "name": "Müller" }));
    assert_eq!(decode_unverified(&utf8).unwrap()["name"], "Müller");
}

#[test]
fn bearer_token_reads_one_word_after_the_scheme() {
    assert_eq!(bearer_token("Bearer abc.def.ghi"), Some("abc.def.ghi"));
    assert_eq!(bearer_token("  bearer \t abc  "), Some("abc"));
    assert_eq!(bearer_token("BEARER abc"), Some("abc"));
    for bad in [
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearerabc",
        "Bearer a b",
        "Token abc",
    ] {
        assert_eq!(bearer_token(bad), None, "{bad:?}");
    }
}

#[test]
fn bearer_claim_decodes_or_verifies_and_never_accepts_alg_none() {
    let good = token("HS256", &claims());
    let header = format!("Bearer {good}");
    assert_eq!(
        bearer_claim(&header, "sub", None, NOW).unwrap().as_deref(),
        Some("u1")
    );
    assert_eq!(
        bearer_claim(&header, "sub", Some(&secret()), NOW)
            .unwrap()
            .as_deref(),
        Some("u1")
    );
    // Wrong key, expired, missing or non-string claim, no token: no value, not an error.
    let wrong = VerifyOptions {
        secret: Some("another-secret-of-enough-length-0123456789".into()),
        ..VerifyOptions::default()
    };
    assert_eq!(
        bearer_claim(&header, "sub", Some(&wrong), NOW).unwrap(),
        None
    );
    assert_eq!(
        bearer_claim(&header, "sub", Some(&secret()), NOW + 3600).unwrap(),
        None
    );
    assert_eq!(bearer_claim(&header, "missing", None, NOW).unwrap(), None);
    assert_eq!(bearer_claim(&header, "exp", None, NOW).unwrap(), None);
    assert_eq!(bearer_claim("Basic abc", "sub", None, NOW).unwrap(), None);
    let none = sign(&json!({ "alg": "none" }), &claims(), "none");
    assert_eq!(
        bearer_claim(&format!("Bearer {none}"), "sub", None, NOW).unwrap(),
        None
    );
    // A bad key is the caller's configuration error, reported even without a token.
    let unusable = VerifyOptions {
        public_key: Some("not a pem".into()),
        ..VerifyOptions::default()
    };
    assert!(bearer_claim("", "sub", Some(&unusable), NOW).is_err());
}
