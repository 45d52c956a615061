use serde_json::json;

use super::*;

fn src<'a>(subject: &'a str, html: Option<&'a str>, text: Option<&'a str>) -> Source<'a> {
    Source {
        name: "welcome",
        subject,
        html,
        text,
    }
}

fn reason(e: EmailError) -> String {
    assert_eq!(e.code(), "EMAIL_TEMPLATE_RENDER_FAILED", "{e}");
    e.to_string()
}

#[test]
fn screen_refuses_what_cannot_be_bounded() {
    for (body, word) in [
        ("{% set s = 'x' %}{{ s }}", "set"),
        ("{% with s = 1 %}{% endwith %}", "with"),
        (
            "{% autoescape false %}{{ x }}{% endautoescape %}",
            "autoescape",
        ),
        ("{% include 'other' %}", "include"),
        ("{% macro m() %}{% endmacro %}", "macro"),
        ("{{ a ~ b }}", "`~`"),
        ("{{ a + b }}", "`+`"),
        ("{{ 'x' * 100000000 }}", "`*`"),
        ("{%- if a + 1 -%}{% endif %}", "`+`"),
        // minijinja ends a raw block at the first `{% endraw %}`, and a tag only outside brackets.
        ("{% raw %}{% {% endraw %}{% set x = 1 %}", "set"),
        (
            "{% raw %}{% {% endraw %}{% autoescape false %}{{ x }}{% endautoescape %}",
            "autoescape",
        ),
        ("{{ {'a': {}} ~ x }}", "`~`"),
        ("{{ [x, {'b': 1}] | first ~ x }}", "`~`"),
        ("{% raw %}{{ x }}", "not closed"),
        ("{# x", "not closed"),
    ] {
        let e = check(&src("s", Some(body), None)).unwrap_err();
        assert!(reason(e).contains(word), "{body}");
    }
    let e = check(&src("{{ a ~ b }}", Some("x"), None)).unwrap_err();
    assert!(reason(e).contains("subject: `~`"));
    let e = check(&src("s", Some("{{ a "), None)).unwrap_err();
    assert!(reason(e).contains("not closed"));
}

#[test]
fn screen_allows_literals_comments_raw_and_whitespace_marks() {
    for body in [
        "{{ 'a+b~c*d' }} {{ \"it's\" }} {{ 'q\\'+' }}",
        "{# a ~ b, {% set %} #}{{ x }}",
        "{% raw %}{% set s = a ~ b %}{{ c * d }}{% endraw %}{{ x }}",
        "{%- if x -%}y{%+ else +%}z{%- endif %}",
        "{% for i in xs %}{{ loop.index }}{% endfor %}",
    ] {
        check(&src("s", Some(body), None)).unwrap_or_else(|e| panic!("{body}: {e}"));
    }
}

#[test]
fn sizes_and_bodies_are_checked() {
    let e = check(&src("s", None, None)).unwrap_err();
    assert_eq!(e.code(), "EMAIL_INVALID_ARGUMENT");
    let big = "x".repeat(MAX_SOURCE + 1);
    let e = check(&src("s", Some(&big), None)).unwrap_err();
    assert!(e.to_string().contains("`html`"), "{e}");
    let long = "x".repeat(3000);
    assert!(check(&src(&long, Some("x"), None)).is_err());
}

#[cfg(feature = "templates")]
mod engine {
    use std::time::Instant;

    use super::*;

    #[test]
    fn compiled_parts_are_reused_by_source_and_escaping() {
        // The same source as subject (unescaped) and html (escaped), rendered again with other
        // props, then changed: each render is its own.
        let same = "{{ name }}";
        let a = render(&src(same, Some(same), None), &json!({ "name": "<A>" })).unwrap();
        let b = render(&src(same, Some(same), None), &json!({ "name": "<B>" })).unwrap();
        assert_eq!(
            (a.subject.as_str(), a.html.as_deref()),
            ("<A>", Some("&lt;A&gt;"))
        );
        assert_eq!(
            (b.subject.as_str(), b.html.as_deref()),
            ("<B>", Some("&lt;B&gt;"))
        );
        let c = render(
            &src("x{{ name }}", Some(same), None),
            &json!({ "name": "C" }),
        )
        .unwrap();
        assert_eq!(c.subject, "xC");
        // A source that fails to compile keeps failing.
        for _ in 0..2 {
            let e = render(&src("{{ name", Some(same), None), &json!({ "name": "D" })).unwrap_err();
            assert!(reason(e).contains("subject"));
        }
    }

