//! What the C ABI costs on top of the IPC it wraps: `dsp_status_get`
//! through libdspconnect's exports against a bare round trip of the same
//! `status` request (one JSON-RPC line written, one line read, nothing
//! parsed) over a second connection to the same daemon socket. Goal: the
//! C ABI at most 1.2× the bare round trip.
//!
//! The daemon is the real `dspconnectd` on its embedded sandbox (built by
//! this bench from this checkout, or `$DSPCONNECTD`), in a throwaway home.
//!
//! `cargo bench -p dspconnect --bench ffi_status` writes
//! `target/bench-results/ffi.md`. Without `--bench` (as `cargo test
//! --benches` runs it) it runs a small smoke version and writes nothing.

use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use dspconnect::ffi::*;

struct Sizes {
    /// Calls of each kind, after a tenth as many to warm up.
    calls: usize,
}

fn main() -> ExitCode {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full {
        Sizes { calls: 10_000 }
    } else {
        Sizes { calls: 50 }
    };
    let report = match run(&sizes) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("ffi_status: {e}");
            return ExitCode::FAILURE;
        }
    };
    if full {
        let dir = target_dir().join("bench-results");
        if let Err(e) =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("ffi.md"), &report))
        {
            eprintln!("ffi_status: cannot write the report: {e}");
            return ExitCode::FAILURE;
        }
    }
    print!("{report}");
    ExitCode::SUCCESS
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The dspconnectd binary: `$DSPCONNECTD`, else built now from this
/// checkout with this bench's profile.
fn daemon_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("DSPCONNECTD") {
        return Ok(PathBuf::from(path));
    }
    // <target>/<profile>/deps/ffi_status-…
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("the bench is not in <target>/<profile>/deps")?;
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "-p", "dspconnectd", "--bin", "dspconnectd"])
        .current_dir(workspace());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    let status = cargo.status().map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build -p dspconnectd failed".into());
    }
    Ok(profile_dir.join("dspconnectd"))
}

