//! Standard Webhooks vectors (spec W1) and the receiver's rejections.

use usebetter_core::webhooks::keys::{generate_secret, parse_signing_key, Scheme};
use usebetter_core::webhooks::sign::{sign_webhook, signature_header};
use usebetter_core::webhooks::verify::{verify_webhook, VerifyOptions};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: i64 = 1_614_265_330;
const BODY: &str = r#"{"test": 2432232314}"#;
const V1: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const SEED32: &str = "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTE=";
const SEED64: &str =
    "whsk_V0VCSE9PS0FTWU1NRVRSSUNURVNUUFJJVkFURUtFWTHitBmOOQKefib9yJgFpE9JlMD5j9TCqAPqGDE6WUXbyA==";
const PUBLIC: &str = "whpk_4rQZjjkCnn4m/ciYBaRPSZTA+Y/UwqgD6hgxOllF28g=";
const V1A: &str =
    "v1a,wY2SZc3TRkb1YQ3GVtlawNyAeN6SEYiztr+FExZJzpEd7BY8kO2olVTahf5NW2nn86HK/3ZM9G2VRPMiA51jDA==";

fn headers(id: &str, ts: &str, sig: &str) -> Vec<(String, String)> {
    vec![
        ("webhook-id".into(), id.into()),
        ("webhook-timestamp".into(), ts.into()),
        ("webhook-signature".into(), sig.into()),
    ]
}

fn opts(secret: &str, now: i64) -> VerifyOptions {
    VerifyOptions {
        secret: Some(secret.into()),
        now,
        ..VerifyOptions::default()
    }
}

#[test]
fn upstream_v1_vectors() {
    // libraries/javascript/src/webhook.test.ts ("sign function works").
    assert_eq!(sign_webhook(ID, TS, BODY.as_bytes(), SECRET).unwrap(), V1);
    // libraries/rust/src/lib.rs (test_sign).
    assert_eq!(
        sign_webhook(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        )
        .unwrap(),
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
    );
    let v = verify_webhook(
        &headers(ID, "1614265330", V1),
        BODY.as_bytes(),
        &opts(SECRET, TS),
    )
    .unwrap();
    assert_eq!((v.id.as_str(), v.timestamp), (ID, TS));
}

#[test]
fn v1a_vector_in_both_secret_forms() {
    for secret in [SEED32, SEED64] {
        assert_eq!(sign_webhook(ID, TS, BODY.as_bytes(), secret).unwrap(), V1A);
    }
    let key = parse_signing_key("secret", SEED32).unwrap();
    assert_eq!(key.public_key().as_deref(), Some(PUBLIC));
    let o = VerifyOptions {
        public_key: Some(PUBLIC.into()),
        now: TS,
        ..VerifyOptions::default()
    };
    assert!(verify_webhook(&headers(ID, "1614265330", V1A), BODY.as_bytes(), &o).is_ok());
    let mut tampered = BODY.as_bytes().to_vec();
    tampered[3] ^= 1;
    assert_eq!(
        verify_webhook(&headers(ID, "1614265330", V1A), &tampered, &o)
            .unwrap_err()
            .code(),
        "WEBHOOK_BAD_SIGNATURE"
    );
}

#[test]
fn rotation_signs_with_every_live_key() {
    let old = parse_signing_key("s", SECRET).unwrap();
    let new = parse_signing_key("s", SEED64).unwrap();
    let header = signature_header(&[new, old], ID, TS, BODY.as_bytes()).unwrap();
    assert_eq!(header, format!("{V1A} {V1}"));
    // Each key verifies on its own.
    assert!(verify_webhook(
        &headers(ID, "1614265330", &header),
        BODY.as_bytes(),
        &opts(SECRET, TS)
    )
    .is_ok());
    let o = VerifyOptions {
        keys: vec![PUBLIC.into()],
        now: TS,
        ..VerifyOptions::default()
    };
    assert!(verify_webhook(&headers(ID, "1614265330", &header), BODY.as_bytes(), &o).is_ok());
}

