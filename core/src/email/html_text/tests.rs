use super::html_to_text;

#[test]
fn blocks_break_lines_and_paragraphs_leave_a_blank_line() {
    let html = "<!doctype html><html><head><title>Hi</title><style>p{color:red}</style></head>\
        <body><h1>Welcome,   Ada!</h1><p>Your   account\n   is ready.</p><div>One</div><div>Two<br>Three</div></body></html>";
    assert_eq!(
        html_to_text(html),
        "Welcome, Ada!\n\nYour account is ready.\n\nOne\nTwo\nThree"
    );
}

#[test]
fn links_show_their_url_unless_the_text_is_the_url() {
    assert_eq!(
        html_to_text(
            r#"<p>See <a href="https://acme.example/o/1?a=1&amp;b=2">your order</a>.</p>"#
        ),
        "See your order (https://acme.example/o/1?a=1&b=2)."
    );
    assert_eq!(
        html_to_text(
            r#"<a href='https://acme.example'>https://acme.example</a> <a href="mailto:help@acme.example">help@acme.example</a>"#
        ),
        "https://acme.example help@acme.example"
    );
    assert_eq!(
        html_to_text(r##"<a href="#top">Top</a> <a href="javascript:x()">Run</a>"##),
        "Top Run"
    );
    // A link around an image only: its URL stands alone.
    assert_eq!(
        html_to_text(r#"<a href="https://acme.example/"><img src="logo.png"></a>"#),
        "https://acme.example/"
    );
}

#[test]
fn lists_become_dashed_items_indented_when_nested() {
    let html = "<p>Items:</p><ul><li>Desk</li><li>Mug<ol><li>blue</li><li>red</li></ol></li></ul><p>Thanks</p>";
    assert_eq!(
        html_to_text(html),
        "Items:\n\n- Desk\n- Mug\n  - blue\n  - red\n\nThanks"
    );
}

#[test]
fn entities_are_decoded_and_unknown_ones_kept() {
    assert_eq!(
        html_to_text("Fish &amp; chips &lt;b&gt; &#169; &#x20AC;5&nbsp;off &madeup; AT&T &#0;"),
        "Fish & chips <b> © €5 off &madeup; AT&T &#0;"
    );
    // Zero-width characters (preheader padding) are dropped.
    assert_eq!(html_to_text("a&zwnj;&#8203;b"), "ab");
}

#[test]
fn tables_put_rows_on_lines_and_cells_apart() {
    let html =
        "<table><tr><td>Desk</td><td>$4.99</td></tr><tr><th>Total</th><td>$4.99</td></tr></table>";
    assert_eq!(html_to_text(html), "Desk $4.99\nTotal $4.99");
}

#[test]
fn pre_keeps_its_whitespace() {
    assert_eq!(
        html_to_text("<p>Code:</p><pre>a  b\n  c</pre><p>end</p>"),
        "Code:\n\na  b\n  c\n\nend"
    );
}

#[test]
fn hidden_content_comments_and_broken_markup() {
    assert_eq!(
        html_to_text("<script>if (a < b) { x() }</script><!-- note -->Hi <b>there</b> 1 < 2 <3"),
        "Hi there 1 < 2 <3"
    );
    // Unclosed hidden elements and tags end the text instead of failing.
    assert_eq!(html_to_text("Before<style>p {}"), "Before");
    assert_eq!(html_to_text("Before<a href=\"x"), "Before");
    assert_eq!(
        html_to_text("<P CLASS=x>Upper</P><BR/>case"),
        "Upper\n\ncase"
    );
    assert_eq!(
        html_to_text("a<br>b<br><br>c<br><br><br>d"),
        "a\nb\n\nc\n\nd"
    );
    assert_eq!(html_to_text(""), "");
    assert_eq!(html_to_text("é <b>ü</b>\u{a0}日本"), "é ü 日本");
}

#[test]
fn any_mix_of_markup_fragments_gives_tidy_text_without_panicking() {
    const PIECES: &[&str] = &[
        "<",
        ">",
        "a",
        "é",
        "日",
        "&",
        ";",
        "#",
        "x",
        "\"",
        "'",
        "=",
        "/",
        "!",
        "-",
        " ",
        "\n",
        "<a href=",
        "</a>",
        "<pre>",
        "</pre>",
        "<li>",
        "<ul>",
        "</ul>",
        "<script>",
        "</scr",
        "&#x",
        "&amp",
        "<!--",
        "-->",
        "<br>",
        "<P>",
        "</style",
        "<td>",
        "\u{a0}",
        "<a href='#'>",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3_000 {
        let mut html = String::new();
        for _ in 0..40 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            html.push_str(PIECES[(seed >> 33) as usize % PIECES.len()]);
        }
        let text = html_to_text(&html);
        assert!(!text.contains("\n\n\n"), "{html:?} gave {text:?}");
        assert!(
            text.lines().all(|l| l == l.trim_end()),
            "{html:?} gave {text:?}"
        );
        assert_eq!(text, text.trim_end(), "{html:?}");
    }
}

#[test]
fn what_reviewers_found() {
    // A link in a list item: its text is the URL, so the URL is not repeated.
    assert_eq!(
        html_to_text(
            r#"<ul><li><a href="https://x.io">https://x.io</a></li><li><a href="MAILTO:a@x.io">a@x.io</a></li></ul>"#
        ),
        "- https://x.io\n- a@x.io"
    );
    // A head that is never closed ends at the body.
    assert_eq!(
        html_to_text("<html><head><meta charset=utf-8><body><p>Hello</p></body></html>"),
        "Hello"
    );
    // Word's quotes as numeric references; a sign is not a number.
    assert_eq!(
        html_to_text("&#147;Hi&#148; &#150; it&#146;s &#+65; &#x+41;"),
        "“Hi” – it’s &#+65; &#x+41;"
    );
    // `</scripts>` does not end a script.
    assert_eq!(html_to_text("<script>a</scripts>b</script>c"), "c");
    // Unclosed lists and links stay linear: the indent stops growing.
    let html = format!("{}{}", "<ul>".repeat(20_000), "<li>x".repeat(20_000));
    assert!(html_to_text(&html).len() < 20_000 * 24);
    let html = format!(
        "{}{}{}",
        "<a href=u>".repeat(20_000),
        "y ".repeat(1_000),
        "</a>".repeat(20_000)
    );
    assert!(html_to_text(&html).len() < 4_000);
    // No visible text: no text part.
    assert_eq!(
        super::text_part(Some(r#"<img src="banner.png" alt="Sale">"#)),
        None
    );
    assert_eq!(
        super::text_part(Some("<p>Sale</p>")).as_deref(),
        Some("Sale")
    );
}

#[test]
fn non_breaking_spaces_join_words_and_become_plain_spaces() {
    // Written as an entity, as the character, and in a run of text without one.
    assert_eq!(
        html_to_text("<p>Total:&nbsp;$12 for   2\u{a0}items</p><p>plain words only</p>"),
        "Total: $12 for 2 items\n\nplain words only"
    );
    // Not a separator: the spaces around it collapse, the non-breaking one stays.
    assert_eq!(html_to_text("a \u{a0} b"), "a   b");
}
