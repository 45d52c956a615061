//! Resolution order and every strategy rule, through the public `Resolver`.

use std::collections::BTreeMap;

use serde_json::json;
use usebetter_core::jwt::VerifyOptions;
use usebetter_core::resolve::{
    HeaderValue, IdKind, JwtConfig, JwtDetails, PathConfig, Request, Resolver, ResolverConfig,
    Strategy, SubdomainConfig,
};

use crate::support::{token, NOW, SECRET};

const UUID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

fn all() -> ResolverConfig {
    ResolverConfig {
        header: Some("X-Tenant-ID".into()),
        path: Some(PathConfig::Pattern("/t/:tenantId/*".into())),
        subdomain: Some(SubdomainConfig::Enabled(true)),
        jwt: Some(JwtConfig::Detailed(Box::new(JwtDetails {
            claim: "tenant_id".into(),
            unverified: false,
            verify: VerifyOptions {
                secret: Some(SECRET.into()),
                ..VerifyOptions::default()
            },
        }))),
        custom: false,
        resolve_to_id: false,
    }
}

fn req(headers: &[(&str, &str)], host: Option<&str>, path: Option<&str>) -> Request {
    Request {
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), HeaderValue::One((*v).to_owned())))
            .collect::<BTreeMap<_, _>>(),
        host: host.map(str::to_owned),
        path: path.map(str::to_owned),
        ..Request::default()
    }
}

fn resolve(cfg: &ResolverConfig, r: &Request) -> (Option<String>, Option<Strategy>) {
    let out = Resolver::new(cfg).unwrap().resolve(r, NOW);
    (out.value, out.strategy)
}

fn bearer(claims: &serde_json::Value) -> String {
    format!("Bearer {}", token("HS256", claims))
}

#[test]
fn order_is_header_path_subdomain_jwt() {
    let jwt = bearer(&json!({ "tenant_id": "from-jwt" }));
    let everything = req(
        &[("x-tenant-id", "from-header"), ("authorization", &jwt)],
        Some("from-host.example.com"),
        Some("/t/from-path/x"),
    );
    assert_eq!(resolve(&all(), &everything).1, Some(Strategy::Header));
    let no_header = req(
        &[("authorization", &jwt)],
        Some("from-host.example.com"),
        Some("/t/from-path/x"),
    );
    assert_eq!(
        resolve(&all(), &no_header),
        (Some("from-path".into()), Some(Strategy::Path))
    );
    let no_path = req(
        &[("authorization", &jwt)],
        Some("from-host.example.com"),
        Some("/api/x"),
    );
    assert_eq!(
        resolve(&all(), &no_path),
        (Some("from-host".into()), Some(Strategy::Subdomain))
    );
    let only_jwt = req(
        &[("authorization", &jwt)],
        Some("localhost:3000"),
        Some("/api/x"),
    );
    assert_eq!(
        resolve(&all(), &only_jwt),
        (Some("from-jwt".into()), Some(Strategy::Jwt))
    );
    assert_eq!(resolve(&all(), &req(&[], None, None)), (None, None));
}

#[test]
fn header_is_case_insensitive_trimmed_and_first_of_many() {
    let cfg = ResolverConfig {
        header: Some("x-tenant-id".into()),
        ..ResolverConfig::default()
    };
    assert_eq!(
        resolve(&cfg, &req(&[("X-Tenant-Id", "  acme  ")], None, None))
            .0
            .as_deref(),
        Some("acme")
    );
    let mut many = Request::default();
    many.headers.insert(
        "x-tenant-id".into(),
        HeaderValue::Many(vec!["a1".into(), "b2".into()]),
    );
    assert_eq!(resolve(&cfg, &many).0.as_deref(), Some("a1"));
    assert_eq!(
        resolve(&cfg, &req(&[("x-tenant-id", "   ")], None, None)).0,
        None
    );
}

#[test]
fn uuids_are_lower_cased_and_classified() {
    let cfg = ResolverConfig {
        header: Some("x-tenant-id".into()),
        ..ResolverConfig::default()
    };
    let out = Resolver::new(&cfg).unwrap().resolve(
        &req(&[("x-tenant-id", &UUID.to_uppercase())], None, None),
        NOW,
    );
    assert_eq!(out.value.as_deref(), Some(UUID));
    assert_eq!(out.kind, Some(IdKind::Uuid));
    let slug = Resolver::new(&cfg)
        .unwrap()
        .resolve(&req(&[("x-tenant-id", "acme")], None, None), NOW);
    assert_eq!(slug.kind, Some(IdKind::Slug));
}

#[test]
fn invalid_values_are_rejected_and_resolution_continues() {
    let mut cfg = all();
    cfg.path = None;
    let r = req(
        &[("x-tenant-id", "bad value!")],
        Some("acme.example.com"),
        None,
    );
    let out = Resolver::new(&cfg).unwrap().resolve(&r, NOW);
    assert_eq!(out.value.as_deref(), Some("acme"));
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].strategy, Strategy::Header);
    assert_eq!(out.rejected[0].code, "TENANT_INVALID_ID");
}

