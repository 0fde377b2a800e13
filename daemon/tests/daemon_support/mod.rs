//! The real daemon under test: the `dspconnectd` binary in its own XDG
//! folders and socket, talking to a sandbox that runs in the test process
//! (so that tests can inspect the registry, inject faults and read the
//! mail outbox, and so that the platform survives a `kill -9` of the
//! daemon), or to its own embedded sandbox.

#![allow(dead_code)] // Each test binary uses a different part.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dspconnect::ipc::Endpoint;
use dspconnect::ipc::client::{Client, ClientError};
use dspconnect::ipc::protocol::*;
use dspconnect_sandbox::config::SandboxConfig;
use dspconnect_sandbox::pki::IDP_SIGNING_CERT;
use dspconnect_sandbox::policy::PatientId;
use dspconnect_sandbox::server::{RunningSandbox, Sandbox};
use dspconnect_sandbox::store::Store;
use dspconnectd::config::{Config, PlatformProfile};
use tempfile::TempDir;

/// A sandbox in this process, on a runtime of its own.
pub struct ExternalSandbox {
    pub runtime: tokio::runtime::Runtime,
    pub running: Option<RunningSandbox>,
    pub dir: TempDir,
    /// The demo activation letter's code (given at the first start only).
    pub activation_letter: Option<String>,
}

impl ExternalSandbox {
    pub fn start() -> ExternalSandbox {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("sandbox dir");
        let mut running = runtime
            .block_on(Sandbox::start(SandboxConfig::new(
                dir.path().join("sandbox"),
            )))
            .expect("sandbox starts");
        let activation_letter = running
            .take_demo_activation_code()
            .map(|c| c.expose().to_owned());
        ExternalSandbox {
            runtime,
            running: Some(running),
            dir,
            activation_letter,
        }
    }

    /// Stops the platform: connections are refused until [`Self::start_again`].
    pub fn stop(&mut self) -> u16 {
        let running = self.running.take().expect("sandbox running");
        let port = running.local_addr().port();
        self.runtime
            .block_on(running.shutdown())
            .expect("sandbox stops");
        port
    }

    /// Starts the platform again on `port` with the same data.
    pub fn start_again(&mut self, port: u16) {
        let restarted = self
            .runtime
            .block_on(Sandbox::start(
                SandboxConfig::new(self.dir.path().join("sandbox")).with_port(port),
            ))
            .expect("sandbox starts again on its port");
        self.running = Some(restarted);
    }

    pub fn running(&self) -> &RunningSandbox {
        self.running.as_ref().expect("sandbox running")
    }

    pub fn store(&self) -> &Store {
        self.running().context().store()
    }

    pub fn profile(&self) -> PlatformProfile {
        let running = self.running();
        PlatformProfile::sandbox(
            running.base_url(),
            running.ca_certificate_path(),
            running.pki().dir().join(IDP_SIGNING_CERT),
        )
    }

    /// Exports `ehealth_id`'s card into a new folder; returns it and the PIN.
    pub fn export_card(&self, ehealth_id: &str, into: &Path) -> (PathBuf, String) {
        let ctx = self.running().context();
        let dir = into.join(format!("card-{ehealth_id}"));
        let exported = dspconnect_sandbox::cards::export_card(
            ctx.pki(),
            ctx.store(),
            ctx.data_dir(),
            ehealth_id,
            &dir,
            ctx.clock().now(),
        )
        .expect("card export");
        (dir, exported.credentials.pin.expose().to_owned())
    }

    /// A presence code the patient created in their portal.
    pub fn presence_code(&self, matricule: &str) -> String {
        let ctx = self.running().context();
        let code = ctx
            .store()
            .create_presence_code(
                &PatientId::new(matricule).expect("patient id"),
                ctx.clock().now(),
                time::Duration::hours(1),
            )
            .expect("presence code");
        code.expose().to_owned()
    }

