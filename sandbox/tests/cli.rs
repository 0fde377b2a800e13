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

#[test]
fn export_card_writes_a_card_that_reads_back_and_openssl_accepts() {
    let temp = private_temp_dir();
    let data_dir = temp.path().join("data");
    let out_dir = temp.path().join("card");
    let output = Command::new(BINARY)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["export-card", "2854201475"])
        .arg(&out_dir)
        .args([
            "--name",
            "Dr Anne Muller",
            "--pin",
            "123456",
            "--valid-days",
            "30",
        ])
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("SANDBOX"), "{stdout}");
    assert!(
        !stdout.contains("123456"),
        "the PIN is not printed: {stdout}"
    );

    let card = CardCredentials::load(&out_dir).expect("card reads back");
    assert_eq!(card.professional.name, "Dr Anne Muller");
    assert_eq!(card.professional.ehealth_id, "2854201475");
    assert_eq!(card.pin.expose(), "123456");
    assert!(stdout.contains(&card.serial.to_string()), "{stdout}");
    let lifetime = card.not_after - card.not_before;
    assert!((30..=31).contains(&lifetime.whole_days()), "{lifetime}");
    openssl_verifies(
        &data_dir.join("pki").join("luxtrust-test-ca.pem"),
        &out_dir.join("certificate.pem"),
    );
}

#[test]
fn export_card_refuses_a_bad_pin_with_a_clear_message() {
    let temp = private_temp_dir();
    let output = Command::new(BINARY)
        .arg("--data-dir")
        .arg(temp.path().join("data"))
        .args(["export-card", "2854201475"])
        .arg(temp.path().join("card"))
        .args(["--name", "Dr Anne Muller", "--pin", "12ab"])
        .output()
        .expect("binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PIN must be 4 to 12 digits"), "{stderr}");
    assert!(!temp.path().join("card").exists());
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