#[test]
fn receiver_rejections() {
    let code = |h: &[(String, String)], body: &[u8], o: &VerifyOptions| {
        verify_webhook(h, body, o).unwrap_err().code()
    };
    let good = headers(ID, "1614265330", V1);
    for missing in 0..3 {
        let mut h = good.clone();
        let name = h.remove(missing).0;
        let e = verify_webhook(&h, BODY.as_bytes(), &opts(SECRET, TS)).unwrap_err();
        assert_eq!(e.code(), "WEBHOOK_MISSING_HEADER");
        assert!(e.to_string().contains(&name), "{e}");
    }
    assert_eq!(
        code(
            &headers(ID, "hello", V1),
            BODY.as_bytes(),
            &opts(SECRET, TS)
        ),
        "WEBHOOK_BAD_TIMESTAMP"
    );
    assert_eq!(
        code(&headers(ID, "-5", V1), BODY.as_bytes(), &opts(SECRET, TS)),
        "WEBHOOK_BAD_TIMESTAMP"
    );
    // Tolerance 300 s: 301 s either way is refused, 300 s accepted.
    assert_eq!(
        code(&good, BODY.as_bytes(), &opts(SECRET, TS + 301)),
        "WEBHOOK_TIMESTAMP_TOO_OLD"
    );
    assert_eq!(
        code(&good, BODY.as_bytes(), &opts(SECRET, TS - 301)),
        "WEBHOOK_TIMESTAMP_TOO_NEW"
    );
    assert!(verify_webhook(&good, BODY.as_bytes(), &opts(SECRET, TS + 300)).is_ok());
    assert!(verify_webhook(&good, BODY.as_bytes(), &opts(SECRET, TS - 300)).is_ok());
    for sig in [
        "v1,",
        "",
        "v1,dawfeoifkpqwoekfpqoekf",
        &V1[..8],
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ] {
        assert_eq!(
            code(
                &headers(ID, "1614265330", sig),
                BODY.as_bytes(),
                &opts(SECRET, TS)
            ),
            "WEBHOOK_BAD_SIGNATURE",
            "{sig}"
        );
    }
    let mut body = BODY.as_bytes().to_vec();
    body[5] ^= 1;
    assert_eq!(
        code(&good, &body, &opts(SECRET, TS)),
        "WEBHOOK_BAD_SIGNATURE"
    );
    let other = generate_secret(Scheme::V1, &[42; 32]).unwrap().secret;
    assert_eq!(
        code(&good, BODY.as_bytes(), &opts(&other, TS)),
        "WEBHOOK_BAD_SIGNATURE"
    );
    // Another id under the same signature fails: the id is signed.
    assert_eq!(
        code(
            &headers("msg_other", "1614265330", V1),
            BODY.as_bytes(),
            &opts(SECRET, TS)
        ),
        "WEBHOOK_BAD_SIGNATURE"
    );
    let none = VerifyOptions {
        now: TS,
        ..VerifyOptions::default()
    };
    assert_eq!(code(&good, BODY.as_bytes(), &none), "WEBHOOK_INVALID_KEY");
    let bad_pk = VerifyOptions {
        public_key: Some(SECRET.into()),
        now: TS,
        ..VerifyOptions::default()
    };
    assert_eq!(code(&good, BODY.as_bytes(), &bad_pk), "WEBHOOK_INVALID_KEY");
}

#[test]
fn accepts_any_good_entry_and_svix_headers() {
    let list = format!("v1,Zm9v v2,eA== {V1}");
    assert!(verify_webhook(
        &headers(ID, "1614265330", &list),
        BODY.as_bytes(),
        &opts(SECRET, TS)
    )
    .is_ok());
    let svix = vec![
        ("Svix-Id".to_owned(), ID.to_owned()),
        ("SVIX-TIMESTAMP".to_owned(), "1614265330".to_owned()),
        ("svix-signature".to_owned(), V1.to_owned()),
    ];
    assert!(verify_webhook(&svix, BODY.as_bytes(), &opts(SECRET, TS)).is_ok());
    // Unprefixed secrets are HMAC keys, as in the upstream libraries.
    assert!(verify_webhook(
        &headers(ID, "1614265330", V1),
        BODY.as_bytes(),
        &opts("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", TS)
    )
    .is_ok());
}