    /// The 8-digit code of the last e-mail to `recipient`.
    pub fn mailed_code(&self, recipient: &str) -> String {
        let mails = self.store().outbox(Some(recipient)).expect("mail outbox");
        let mail = mails.last().expect("an e-mail was sent");
        mail.body
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 8)
            .expect("an 8-digit code in the e-mail")
            .to_owned()
    }

    pub fn set_faults(&self, plan: dspconnect_sandbox::faults::FaultPlan) {
        self.running()
            .context()
            .faults()
            .set(plan)
            .expect("fault plan");
    }

    pub fn clear_faults(&self) {
        self.running().context().faults().clear();
    }

    /// GET `url` trusting only the sandbox's CA; the status and body.
    pub fn fetch(&self, url: &str) -> (u16, String) {
        let tls = tls_trusting(self.running().ca_certificate_pem().as_bytes());
        let base = self.running().base_url().to_owned();
        self.runtime.block_on(async {
            // Like a browser: follow a redirect with the cookie it sets.
            let client = reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client");
            let mut response = client.get(url).send().await.expect("GET");
            if response.status().is_redirection() {
                let cookies: Vec<String> = response
                    .headers()
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .filter_map(|v| v.split(';').next())
                    .map(str::to_owned)
                    .collect();
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .expect("a redirect has a Location")
                    .to_owned();
                let next = if location.starts_with('/') {
                    format!("{base}{location}")
                } else {
                    location
                };
                response = client
                    .get(next)
                    .header("cookie", cookies.join("; "))
                    .send()
                    .await
                    .expect("GET after the redirect");
            }
            let status = response.status().as_u16();
            (status, response.text().await.expect("body"))
        })
    }
}

impl Drop for ExternalSandbox {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

/// The folders of one daemon: XDG config, state, data and runtime.
pub struct DaemonHome {
    pub dir: TempDir,
}

impl DaemonHome {
    pub fn new() -> DaemonHome {
        let dir = tempfile::tempdir().expect("daemon home");
        for sub in ["config", "state", "data", "runtime", "home"] {
            fs::create_dir_all(dir.path().join(sub)).expect("folder");
        }
        fs::set_permissions(
            dir.path().join("runtime"),
            fs::Permissions::from_mode(0o700),
        )
        .expect("runtime mode");
        DaemonHome { dir }
    }

    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    pub fn socket(&self) -> PathBuf {
        self.path("runtime").join("dspconnect").join("test.sock")
    }

    pub fn config_file(&self) -> PathBuf {
        self.path("config")
            .join("dspconnect")
            .join("dspconnectd.toml")
    }

    pub fn spool_dir(&self) -> PathBuf {
        self.path("state").join("dspconnect").join("spool")
    }

    pub fn audit_dir(&self) -> PathBuf {
        self.path("state").join("dspconnect").join("audit")
    }

    /// A configuration for `profile` (the embedded sandbox off), every
    /// folder inside this home.
    pub fn write_config(&self, profile: PlatformProfile, edit: impl FnOnce(&mut Config)) {
        let mut config = Config {
            platform: Some(profile),
            ..Config::default()
        };
        config.sandbox.enabled = Some(false);
        config.sandbox.data_dir = self.path("data").join("dspconnect").join("sandbox");
        config.outbox.spool_dir = self.spool_dir();
        config.log.audit_dir = self.audit_dir();
        config.session.lock_on_screen_lock = false;
        edit(&mut config);
        let text = toml::to_string(&config).expect("config as TOML");
        let file = self.config_file();
        fs::create_dir_all(file.parent().expect("parent")).expect("config folder");
        fs::set_permissions(
            file.parent().expect("parent"),
            fs::Permissions::from_mode(0o700),
        )
        .expect("config folder mode");
        fs::write(&file, text).expect("config written");
    }
}

/// A running `dspconnectd` process.
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Daemon {
    /// Starts the daemon in `home` with `args` and waits until its socket
    /// answers `status`.
    pub fn start(home: &DaemonHome, args: &[&str]) -> Daemon {
        Daemon::start_logging(home, args, "debug")
    }

    /// As [`Daemon::start`], logging at `level` (benchmarks log less).
    pub fn start_logging(home: &DaemonHome, args: &[&str], level: &str) -> Daemon {
        Daemon::start_with_env(home, args, level, &[])
    }

    /// As [`Daemon::start_logging`], with extra environment variables.
    pub fn start_with_env(
        home: &DaemonHome,
        args: &[&str],
        level: &str,
        env: &[(&str, &Path)],
    ) -> Daemon {
        let socket = home.socket();
        let n = fs::read_dir(home.dir.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let stdout = home.dir.path().join(format!("daemon-{n}.out"));
        let stderr = home.dir.path().join(format!("daemon-{n}.err"));
        let child = Command::new(env!("CARGO_BIN_EXE_dspconnectd"))
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path("home"))
            .env("XDG_CONFIG_HOME", home.path("config"))
            .env("XDG_STATE_HOME", home.path("state"))
            .env("XDG_DATA_HOME", home.path("data"))
            .env("XDG_RUNTIME_DIR", home.path("runtime"))
            .env("RUST_LOG", level)
            // No browser in tests: a program that exists and does nothing.
            .env("BROWSER", "true")
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("stdout file"))
            .stderr(fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("dspconnectd starts");
        let mut daemon = Daemon {
            child,
            socket,
            stdout,
            stderr,
        };
        daemon.wait_ready();
        daemon
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "dspconnectd exited ({status}) before listening:\n{}",
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            if let Ok(mut client) = Client::connect(&self.endpoint(), Duration::from_secs(5))
                && client.call::<StatusMethod>(&Empty {}).is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "dspconnectd did not listen within 120 s:\n{}",
                fs::read_to_string(&self.stderr).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::at_path(self.socket.clone())
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.endpoint(), Duration::from_secs(60)).expect("client connects")
    }

