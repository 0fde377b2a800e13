//! Helpers shared by the sandbox's integration tests.

#![allow(dead_code)] // each test binary uses a different subset

pub mod assertions;
pub mod xds;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A directory under cargo's per-target temporary directory, emptied first,
/// for fixtures shared by the tests of one test binary (a `static` TempDir
/// would never be removed; this one is reused by the next run).
pub fn fresh_shared_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove the previous run's fixture");
    }
    std::fs::create_dir_all(&dir).expect("create the fixture directory");
    set_mode(&dir, 0o700);
    dir
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

/// An HTTPS client that trusts exactly the CA certificates in `ca_pem`
/// (ring provider, no system roots, no verification bypass).
pub fn pinned_client(ca_pem: &str) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(cert.expect("CA PEM parses"))
            .expect("CA accepted as a root");
    }
    assert!(!roots.is_empty(), "no certificate in the CA PEM");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .expect("client builds")
}

/// `openssl` with `args`; panics with a clear message when it is missing.
pub fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}); install it: apt-get install openssl"))
}

/// A new data directory holding a copy of the PKI in `template` (made once
/// per test binary, since RSA key generation is slow), so that each sandbox
/// a test starts has its own database and data-directory lock.
pub fn data_dir_with_pki(template: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let parent = template.parent().expect("template has a parent");
    let dir = parent.join(format!("instance-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove the previous run's instance");
    }
    copy_tree(template, &dir);
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).expect("create the copy");
    let mode = std::fs::metadata(from).expect("stat").permissions().mode();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).expect("chmod");
    for entry in std::fs::read_dir(from).expect("read the template") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file()
            && entry
                .path()
                .extension()
                .is_some_and(|e| e == "pem" || e == "json")
        {
            std::fs::copy(entry.path(), &target).expect("copy a PKI file");
        }
    }
}
