//! The PKCS#11 backend against Debian's SoftHSM (`softhsm2`): a token
//! initialised here with the demo GP's sandbox key and certificate stands
//! in for the card vendor's middleware. The daemon authenticates to the
//! sandbox with a signature SoftHSM computes; a wrong PIN, a PIN counted
//! as blocked and a token without the key each give their error.

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use daemon_support::*;
use dspconnect::ErrorCode;
use dspconnect::ipc::client::{Client, ClientError};
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use dspconnectd::config::CardBackendKind;

const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const MARIE: &str = "1945093006704";

fn tools_present() -> bool {
    let present = Path::new(SOFTHSM_MODULE).exists()
        && ["softhsm2-util", "pkcs11-tool", "openssl"]
            .iter()
            .all(|tool| Command::new(tool).arg("--help").output().is_ok());
    if !present {
        assert!(
            std::env::var_os("DSP_REQUIRE_TOOLS").is_none(),
            "SoftHSM is missing: apt install softhsm2 opensc openssl"
        );
        eprintln!("skipped: softhsm2, opensc or openssl is not installed");
    }
    present
}

fn run(command: &mut Command) {
    let output = command.output().expect("tool runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A SoftHSM configuration with one token labelled `label`, holding the
/// card's certificate and (when `with_key`) its private key.
fn softhsm_token(dir: &Path, card: &Path, pin: &str, label: &str, with_key: bool) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let env = |c: &mut Command| {
        c.env("SOFTHSM2_CONF", &conf);
    };
    let mut init = Command::new("softhsm2-util");
    init.args(["--init-token", "--free", "--label", label, "--pin", pin])
        .args(["--so-pin", "87654321"]);
    env(&mut init);
    run(&mut init);
    if with_key {
        let mut import = Command::new("softhsm2-util");
        import
            .arg("--import")
            .arg(card.join("private-key.pem"))
            .args([
                "--token", label, "--label", "auth", "--id", "01", "--pin", pin,
            ]);
        env(&mut import);
        run(&mut import);
    }
    let der = dir.join("certificate.der");
    run(Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(card.join("certificate.pem"))
        .arg("-out")
        .arg(&der));
    let mut write = Command::new("pkcs11-tool");
    write
        .args(["--module", SOFTHSM_MODULE, "--token-label", label])
        .args(["--login", "--pin", pin, "--write-object"])
        .arg(&der)
        .args(["--type", "cert", "--id", "01", "--label", "auth"]);
    env(&mut write);
    run(&mut write);
    conf
}

fn daemon_on_softhsm(sandbox: &ExternalSandbox, home: &DaemonHome, conf: &Path) -> Daemon {
    home.write_config(sandbox.profile(), |c| {
        c.card.backend = CardBackendKind::Pkcs11;
        c.card.pkcs11_module = Some(PathBuf::from(SOFTHSM_MODULE));
        c.tray.enabled = false;
    });
    Daemon::start_with_env(home, &[], "debug", &[("SOFTHSM2_CONF", conf)])
}

fn wait_card(client: &mut Client) -> Status {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.call::<StatusMethod>(&Empty {}).expect("status");
        if status.card.card_present {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the token is never seen: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn try_unlock(client: &mut Client, pin: &str) -> Result<SessionInfo, ClientError> {
    client.call::<Unlock>(&UnlockParams {
        pin: Some(SecretString::new(pin)),
    })
}

fn tries_left(err: &ClientError) -> Option<u8> {
    err.rpc.as_ref().and_then(|r| r.data.pin_tries_left)
}

#[test]
fn a_key_in_softhsm_authenticates_and_wrong_pins_end_blocked() {
    if !tools_present() {
        return;
    }
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    let conf = softhsm_token(&home.path("home"), &card, &pin, "dsp-test", true);
    let daemon = daemon_on_softhsm(&sandbox, &home, &conf);
    let mut client = daemon.client();

    let status = wait_card(&mut client);
    assert_eq!(
        status.card.holder.as_ref().map(|h| h.ehealth_id.as_str()),
        Some("SBX1001"),
        "{status:?}"
    );
    assert!(
        status
            .card
            .reader
            .as_deref()
            .unwrap_or("")
            .contains("PKCS#11 slot")
    );

    let wrong = if pin == "0000" { "1111" } else { "0000" };
    let err = try_unlock(&mut client, wrong).expect_err("wrong PIN");
    assert_eq!(err.code, ErrorCode::WrongPin, "{err}");
    assert_eq!(tries_left(&err), Some(2), "{err}");

    let session = unlock(&mut client, &pin);
    assert_eq!(
        session.professional.as_ref().map(|p| p.ehealth_id.as_str()),
        Some("SBX1001")
    );
    let path = home.path("home").join("softhsm.pdf");
    std::fs::write(&path, pdf(100 * 1024, 3)).unwrap();
    let accepted = client
        .call::<Push>(&PushParams {
            source: DocumentSource::Path(path.display().to_string()),
            metadata: metadata(MARIE, "Signed by SoftHSM", ConfidentialityMode::Normal),
        })
        .expect("push");
    let job = wait_job(&mut client, &accepted.job_id, Duration::from_secs(60));
    assert_eq!(job.state, JobState::Done, "{job:?}\n{}", daemon.logs());

    // Locked, then three wrong PINs: the PIN counts as blocked and no
    // further login reaches the token, not even the right PIN.
    client.call::<Lock>(&Empty {}).expect("lock");
    for expected in [2u8, 1] {
        let err = try_unlock(&mut client, wrong).expect_err("wrong PIN");
        assert_eq!(err.code, ErrorCode::WrongPin, "{err}");
        assert_eq!(tries_left(&err), Some(expected), "{err}");
    }
    let err = try_unlock(&mut client, wrong).expect_err("blocked");
    assert_eq!(err.code, ErrorCode::CardBlocked, "{err}");
    let err = try_unlock(&mut client, &pin).expect_err("still blocked");
    assert_eq!(err.code, ErrorCode::CardBlocked, "{err}");
    assert!(!daemon.logs().contains(&pin), "the PIN is in the log");
}

/// A token whose certificate has expired: `dspctl doctor` says so, and
/// the daemon refuses to unlock it (the check comes before the PIN is
/// used: session tests count the VERIFYs).
#[test]
fn an_expired_certificate_is_reported_by_doctor_and_refused_before_the_pin() {
    use dspconnect_sandbox::pki::{CardPin, Professional, Validity};
    if !tools_present() {
        return;
    }
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let pin = "4815";
    let card = home.path("home").join("expired-card");
    let now = time::OffsetDateTime::now_utc();
    sandbox
        .running()
        .context()
        .pki()
        .export_card(
            &Professional {
                name: "Dr Expired Card".into(),
                ehealth_id: "SBX1001".into(),
            },
            Validity::between(
                now - time::Duration::days(400),
                now - time::Duration::days(2),
            ),
            &CardPin::new(pin.to_owned()).unwrap(),
            &card,
        )
        .expect("expired card exported");
    let conf = softhsm_token(&home.path("home"), &card, pin, "expired", true);
    let daemon = daemon_on_softhsm(&sandbox, &home, &conf);
    let mut client = daemon.client();
    wait_card(&mut client);

    let findings = doctor(&daemon, &home);
    let (verdict, message) = diagnosed(&findings, "cert");
    assert_eq!(verdict, "failed", "{message}");
    assert!(message.contains("expired"), "{message}");

    let err = try_unlock(&mut client, pin).expect_err("expired certificate");
    assert_eq!(err.code, ErrorCode::CertificateNotValid, "{err}");
}

#[test]
fn a_token_without_the_private_key_says_so() {
    if !tools_present() {
        return;
    }
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    let conf = softhsm_token(&home.path("home"), &card, &pin, "no-key", false);
    let daemon = daemon_on_softhsm(&sandbox, &home, &conf);
    let mut client = daemon.client();
    wait_card(&mut client);
    let err = try_unlock(&mut client, &pin).expect_err("no key to sign with");
    assert_eq!(err.code, ErrorCode::CardError, "{err}\n{}", daemon.logs());
    assert!(err.to_string().contains("no private key"), "{err}");
}

#[test]
fn a_missing_module_stops_the_daemon_with_a_clear_error() {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    home.write_config(sandbox.profile(), |c| {
        c.card.backend = CardBackendKind::Pkcs11;
        c.card.pkcs11_module = Some(PathBuf::from("/nonexistent/libvendor-pkcs11.so"));
        c.tray.enabled = false;
    });
    let output = Command::new(env!("CARGO_BIN_EXE_dspconnectd"))
        .arg("--socket")
        .arg(home.socket())
        .env_clear()
        .env("HOME", home.path("home"))
        .env("XDG_CONFIG_HOME", home.path("config"))
        .env("XDG_STATE_HOME", home.path("state"))
        .env("XDG_DATA_HOME", home.path("data"))
        .env("XDG_RUNTIME_DIR", home.path("runtime"))
        .output()
        .expect("dspconnectd runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("card.backend") && stderr.contains("/nonexistent/libvendor-pkcs11.so"),
        "{stderr}"
    );
}