    /// SIGKILL: no shutdown at all.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }

    pub fn logs(&self) -> String {
        format!(
            "{}{}",
            fs::read_to_string(&self.stdout).unwrap_or_default(),
            fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill9();
        }
    }
}

/// Unlocks with `pin` and waits for the platform session.
pub fn unlock(client: &mut Client, pin: &str) -> SessionInfo {
    let info = client
        .call::<Unlock>(&UnlockParams {
            pin: Some(SecretString::new(pin)),
        })
        .expect("unlock");
    assert_eq!(info.state, SessionState::Authenticated, "{info:?}");
    info
}

pub fn metadata(
    patient: &str,
    title: &str,
    mode: dspconnect::model::ConfidentialityMode,
) -> PushMetadata {
    PushMetadata {
        patient: patient.to_owned(),
        title: title.to_owned(),
        mode,
        patient_statement: PatientStatement {
            informed_and_agrees: true,
            stated_at: None,
        },
        mime_type: None,
        class_code: None,
        type_code: None,
        format_code: None,
        practice_setting_code: None,
        healthcare_facility_type_code: None,
        language: None,
        creation_time: None,
        service_start: None,
        service_stop: None,
        comments: None,
    }
}

/// A PDF of about `size` bytes (a valid header and trailer around filler).
pub fn pdf(size: usize, seed: u8) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut x = u32::from(seed) + 1;
    while pdf.len() + 6 < size {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        pdf.push(b'a' + ((x >> 16) % 26) as u8);
    }
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

/// Waits for a job to end (a final state) and returns it.
pub fn wait_job(client: &mut Client, job_id: &str, within: Duration) -> Job {
    let deadline = Instant::now() + within;
    loop {
        let job = client
            .call_with_timeout::<JobWait>(
                &JobWaitParams {
                    job_id: job_id.to_owned(),
                    timeout_ms: 5_000,
                },
                Duration::from_secs(30),
            )
            .expect("job.wait");
        if job.state.is_final() || Instant::now() > deadline {
            return job;
        }
    }
}

/// The code of a failed call.
pub fn code_of<T: std::fmt::Debug>(result: Result<T, ClientError>) -> dspconnect::ErrorCode {
    result.expect_err("the call must fail").code
}

/// Every file under `dir`, read whole (for the secrets check).
pub fn all_bytes_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}

/// The folder holding libdspconnect.so for the profile this test binary was
/// built with (`<target>/<profile>`, found from the test binary's own path,
/// so a library in another checkout's target folder is never picked up).
///
/// The test script builds it with the workspace (`cargo build --workspace
/// --all-targets`). When it is missing (a single test run by hand), it is
/// built into a target folder of its own: `cargo build -p dspconnect` in
/// the shared one would resolve features differently and overwrite
/// `libdspconnect.rlib` (a cdylib package's files carry no hash), which the
/// crates already built against it — the doc-tests among them — then
/// cannot load.
pub fn ffi_library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps")
        .to_owned();
    if profile_dir.join("libdspconnect.so").exists() {
        return profile_dir;
    }
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let own_target = profile_dir.parent().expect("<target>").join("ffi-library");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "-p", "dspconnect", "--lib", "--target-dir"])
        .arg(&own_target)
        .current_dir(workspace);
    if release {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "libdspconnect builds");
    let dir = own_target.join(if release { "release" } else { "debug" });
    assert!(
        dir.join("libdspconnect.so").exists(),
        "no libdspconnect.so in {}",
        dir.display()
    );
    dir
}

