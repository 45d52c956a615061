//! Email: the address table (spec E7) and the fixed MIME inputs (spec E6). Both fixture files
//! are shared with the JS suites (`js-tests/email-*.test.mjs`), which run them through the
//! bindings.

mod address;
mod events;
mod mime;

pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/email/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}