    #[test]
    fn renders_with_html_escaping_in_html_only() {
        let t = src(
            "Hi {{ name }}\r\nBcc: x@y",
            Some("<p>{{ name }} {{ name|upper }}</p>{% for i in items %}<li>{{ i }}</li>{% endfor %}"),
            Some("{{ name }}"),
        );
        let r = render(&t, &json!({ "name": "<b>\"A&B\"</b>", "items": [1, 2] })).unwrap();
        assert_eq!(r.subject, "Hi <b>\"A&B\"</b>  Bcc: x@y");
        assert_eq!(
            r.html.as_deref(),
            Some("<p>&lt;b&gt;&quot;A&amp;B&quot;&lt;&#x2f;b&gt; &lt;B&gt;&quot;A&amp;B&quot;&lt;&#x2f;B&gt;</p><li>1</li><li>2</li>")
        );
        assert_eq!(r.text.as_deref(), Some("<b>\"A&B\"</b>"));
    }

    #[test]
    fn optional_props_can_be_tested_but_not_printed() {
        let t = src(
            "s",
            Some("{% if coupon %}{{ coupon }}{% else %}none{% endif %}"),
            None,
        );
        assert_eq!(
            render(&t, &json!({})).unwrap().html.as_deref(),
            Some("none")
        );
        assert_eq!(
            render(&t, &json!({ "coupon": "X1" }))
                .unwrap()
                .html
                .as_deref(),
            Some("X1")
        );
        let t = src("s", Some("{{ coupon|default('none') }}"), None);
        assert_eq!(
            render(&t, &json!({})).unwrap().html.as_deref(),
            Some("none")
        );
    }

    #[test]
    fn undefined_props_and_unknown_filters_fail() {
        let e = render(&src("{{ nmae }}", Some("x"), None), &json!({ "name": "a" })).unwrap_err();
        assert!(reason(e).contains("subject:"));
        let e = render(
            &src("s", Some("{{ x|safe }}"), None),
            &json!({ "x": "<b>" }),
        )
        .unwrap_err();
        assert!(reason(e).contains("html:"));
        let e = render(&src("s", Some("{{ range(3) }}"), None), &json!({})).unwrap_err();
        reason(e);
        let e = render(&src("s", Some("x"), None), &json!([1])).unwrap_err();
        assert_eq!(e.code(), "EMAIL_TEMPLATE_PROPS_INVALID");
    }

    #[test]
    fn an_endless_loop_stops_at_the_fuel_limit() {
        let looping = "{% for a in xs %}{% for b in xs %}{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}";
        let started = Instant::now();
        let e = render(
            &src("s", Some(looping), None),
            &json!({ "xs": vec![0; 1000] }),
        )
        .unwrap_err();
        let r = reason(e);
        assert!(r.contains("stopped after 50000 instructions"), "{r}");
        assert!(started.elapsed().as_millis() < 2_000);
        // Recursion ends at its depth limit first.
        let t = src(
            "s",
            Some("{% for x in xs recursive %}{{ loop(xs) }}{% endfor %}"),
            None,
        );
        let r = reason(render(&t, &json!({ "xs": [1, 2] })).unwrap_err());
        assert!(r.contains("recursion limit"), "{r}");
    }

    #[test]
    fn output_stops_at_its_limit() {
        let t = src(
            "s",
            None,
            Some("{% for a in xs %}{% for b in xs %}{{ big }}{% endfor %}{% endfor %}"),
        );
        let props = json!({ "xs": vec![0; 100], "big": "y".repeat(10_000) });
        let e = render(&t, &props).unwrap_err();
        assert!(reason(e).contains("over 524288 bytes"));
    }
}

#[cfg(not(feature = "templates"))]
#[test]
fn without_the_engine_rendering_is_refused() {
    let e = render(&src("s", Some("x"), None), &json!({})).unwrap_err();
    assert_eq!(e.code(), "EMAIL_TEMPLATE_ENGINE_UNAVAILABLE");
}