#[test]
fn with_resolve_to_id_candidates_are_raw_and_unvalidated() {
    let cfg = ResolverConfig {
        header: Some("x-tenant-id".into()),
        path: Some(PathConfig::Pattern("/t/:tenantId".into())),
        resolve_to_id: true,
        ..ResolverConfig::default()
    };
    let r = Resolver::new(&cfg).unwrap();
    let domain = r.resolve(&req(&[("x-tenant-id", "  Acme.Example ")], None, None), NOW);
    assert_eq!(domain.value.as_deref(), Some("Acme.Example"));
    assert_eq!(domain.kind, None);
    assert!(domain.rejected.is_empty());
    let upper = UUID.to_uppercase();
    let uuid = r.resolve(&req(&[("x-tenant-id", &upper)], None, None), NOW);
    assert_eq!(
        (uuid.value.as_deref(), uuid.kind),
        (Some(upper.as_str()), None)
    );
    // A blank value is no candidate; the next strategy is tried.
    let blank = r.resolve(
        &req(&[("x-tenant-id", " ")], None, Some("/t/ac%20me%20")),
        NOW,
    );
    assert_eq!(blank.value.as_deref(), Some("ac me"));
    assert_eq!(blank.strategy, Some(Strategy::Path));
    // Without the callback the same values are validated.
    let plain = ResolverConfig {
        resolve_to_id: false,
        ..cfg
    };
    let refused = Resolver::new(&plain)
        .unwrap()
        .resolve(&req(&[("x-tenant-id", "acme.example")], None, None), NOW);
    assert_eq!(refused.value, None);
    assert_eq!(refused.rejected[0].code, "TENANT_INVALID_ID");
}

#[test]
fn path_literals_must_match_and_segments_are_decoded() {
    let cfg = ResolverConfig {
        path: Some(PathConfig::Pattern("/t/:tenantId/*".into())),
        ..ResolverConfig::default()
    };
    assert_eq!(resolve(&cfg, &req(&[], None, Some("/other/acme"))).0, None);
    assert_eq!(
        resolve(&cfg, &req(&[], None, Some("/t/ac%6De/projects")))
            .0
            .as_deref(),
        Some("acme")
    );
    let from_url = Request {
        url: Some("https://x.example.com/t/acme?x=1".into()),
        ..Request::default()
    };
    assert_eq!(resolve(&cfg, &from_url).0.as_deref(), Some("acme"));
    let spaced = Resolver::new(&cfg)
        .unwrap()
        .resolve(&req(&[], None, Some("/t/ac%20me")), NOW);
    assert_eq!(spaced.value, None);
    assert_eq!(spaced.rejected[0].code, "TENANT_INVALID_ID");
    let indexed = ResolverConfig {
        path: Some(PathConfig::Detailed {
            pattern: "/org/:org/*".into(),
            segment_index: Some(1),
        }),
        ..ResolverConfig::default()
    };
    assert_eq!(
        resolve(&indexed, &req(&[], None, Some("/org/acme/x")))
            .0
            .as_deref(),
        Some("acme")
    );
}

#[test]
fn subdomain_rules() {
    let cfg = ResolverConfig {
        subdomain: Some(SubdomainConfig::Enabled(true)),
        ..ResolverConfig::default()
    };
    let host = |h: &str| resolve(&cfg, &req(&[], Some(h), None)).0;
    assert_eq!(host("Acme.Example.com:8080").as_deref(), Some("acme"));
    for h in [
        "www.example.com",
        "example.com",
        "localhost",
        "127.0.0.1",
        "[::1]:3000",
        "10.0.0.1:80",
    ] {
        assert_eq!(host(h), None, "{h}");
    }
    let from_url = Request {
        url: Some("http://acme.example.com/x".into()),
        ..Request::default()
    };
    assert_eq!(resolve(&cfg, &from_url).0.as_deref(), Some("acme"));
    let from_header = req(&[("host", "acme.example.com")], None, None);
    assert_eq!(resolve(&cfg, &from_header).0.as_deref(), Some("acme"));
    let relative = Request {
        url: Some("/relative".into()),
        ..Request::default()
    };
    assert_eq!(resolve(&cfg, &relative).0, None);
    let off = ResolverConfig {
        header: Some("x-tenant-id".into()),
        subdomain: Some(SubdomainConfig::Enabled(false)),
        ..ResolverConfig::default()
    };
    assert_eq!(
        resolve(&off, &req(&[], Some("acme.example.com"), None)).0,
        None
    );
    let second = ResolverConfig {
        subdomain: Some(SubdomainConfig::Detailed {
            segment_index: Some(1),
        }),
        ..ResolverConfig::default()
    };
    assert_eq!(
        resolve(&second, &req(&[], Some("eu.acme.example.com"), None))
            .0
            .as_deref(),
        Some("acme")
    );
}

