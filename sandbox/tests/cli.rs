//! The `dspconnect-sandbox` binary: serving standalone and exporting cards.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use dspconnect_sandbox::pki::CardCredentials;

const BINARY: &str = env!("CARGO_BIN_EXE_dspconnect-sandbox");

/// Kills the child if the test fails before stopping it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn private_temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[tokio::test]
async fn the_binary_serves_prints_its_urls_and_stops_on_sigterm() {
    let temp = private_temp_dir();
    let data_dir = temp.path().join("data");
    let child = Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout piped");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(|line| line.expect("UTF-8 output"))
        .take_while(|line| !line.starts_with("stop with"))
        .collect();
    let value_of = |prefix: &str| {
        lines
            .iter()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' line in {lines:?}"))
            .to_owned()
    };
    assert!(
        lines
            .iter()
            .any(|line| line == "SANDBOX — nothing issued here is valid on the real platform")
    );
    let base_url = value_of("base URL: ");
    let ca_path = PathBuf::from(value_of("CA certificate (trust only this one): "));
    assert_eq!(ca_path, data_dir.join("pki").join("platform-ca.pem"));

    let ca = std::fs::read_to_string(&ca_path).expect("CA file");
    let client = common::pinned_client(&ca);
    let health = client
        .get(format!("{base_url}/health"))
        .send()
        .await
        .expect("health answered");
    assert_eq!(health.status(), 200);

    let status = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = running.0.wait().expect("binary exits");
    assert!(exit.success(), "exit after SIGTERM: {exit:?}");
}

/// Starts the binary on `data_dir` until it has printed its banner, then
/// stops it: the HPD, the demo data and the demo cards now exist.
fn start_once(data_dir: &Path) -> Vec<String> {
    let child = Command::new(BINARY)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("stdout piped");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(|line| line.expect("UTF-8 output"))
        .take_while(|line| !line.starts_with("stop with"))
        .collect();
    let status = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(running.0.wait().expect("binary exits").success());
    lines
}

fn export(data_dir: &Path, ehealth_id: &str, out_dir: &Path) -> std::process::Output {
    Command::new(BINARY)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["export-card", ehealth_id])
        .arg(out_dir)
        .output()
        .expect("binary runs")
}

#[test]
fn export_card_copies_a_demo_card_from_the_hpd_and_refuses_unknown_ids() {
    let temp = private_temp_dir();
    let data_dir = temp.path().join("data");

    // Before the first start there is no HPD to look the professional up in.
    let early = export(&data_dir, "SBX1001", &temp.path().join("early"));
    assert!(!early.status.success());
    let stderr = String::from_utf8_lossy(&early.stderr);
    assert!(stderr.contains("start the sandbox once"), "{stderr}");

    let banner = start_once(&data_dir);
    assert!(
        banner.iter().any(|line| line.contains("export-card")),
        "{banner:?}"
    );
    let out_dir = temp.path().join("card");
    let output = export(&data_dir, "SBX1001", &out_dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("SANDBOX"), "{stdout}");
    assert!(stdout.contains("bound to SBX1001"), "{stdout}");

    let card = CardCredentials::load(&out_dir).expect("card reads back");
    let stored = CardCredentials::load(&data_dir.join("cards").join("SBX1001"))
        .expect("the stored demo card");
    assert_eq!(card.professional.name, "Anne Weber");
    assert_eq!(card.professional.ehealth_id, "SBX1001");
    assert_eq!(card.certificate_der, stored.certificate_der);
    assert!(
        !stdout.contains(card.pin.expose()),
        "the PIN is not printed: {stdout}"
    );
    assert!(stdout.contains(&card.serial.to_string()), "{stdout}");
    assert_eq!(common::mode_of(&out_dir), 0o700);
    assert_eq!(common::mode_of(&out_dir.join("card.json")), 0o600);
    openssl_verifies(
        &data_dir.join("pki").join("luxtrust-test-ca.pem"),
        &out_dir.join("certificate.pem"),
    );

    let unknown = export(&data_dir, "SBX-4242", &temp.path().join("unknown"));
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("no professional 'SBX-4242'") && stderr.contains("SBX1001"),
        "{stderr}"
    );
    assert!(!temp.path().join("unknown").exists());
}

#[test]
fn export_card_gives_the_pending_professional_an_unbound_card_and_says_so() {
    let temp = private_temp_dir();
    let data_dir = temp.path().join("data");
    start_once(&data_dir);
    let out_dir = temp.path().join("pending");
    let output = export(&data_dir, "SBX1005", &out_dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("UNBOUND"), "{stdout}");
    assert!(stdout.contains("activation"), "{stdout}");
    let card = CardCredentials::load(&out_dir).expect("card reads back");
    assert_eq!(card.professional.ehealth_id, "SBX1005");
    // Exported again: the same card, still unbound.
    let again = export(&data_dir, "SBX1005", &temp.path().join("again"));
    assert!(again.status.success());
    let second = CardCredentials::load(&temp.path().join("again")).expect("reads back");
    assert_eq!(second.certificate_der, card.certificate_der);
}

fn openssl_verifies(ca: &Path, certificate: &Path) {
    let out = common::openssl(&[
        "verify",
        "-CAfile",
        ca.to_str().expect("UTF-8"),
        "-purpose",
        "sslclient",
        certificate.to_str().expect("UTF-8"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains(": OK"),
        "openssl verify: {text}"
    );
}
