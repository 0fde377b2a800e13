//! Helpers shared by unit tests.

use std::path::Path;

/// Checks that the text between two markers of a doc equals `expected`;
/// with `UPDATE_DOCS=1` in the environment, rewrites it instead.
pub fn check_doc_section(doc: &str, begin: &str, end: &str, expected: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find(begin).expect("begin marker") + begin.len();
    let stop = text.find(end).expect("end marker");
    let current = text[start..stop].trim();
    if current == expected.trim() {
        return;
    }
    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}\n{}\n{}", &text[..start], expected.trim(), &text[stop..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!("{doc} is stale; run the test with UPDATE_DOCS=1. Expected:\n{expected}");
}