#[test]
fn jwt_verified_claims_only() {
    let cfg = all();
    let r = |auth: &str| req(&[("authorization", auth)], None, None);
    let good = bearer(&json!({ "tenant_id": UUID.to_uppercase(), "exp": NOW + 5 }));
    assert_eq!(resolve(&cfg, &r(&good)).0.as_deref(), Some(UUID));
    let lower_scheme = good.replacen("Bearer", "bearer", 1);
    assert_eq!(resolve(&cfg, &r(&lower_scheme)).0.as_deref(), Some(UUID));
    let expired = bearer(&json!({ "tenant_id": "acme", "exp": NOW - 5 }));
    let out = Resolver::new(&cfg).unwrap().resolve(&r(&expired), NOW);
    assert_eq!((out.value, out.rejected[0].code), (None, "JWT_EXPIRED"));
    for claims in [
        json!({}),
        json!({ "tenant_id": "" }),
        json!({ "tenant_id": 42 }),
    ] {
        let out = Resolver::new(&cfg)
            .unwrap()
            .resolve(&r(&bearer(&claims)), NOW);
        assert_eq!(out.rejected[0].code, "JWT_CLAIM_MISSING", "{claims}");
    }
    assert_eq!(resolve(&cfg, &r("Basic abc")).0, None);
    let explicit = Request {
        token: Some(token("HS256", &json!({ "tenant_id": "acme" }))),
        ..Request::default()
    };
    assert_eq!(resolve(&cfg, &explicit).0.as_deref(), Some("acme"));
}

#[test]
fn jwt_without_keys_fails_closed_unless_unverified_is_chosen() {
    let claim_only = ResolverConfig {
        jwt: Some(JwtConfig::Claim("tenant_id".into())),
        ..ResolverConfig::default()
    };
    let r = req(
        &[("authorization", &bearer(&json!({ "tenant_id": "acme" })))],
        None,
        None,
    );
    let out = Resolver::new(&claim_only).unwrap().resolve(&r, NOW);
    assert_eq!((out.value, out.rejected[0].code), (None, "JWT_NO_KEYS"));
    let unverified = ResolverConfig {
        jwt: Some(JwtConfig::Detailed(Box::new(JwtDetails {
            claim: "tenant_id".into(),
            unverified: true,
            ..JwtDetails::default()
        }))),
        ..ResolverConfig::default()
    };
    let resolver = Resolver::new(&unverified).unwrap();
    assert!(resolver.jwt_unverified());
    assert_eq!(resolver.resolve(&r, NOW).value.as_deref(), Some("acme"));
    let pre_verified = Request {
        claims: Some(json!({ "tenant_id": "acme" }).as_object().unwrap().clone()),
        ..Request::default()
    };
    assert_eq!(
        resolve(&claim_only, &pre_verified).0.as_deref(),
        Some("acme")
    );
}

#[test]
fn config_errors_name_the_field() {
    let bad = [
        (
            ResolverConfig {
                header: Some(" ".into()),
                ..ResolverConfig::default()
            },
            "tenantResolver.header",
        ),
        (
            ResolverConfig {
                path: Some(PathConfig::Pattern("t/:tenantId".into())),
                ..ResolverConfig::default()
            },
            "tenantResolver.path",
        ),
        (
            ResolverConfig {
                jwt: Some(JwtConfig::Claim(String::new())),
                ..ResolverConfig::default()
            },
            "tenantResolver.jwt.claim",
        ),
        (
            ResolverConfig::default(),
            "`tenantResolver`: expected at least one strategy",
        ),
        (
            ResolverConfig {
                subdomain: Some(SubdomainConfig::Enabled(false)),
                ..ResolverConfig::default()
            },
            "`tenantResolver`: expected at least one strategy",
        ),
        (
            ResolverConfig {
                header: Some("x-tenant\nid".into()),
                ..ResolverConfig::default()
            },
            "`tenantResolver.header`: expected a header name",
        ),
        (
            ResolverConfig {
                path: Some(PathConfig::Pattern("/t/*".into())),
                ..ResolverConfig::default()
            },
            "`tenantResolver.path`",
        ),
        (
            ResolverConfig {
                path: Some(PathConfig::Pattern("/t/:/*".into())),
                ..ResolverConfig::default()
            },
            "`tenantResolver.path`",
        ),
    ];
    for (cfg, field) in bad {
        let err = Resolver::new(&cfg).unwrap_err();
        assert_eq!(err.code(), "INVALID_CONFIG");
        assert!(err.to_string().contains(field), "{err}");
    }
    let both = ResolverConfig {
        jwt: Some(JwtConfig::Detailed(Box::new(JwtDetails {
            claim: "t".into(),
            unverified: true,
            verify: VerifyOptions {
                secret: Some(SECRET.into()),
                ..VerifyOptions::default()
            },
        }))),
        ..ResolverConfig::default()
    };
    assert_eq!(Resolver::new(&both).unwrap_err().code(), "INVALID_CONFIG");
}