/// A TLS client configuration trusting only the CA certificates in `pem`
/// (the sandbox's platform CA), on the workspace's one crypto provider.
fn tls_trusting(pem: &[u8]) -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.expect("CA PEM")).expect("CA root");
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// The admin API of a daemon's embedded sandbox (the `/admin/api/…` routes
/// a demo or a test drives), reached like any HTTPS client: the platform
/// CA and the admin token from the sandbox's data folder.
pub struct EmbeddedSandboxAdmin {
    base_url: String,
    token: String,
    tls: rustls::ClientConfig,
}

impl EmbeddedSandboxAdmin {
    /// `data_dir` and `port` as written in the daemon's `[sandbox]` settings;
    /// call once the daemon answers (the sandbox then runs).
    pub fn new(data_dir: &Path, port: u16) -> EmbeddedSandboxAdmin {
        let ca = fs::read(data_dir.join("pki").join("platform-ca.pem")).expect("sandbox CA");
        let tls = tls_trusting(&ca);
        let token = fs::read_to_string(data_dir.join("admin-token"))
            .expect("sandbox admin token")
            .trim()
            .to_owned();
        EmbeddedSandboxAdmin {
            base_url: format!("https://127.0.0.1:{port}"),
            token,
            tls,
        }
    }

    /// Sends `body` (JSON) with `method` to `/admin/api/{path}`; the status.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> u16 {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let client = reqwest::Client::builder()
                .tls_backend_preconfigured(self.tls.clone())
                .build()
                .expect("client");
            let mut request = client
                .request(method, format!("{}/admin/api/{path}", self.base_url))
                .bearer_auth(&self.token);
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&body).expect("JSON body"));
            }
            let response = request.send().await.expect("admin API call");
            response.status().as_u16()
        })
    }

    /// Replaces the sandbox's fault plan (see dspconnect_sandbox::faults).
    pub fn set_faults(&self, plan: &dspconnect_sandbox::faults::FaultPlan) {
        let body = serde_json::to_value(plan).expect("plan as JSON");
        let status = self.call(reqwest::Method::PUT, "faults", Some(body));
        assert_eq!(status, 200, "fault plan refused");
    }

    pub fn clear_faults(&self) {
        let status = self.call(reqwest::Method::DELETE, "faults", None);
        assert!((200..300).contains(&status), "faults not lifted: {status}");
    }
}

/// A TCP port free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `dspctl --json doctor`: `(layer, verdict, message)` of each finding.
pub fn doctor(daemon: &Daemon, home: &DaemonHome) -> Vec<(String, String, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_dspctl"))
        .arg("--socket")
        .arg(&daemon.socket)
        .args(["--json", "doctor"])
        .env("HOME", home.path("home"))
        .env("XDG_CONFIG_HOME", home.path("config"))
        .env("XDG_DATA_HOME", home.path("data"))
        .env("XDG_STATE_HOME", home.path("state"))
        .env("XDG_RUNTIME_DIR", home.path("runtime"))
        .output()
        .expect("dspctl doctor runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("doctor --json is not JSON ({e}): {text}"));
    let list = json
        .as_array()
        .or_else(|| json["findings"].as_array())
        .unwrap_or_else(|| panic!("no findings in {text}"));
    list.iter()
        .map(|f| {
            (
                f["layer"].as_str().unwrap_or_default().to_owned(),
                f["verdict"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub fn diagnosed(findings: &[(String, String, String)], layer: &str) -> (String, String) {
    findings
        .iter()
        .find(|(l, _, _)| l == layer)
        .map(|(_, v, m)| (v.clone(), m.clone()))
        .unwrap_or_else(|| panic!("no '{layer}' finding in {findings:?}"))
}
