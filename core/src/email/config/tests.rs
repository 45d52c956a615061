use serde_json::json;

use super::*;

const KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

fn minimal() -> Value {
    json!({ "from": "Acme <hello@acme.example>", "transports": ["resend"], "categories": { "notifications": { "unsubscribe": false }, "marketing": { "unsubscribe": false } } })
}

fn with(extra: Value) -> Value {
    let mut v = minimal();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn err(config: Value) -> EmailError {
    parse(&config, true).unwrap_err()
}

#[test]
fn defaults() {
    let c = parse(&minimal(), true).unwrap();
    let s = &c.settings;
    assert_eq!(s.from, "Acme <hello@acme.example>");
    assert_eq!(s.max_recipients, 50);
    assert_eq!(s.max_message_bytes, 10_485_760);
    assert_eq!(s.idempotency_window_ms, 30 * 86_400_000);
    assert_eq!(s.render, Render::Enqueue);
    assert_eq!(s.on_ambiguous, OnAmbiguous::Retry);
    assert!(s.require_transaction);
    assert_eq!((s.bodies_days, s.metadata_days), (7, 90));
    assert_eq!(c.retry.delays(), &DEFAULT_RETRY_SECS);
    let t = &s.categories["transactional"];
    assert_eq!(
        (t.unsubscribe, t.priority, t.expires_after_ms),
        (false, Priority::High, Some(86_400_000))
    );
    assert_eq!(s.categories["marketing"].expires_after_ms, None);
    assert_eq!(s.suppression.hard_bounce, Scope::Global);
    assert_eq!(s.suppression.complaint, Scope::Tenant);
    assert_eq!(s.suppression.soft_bounce_count, 3);
    assert_eq!(s.tenancy, Tenancy::Rls);
}

#[test]
fn unknown_and_missing_keys_are_named() {
    let e = err(with(json!({ "maxRecipent": 5 })));
    assert_eq!(e.code(), "EMAIL_INVALID_CONFIG");
    assert_eq!(
        e.to_string(),
        "invalid `maxRecipent`: expected one of the documented keys (unknown key `maxRecipent`)"
    );
    let e = err(with(
        json!({ "categories": { "news": { "priority": "urgent" } } }),
    ));
    assert!(
        e.to_string()
            .starts_with("invalid `categories.news.priority`"),
        "{e}"
    );
    let e = err(json!({ "transports": ["smtp"] }));
    assert!(e.to_string().starts_with("invalid `from`"), "{e}");
    let e = err(json!({ "from": "a@b.example" }));
    assert!(e.to_string().starts_with("invalid `transport`"), "{e}");
    // The CLI's section may leave both out.
    assert!(parse(&json!({}), false).is_ok());
}

#[test]
fn unsubscribable_categories_need_the_handler_and_a_key() {
    let e = err(json!({ "from": "a@b.example", "transports": ["t"] }));
    assert_eq!(e.code(), "EMAIL_INVALID_CONFIG");
    assert!(
        e.to_string()
            .contains("category `marketing` is unsubscribable"),
        "{e}"
    );
    let ok = json!({ "from": "a@b.example", "transports": ["t"], "unsubscribe": { "baseUrl": "https://app.example/u" }, "secretsKey": KEY });
    let c = parse(&ok, true).unwrap();
    assert_eq!(
        c.settings.unsubscribe_base_url.as_deref(),
        Some("https://app.example/u")
    );
    assert!(c.settings.has_secrets_key);
    let e = err(
        json!({ "from": "a@b.example", "transports": ["t"], "unsubscribe": { "baseUrl": "ftp://x" }, "secretsKey": KEY }),
    );
    assert!(
        e.to_string().starts_with("invalid `unsubscribe.baseUrl`"),
        "{e}"
    );
    let e = err(with(json!({ "secretsKey": "c2hvcnQ=" })));
    assert!(e.to_string().starts_with("invalid `secretsKey`"), "{e}");
}

#[test]
fn categories_and_templates() {
    let c = parse(
        &with(json!({
            "categories": { "notifications": { "unsubscribe": false, "expiresAfter": null }, "marketing": { "unsubscribe": false, "listId": "news.acme.example" }, "digest": { "priority": "low", "expiresAfter": "2d" } },
            "templates": { "welcome": {}, "weekly": { "category": "digest" } }
        })),
        true,
    )
    .unwrap();
    let s = &c.settings;
    assert_eq!(s.categories["notifications"].expires_after_ms, None);
    assert_eq!(s.categories["notifications"].priority, Priority::Normal);
    assert_eq!(
        s.categories["marketing"].list_id.as_deref(),
        Some("news.acme.example")
    );
    assert_eq!(
        s.categories["digest"].expires_after_ms,
        Some(2 * 86_400_000)
    );
    assert_eq!(s.templates["welcome"], "transactional");
    assert_eq!(s.templates["weekly"], "digest");
    let e = err(with(
        json!({ "templates": { "weekly": { "category": "digets" } } }),
    ));
    assert!(
        e.to_string()
            .starts_with("invalid `templates.weekly.category`: expected one of the categories"),
        "{e}"
    );
    let e = err(with(
        json!({ "categories": { "news": { "expiresAfter": "soon" } } }),
    ));
    assert!(
        e.to_string()
            .starts_with("invalid `categories.news.expiresAfter`"),
        "{e}"
    );
    let e = err(with(json!({ "categories": { "bad name": {} } })));
    assert!(
        e.to_string().starts_with("invalid `categories.bad name`"),
        "{e}"
    );
    let e = err(with(
        json!({ "categories": { "marketing": { "unsubscribe": false, "listId": "a b" } } }),
    ));
    assert!(
        e.to_string()
            .starts_with("invalid `categories.marketing.listId`"),
        "{e}"
    );
}

#[test]
fn ranges() {
    for (extra, field) in [
        (json!({ "maxRecipients": 0 }), "maxRecipients"),
        (json!({ "maxRecipients": 1001 }), "maxRecipients"),
        (json!({ "maxMessageBytes": 10 }), "maxMessageBytes"),
        (json!({ "retrySchedule": [] }), "retrySchedule"),
        (json!({ "retrySchedule": [-1] }), "retrySchedule"),
        (json!({ "idempotencyWindow": "0d" }), "idempotencyWindow"),
        (
            json!({ "retention": { "bodiesDays": 100, "metadataDays": 30 } }),
            "retention.bodiesDays",
        ),
        (
            json!({ "rateLimits": { "perTenant": { "perMinute": 0 } } }),
            "rateLimits.perTenant.perMinute",
        ),
        (
            json!({ "warmup": [{ "domain": "mail.acme.example", "startPerDay": 50, "factor": 20, "maxPerDay": 1000 }] }),
            "warmup[0].factor",
        ),
        (
            json!({ "warmup": [{ "domain": "mail acme", "startPerDay": 50, "factor": 1.5, "maxPerDay": 1000 }] }),
            "warmup[0].domain",
        ),
        (
            json!({ "warmup": [{ "domain": "m.example", "startPerDay": 50, "factor": 1.5, "maxPerDay": 10 }] }),
            "warmup[0].maxPerDay",
        ),
        (
            json!({ "suppression": { "scopes": { "complaint": "everywhere" } } }),
            "suppression.scopes.complaint",
        ),
    ] {
        let e = err(with(extra.clone()));
        assert_eq!(e.code(), "EMAIL_INVALID_CONFIG", "{extra}");
        assert!(
            e.to_string().starts_with(&format!("invalid `{field}`")),
            "{extra}: {e}"
        );
    }
    let c = parse(&with(json!({ "render": "worker" })), true).unwrap();
    assert_eq!(c.settings.render, Render::Worker);
    let e = err(with(json!({ "render": "later" })));
    assert!(e.to_string().starts_with("invalid `render`"), "{e}");
    let e = err(with(
        json!({ "warmup": [{ "domain": "m.example", "startPerDay": 5, "factor": 2, "maxPerDay": 10 }, { "domain": "M.Example", "startPerDay": 5, "factor": 2, "maxPerDay": 10 }] }),
    ));
    assert!(
        e.to_string().starts_with("invalid `warmup[1].domain`"),
        "{e}"
    );
    let c = parse(&with(json!({ "rateLimits": { "perTenant": { "perMinute": 10, "perDay": 500 } }, "warmup": [{ "domain": "Mail.Acme.Example", "startPerDay": 50, "factor": 1.5, "maxPerDay": 1000 }] })), true).unwrap();
    assert_eq!(c.settings.per_tenant, [Some(10), None, Some(500)]);
    assert_eq!(c.settings.warmup[0].domain, "mail.acme.example");
    let c = parse(&with(json!({ "retrySchedule": [0, 5], "rateLimits": { "maxQueuedPerTenant": 1000 }, "onAmbiguous": "hold", "render": "enqueue" })), true).unwrap();
    assert_eq!(c.retry.delays(), &[0.0, 5.0]);
    assert_eq!(c.settings.per_tenant, [None, None, None]);
    assert_eq!(c.settings.max_queued_per_tenant, Some(1000));
    assert_eq!(c.settings.on_ambiguous, OnAmbiguous::Hold);
    assert_eq!(c.settings.render, Render::Enqueue);
}