/// A daemon on its embedded sandbox in a temporary home; killed on drop.
struct Daemon {
    child: Child,
    socket: PathBuf,
    _home: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon() -> Result<Daemon, String> {
    let binary = daemon_binary()?;
    let home = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let sub = |s: &str| {
        let p = home.path().join(s);
        let _ = std::fs::create_dir_all(&p);
        p
    };
    let runtime = sub("runtime");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700));
    }
    // The daemon makes the socket's folder itself, closed to others.
    let socket = runtime.join("dspconnect").join("dspconnectd.sock");
    let stderr = std::fs::File::create(home.path().join("daemon.err"))
        .map_err(|e| format!("log file: {e}"))?;
    let child = Command::new(&binary)
        .arg("--socket")
        .arg(&socket)
        .arg("--sandbox")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", sub("home"))
        .env("XDG_CONFIG_HOME", sub("config"))
        .env("XDG_STATE_HOME", sub("state"))
        .env("XDG_DATA_HOME", sub("data"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("RUST_LOG", "info")
        .env("BROWSER", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{} does not start: {e}", binary.display()))?;
    let mut daemon = Daemon {
        child,
        socket,
        _home: home,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = daemon.child.try_wait() {
            let log =
                std::fs::read_to_string(daemon._home.path().join("daemon.err")).unwrap_or_default();
            return Err(format!("dspconnectd exited ({status}):\n{log}"));
        }
        if UnixStream::connect(&daemon.socket).is_ok() && bare_status_ok(&daemon.socket) {
            return Ok(daemon);
        }
        if Instant::now() > deadline {
            return Err("dspconnectd did not answer within 120 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn bare_status_ok(socket: &Path) -> bool {
    let Ok(stream) = UnixStream::connect(socket) else {
        return false;
    };
    let mut bare = Bare::new(stream);
    bare.round_trip(0).contains("\"result\"")
}

/// The bare IPC: one request line written, one answer line read.
struct Bare {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: String,
}

impl Bare {
    fn new(stream: UnixStream) -> Bare {
        let writer = stream.try_clone().expect("socket clone");
        Bare {
            reader: BufReader::new(stream),
            writer,
            line: String::new(),
        }
    }

    fn round_trip(&mut self, id: u64) -> &str {
        let request = format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"method\":\"status\"}}\n");
        self.writer.write_all(request.as_bytes()).expect("write");
        self.line.clear();
        self.reader.read_line(&mut self.line).expect("read");
        &self.line
    }
}

fn run(sizes: &Sizes) -> Result<String, String> {
    let daemon = start_daemon()?;
    let socket = CString::new(daemon.socket.to_str().ok_or("socket path not UTF-8")?)
        .map_err(|e| e.to_string())?;
    let mut client = std::ptr::null_mut();
    let error = dsp_connect(socket.as_ptr(), 10_000, &mut client);
    if !error.is_null() {
        dsp_error_free(error);
        return Err("dsp_connect failed".into());
    }
    let mut bare = Bare::new(UnixStream::connect(&daemon.socket).map_err(|e| e.to_string())?);
    let mut status = std::mem::MaybeUninit::<dsp_status>::uninit();
    let mut id = 1u64;

    // Warm-up, then single calls alternately, each timed: load from other
    // processes (the machine is shared) hits both paths alike.
    let mut ffi = Vec::with_capacity(sizes.calls);
    let mut raw = Vec::with_capacity(sizes.calls);
    for i in 0..sizes.calls + sizes.calls / 10 {
        let started = Instant::now();
        let error = dsp_status_get(client, status.as_mut_ptr());
        let ffi_us = started.elapsed().as_secs_f64() * 1e6;
        assert!(error.is_null(), "dsp_status_get failed");
        id += 1;
        let started = Instant::now();
        let answer = bare.round_trip(id);
        let raw_us = started.elapsed().as_secs_f64() * 1e6;
        assert!(answer.contains("\"result\""), "{answer}");
        if i >= sizes.calls / 10 {
            ffi.push(ffi_us);
            raw.push(raw_us);
        }
    }
    dsp_client_free(client);
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().next().unwrap_or("?").to_owned())
        .unwrap_or_else(|_| "?".into());
    let (ffi_p10, ffi_p50) = (percentile(&mut ffi, 10), percentile(&mut ffi, 50));
    let (raw_p10, raw_p50) = (percentile(&mut raw, 10), percentile(&mut raw, 50));
    let ratio = ffi_p50 / raw_p50;
    let ratio_p10 = ffi_p10 / raw_p10;
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    Ok(format!(
        "## C ABI: `dsp_status_get` against a bare IPC `status` round trip\n\n\
         Real dspconnectd on its embedded sandbox, one connection each on the same \
         socket; {calls} calls of each, alternating one by one ({profile} build; load \
         average {load} on {cpus} CPUs at the end).\n\n\
         | path | median µs | 10th percentile µs |\n|---|---|---|\n\
         | `dsp_status_get` (C ABI: lock, JSON-RPC encode, parse, fill `dsp_status`) | {ffi_p50:.1} | {ffi_p10:.1} |\n\
         | bare round trip (line written, line read, nothing parsed) | {raw_p50:.1} | {raw_p10:.1} |\n\n\
         Ratio C ABI / bare: **{ratio:.2}×** at the median, {ratio_p10:.2}× at the 10th \
         percentile (goal ≤ 1.2× at the median: {verdict}).\n",
        calls = sizes.calls,
        cpus = std::thread::available_parallelism().map_or(0, |n| n.get()),
        verdict = if ratio <= 1.2 { "met" } else { "NOT met" },
    ))
}

/// The `p`th percentile (sorts `v`).
fn percentile(v: &mut [f64], p: usize) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * p / 100).min(v.len() - 1)]
}
