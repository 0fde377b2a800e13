//! Helpers shared by the integration tests: schema validation with
//! `xmllint` against the official schemas (vendored in `ihe/reference`).
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

/// The official schemas: `$DSPCONNECT_IHE_DIR/schema`, or the copy
/// vendored in `ihe/reference/schema` (taken from `shared/ihe/schema`).
pub fn schema_dir() -> PathBuf {
    let dir = std::env::var_os("DSPCONNECT_IHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("reference"))
        .join("schema");
    assert!(
        dir.join("soap/soap-1.2-envelope.xsd").is_file(),
        "the official schemas are missing: expected soap/soap-1.2-envelope.xsd under {} \
         (set DSPCONNECT_IHE_DIR to a folder holding schema/)",
        dir.display()
    );
    dir
}

/// A schema file under [`schema_dir`], e.g. `saml/sstc-saml-schema-protocol-2.0.xsd`.
pub fn schema(relative: &str) -> PathBuf {
    let path = schema_dir().join(relative);
    assert!(path.is_file(), "schema {} is missing", path.display());
    path
}

/// Validates `xml` with `xmllint --noout --schema`; `Err` holds xmllint's
/// messages. Panics when xmllint itself is missing (install the Debian
/// package libxml2-utils; the test script does).
pub fn xmllint_validate(xml: &[u8], schema_path: &std::path::Path) -> Result<(), String> {
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(xml).expect("write the document");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema_path)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run xmllint ({e}): install the Debian package libxml2-utils")
        });
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
