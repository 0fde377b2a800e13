//! What the daemon costs on top of the bare operations it wraps, each
//! measured against its baseline in the same run (issue 4's goals):
//!
//! - IPC `status` round trip against a bare echo of the same sizes over
//!   the same kind of socket, both called by a client that writes the
//!   request line and reads the answer line (goal ≤ 2×); then the same
//!   call through dspconnect's typed client, against the bare echo and
//!   against a JSON-RPC echo ([`json_echo`]) called through that client;
//! - 1,000 pushes of 20 KB through the daemon (IPC, spool, scheduler)
//!   against the platform client posting the same ITI-41 submissions to
//!   the same sandbox directly (goal ≤ 1.3×);
//! - the daemon's resident set while a 200 MB document is pushed and
//!   uploaded (goal: grows ≤ 32 MB);
//! - idle resident set and CPU over 60 s (`DSP_BENCH_IDLE_SECONDS`);
//! - card signatures for all the pushes (goal 1).
//!
//! `cargo bench -p dspconnectd --bench daemon_overhead` writes
//! `target/bench-results/daemon.md`; `scripts/test.sh --long` gathers it
//! into docs/benchmarks.md. Without `--bench` (as `cargo test --benches`
//! runs it) it runs a small smoke version and writes nothing.
//!
//! `DSP_BENCH_RTT_ONLY=1` measures the round trip alone (for iterating on
//! it); `DSP_BENCH_RTT_CALLS` overrides the calls per round. The round trip
//! is measured in [`RTT_ROUNDS`] rounds, daemon and baselines interleaved,
//! and each figure is the median of its rounds: the machine may be shared.

#[path = "../tests/daemon_support/mod.rs"]
mod daemon_support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use daemon_support::*;
use dspconnect::ipc::protocol::*;
use dspconnect::model::ConfidentialityMode;
use dspconnectd::card::software::{SoftwareCard, software_reader};
use dspconnectd::card::{CardEvent, CardSigner, Pin, spawn_card_thread};
use dspconnectd::outbox::{
    ContentSource, EnqueueRequest, Outbox, OutboxPolicy, ResolveContext, UploadOutcome,
};
use dspconnectd::platform::PlatformClient;
use dspconnectd::session::Authenticator as _;

const MARIE: &str = "1945093006704";

/// Rounds of the round-trip measurement; each figure is their median.
const RTT_ROUNDS: usize = 7;

/// Rounds of the pushes, each followed by its baseline.
const PUSH_ROUNDS: usize = 3;

struct Sizes {
    rtt_calls: usize,
    pushes: usize,
    push_bytes: usize,
    big_bytes: usize,
    idle_seconds: u64,
}

fn main() -> ExitCode {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full {
        Sizes {
            rtt_calls: 5_000,
            pushes: 1_000,
            push_bytes: 20 * 1024,
            big_bytes: 200 * 1024 * 1024,
            idle_seconds: std::env::var("DSP_BENCH_IDLE_SECONDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(60),
        }
    } else {
        Sizes {
            rtt_calls: 50,
            pushes: 5,
            push_bytes: 20 * 1024,
            big_bytes: 2 * 1024 * 1024,
            idle_seconds: 1,
        }
    };
    let mut sizes = sizes;
    if let Some(n) = std::env::var("DSP_BENCH_RTT_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        sizes.rtt_calls = n;
    }
    let rtt_only = std::env::var("DSP_BENCH_RTT_ONLY").is_ok_and(|v| v == "1");
    let report = run(&sizes, rtt_only);
    if full && !rtt_only {
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
            .join("bench-results");
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("daemon.md"), &report))
        {
            eprintln!("daemon_overhead: cannot write the report: {e}");
            return ExitCode::FAILURE;
        }
    }
    print!("{report}");
    ExitCode::SUCCESS
}

fn run(sizes: &Sizes, rtt_only: bool) -> String {
    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    home.write_config(sandbox.profile(), |_| {});
    // Logging at info, as a daemon runs in practice (every request at
    // debug would be measured too).
    let daemon = Daemon::start_logging(&home, &["--software-card", card.to_str().unwrap()], "info");
    let pid = daemon.child.id();
    let mut client = daemon.client();

    // Idle first, before any session exists.
    let idle = if rtt_only {
        (0, 0.0)
    } else {
        idle_cost(pid, sizes.idle_seconds)
    };

    // IPC round trip against echoes of the same sizes, interleaved.
    let (status, request_len, response_len) = status_sizes(&mut client);
    let json_echo = json_echo(status);
    let mut echo_client = dspconnect::ipc::client::Client::connect(
        &dspconnect::ipc::Endpoint::at_path(json_echo.path.clone()),
        Duration::from_secs(60),
    )
    .expect("echo client");
    let raw_echo = raw_echo(response_len);
    let status_line = format!("{STATUS_REQUEST}\n");
    let mut bare_daemon = BareClient::connect(&daemon.socket);
    let mut bare_echo = BareClient::connect(&raw_echo.path);
    let (mut bare_rounds, mut client_rounds, mut json_rounds, mut raw_rounds) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RTT_ROUNDS {
        bare_rounds.push(time_per_call(sizes.rtt_calls, || {
            bare_daemon.round_trip(status_line.as_bytes());
        }));
        raw_rounds.push(time_per_call(sizes.rtt_calls, || {
            bare_echo.round_trip(status_line.as_bytes());
        }));
        client_rounds.push(time_per_call(sizes.rtt_calls, || {
            client.call::<StatusMethod>(&Empty {}).expect("status");
        }));
        json_rounds.push(time_per_call(sizes.rtt_calls, || {
            echo_client
                .call::<StatusMethod>(&Empty {})
                .expect("echoed status");
        }));
    }
    drop((echo_client, bare_daemon, bare_echo));
    json_echo.stop();
    raw_echo.stop();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let bare_rtt = micros(median(&mut bare_rounds));
    let client_rtt = micros(median(&mut client_rounds));
    let echo_rtt = micros(median(&mut json_rounds));
    let raw_rtt = micros(median(&mut raw_rounds));
    let rtt_rows = format!(
        "| IPC `status` round trip ({request_len} B → {response_len} B) as the daemon serves it: request line written, answer line read; median of {RTT_ROUNDS} rounds of {} calls | {bare_rtt:.1} µs | {raw_rtt:.1} µs bare echo (a thread answering each line with {response_len} bytes, same socket type, same client) | {:.2}× | ≤ 2× |\n\
         | the same call through dspconnect's client (encodes the request, parses the answer into `Status`), as dspctl and the C library make it | {client_rtt:.1} µs | {raw_rtt:.1} µs bare echo | {:.2}× | — |\n\
         | that client against a JSON-RPC echo (parses the request, serializes the same answer): the least a JSON-RPC server costs it | {client_rtt:.1} µs | {echo_rtt:.1} µs | {:.2}× | — |\n",
        sizes.rtt_calls,
        bare_rtt / raw_rtt,
        client_rtt / raw_rtt,
        client_rtt / echo_rtt,
    );
    if rtt_only {
        return format!(
            "## dspconnectd IPC round trip (`DSP_BENCH_RTT_ONLY=1`)\n\n\
             | measure | daemon | baseline | ratio | goal |\n\
             |---|---|---|---|---|\n\
             {rtt_rows}\n"
        );
    }

    // 1,000 pushes through the daemon, the unlock's authentication
    // included: the goal is one card signature for all of them.
    let signatures_before = card_authentications(&daemon);
    unlock(&mut client, &pin);
    // Rounds, each followed by its baseline (the machine may be shared:
    // each figure is the median of its rounds, the ratio the median of the
    // rounds' ratios).
    let mut rounds = Vec::new();
    for round in 0..PUSH_ROUNDS {
        let started = Instant::now();
        let mut jobs = Vec::with_capacity(sizes.pushes);
        for i in 0..sizes.pushes {
            jobs.push(
                client
                    .call::<Push>(&PushParams {
                        source: DocumentSource::Base64(base64_of(&pdf(sizes.push_bytes, i as u8))),
                        metadata: metadata(
                            MARIE,
                            &format!("Bench {round}-{i}"),
                            ConfidentialityMode::Normal,
                        ),
                    })
                    .expect("push")
                    .job_id,
            );
        }
        let acknowledged = started.elapsed();
        for job in &jobs {
            let done = wait_job(&mut client, job, Duration::from_secs(600));
            assert_eq!(done.state, JobState::Done, "{done:?}");
        }
        let daemon_pushes = started.elapsed();
        // The same submissions by the platform client alone.
        let bare_pushes = bare_submissions(&sandbox, &card, &pin, sizes, round);
        rounds.push((daemon_pushes, bare_pushes, acknowledged));
    }
    let signatures = card_authentications(&daemon) - signatures_before;
    let mut ratios: Vec<f64> = rounds
        .iter()
        .map(|(d, b, _)| d.as_secs_f64() / b.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let push_ratio = ratios[ratios.len() / 2];
    let all_ratios = ratios
        .iter()
        .map(|r| format!("{r:.2}"))
        .collect::<Vec<_>>()
        .join(", ");
    let daemon_pushes = median(&mut rounds.iter().map(|r| r.0).collect::<Vec<_>>());
    let bare_pushes = median(&mut rounds.iter().map(|r| r.1).collect::<Vec<_>>());
    let acknowledged = median(&mut rounds.iter().map(|r| r.2).collect::<Vec<_>>());

    // A big document: the daemon's resident set meanwhile.
    let big = home.path("home").join("big.pdf");
    std::fs::write(&big, pdf(sizes.big_bytes, 9)).expect("big document");
    let rss_before = rss_kib(pid);
    let sampler = RssSampler::start(pid);
    let accepted = client
        .call::<Push>(&PushParams {
            source: DocumentSource::Path(big.display().to_string()),
            metadata: metadata(MARIE, "Bench big", ConfidentialityMode::Normal),
        })
        .expect("big push");
    let done = wait_job(&mut client, &accepted.job_id, Duration::from_secs(900));
    assert_eq!(done.state, JobState::Done, "{done:?}");
    let rss_peak = sampler.stop();

    let growth_mib = rss_peak.saturating_sub(rss_before) as f64 / 1024.0;
    format!(
        "## dspconnectd overhead (`cargo bench -p dspconnectd --bench daemon_overhead`)\n\n\
         | measure | daemon | baseline | ratio | goal |\n\
         |---|---|---|---|---|\n\
         {rtt_rows}\
         | {} pushes of {} KB, until all registered (median of {PUSH_ROUNDS} rounds, each followed by its baseline; ratios {all_ratios}) | {:.2} s | {:.2} s platform client alone | {push_ratio:.2}× | ≤ 1.3× |\n\
         | the same pushes, until the last was acknowledged (spooled and fsynced) | {:.2} s | — | — | — |\n\
         | resident set while pushing {} MB | +{growth_mib:.1} MiB (from {:.1} MiB to {:.1} MiB) | — | — | ≤ +32 MiB |\n\
         | idle over {} s | {:.1} MiB resident, {:.2} % of one core | — | — | — |\n\
         | card signatures for the {} pushes | {signatures} | — | — | 1 |\n\n",
        sizes.pushes,
        sizes.push_bytes / 1024,
        daemon_pushes.as_secs_f64(),
        bare_pushes.as_secs_f64(),
        acknowledged.as_secs_f64(),
        sizes.big_bytes / (1024 * 1024),
        rss_before as f64 / 1024.0,
        rss_peak as f64 / 1024.0,
        sizes.idle_seconds,
        idle.0 as f64 / 1024.0,
        idle.1,
        sizes.pushes * PUSH_ROUNDS,
    )
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn time_per_call(n: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..n.min(100) {
        f();
    }
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    started.elapsed() / n as u32
}

fn median(rounds: &mut [Duration]) -> Duration {
    rounds.sort();
    rounds[rounds.len() / 2]
}

/// The daemon's status, and the byte sizes of a `status` request line and
/// its answer line.
fn status_sizes(client: &mut dspconnect::ipc::client::Client) -> (Status, usize, usize) {
    let status = client.call::<StatusMethod>(&Empty {}).expect("status");
    let request = STATUS_REQUEST.len() + 1;
    let response = serde_json::to_string(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "result": status
    }))
    .expect("json")
    .len()
        + 1;
    (status, request, response)
}

/// A thread serving one connection on a fresh socket: each line read is
/// answered with the line `answer` makes of it (newline included).
struct LineServer {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    thread: std::thread::JoinHandle<()>,
}

impl LineServer {
    fn start(mut answer: impl FnMut(&[u8]) -> Vec<u8> + Send + 'static) -> LineServer {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("echo.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        let thread = std::thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut writer = stream;
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if writer.write_all(&answer(&line)).is_err() {
                    break;
                }
            }
        });
        LineServer {
            _dir: dir,
            path,
            thread,
        }
    }

    /// Call after dropping the client.
    fn stop(self) {
        let _ = self.thread.join();
    }
}

/// The baseline of the `status` round trip through dspconnect's client:
/// the least a JSON-RPC server on the same kind of socket must do. Each
/// request line is parsed as a JSON-RPC request and answered with one
/// response line holding the daemon's own status (serialized anew each
/// time, so the answer has the same size and shape). It is called through
/// the same [`Client`] as the daemon, so both sides of the comparison pay
/// the same client costs.
///
/// [`Client`]: dspconnect::ipc::client::Client
fn json_echo(status: Status) -> LineServer {
    LineServer::start(move |line| {
        let request: Request = serde_json::from_slice(line).expect("a request");
        let response = Response {
            jsonrpc: "2.0".into(),
            id: request.id.unwrap_or_default(),
            result: Some(serde_json::to_value(&status).expect("status")),
            error: None,
        };
        let mut answer = serde_json::to_vec(&response).expect("json");
        answer.push(b'\n');
        answer
    })
}

/// The bare baseline: each line answered with a line of `response_len` bytes.
fn raw_echo(response_len: usize) -> LineServer {
    let mut answer = vec![b'x'; response_len - 1];
    answer.push(b'\n');
    LineServer::start(move |_| answer.clone())
}

/// The `status` request line as any client may write it.
const STATUS_REQUEST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"status","params":{}}"#;

/// The least a client can do: write a line, read the answer line, parse
/// nothing.
struct BareClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: Vec<u8>,
}

impl BareClient {
    fn connect(path: &Path) -> BareClient {
        let writer = UnixStream::connect(path).expect("connect");
        BareClient {
            reader: BufReader::new(writer.try_clone().expect("clone")),
            writer,
            line: Vec::new(),
        }
    }

    fn round_trip(&mut self, request: &[u8]) {
        self.writer.write_all(request).expect("write");
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line).expect("read");
        assert!(n > 0, "the server closed the connection");
    }
}

/// The same number of ITI-41 submissions of the same sizes, by the
/// platform client alone: one card authentication, then one submission
/// after the other (the jobs are prepared beforehand, not timed).
fn bare_submissions(
    sandbox: &ExternalSandbox,
    card_dir: &Path,
    pin: &str,
    sizes: &Sizes,
    round: usize,
) -> Duration {
    let profile = sandbox.profile();
    sandbox.runtime.block_on(async {
        let client = PlatformClient::new(&profile).expect("platform client");
        let card = SoftwareCard::load(card_dir).expect("card");
        let (reader, control) = software_reader(false);
        control.insert(&card);
        let (handle, mut events) = spawn_card_thread(Box::new(reader)).expect("card thread");
        let identity = loop {
            match events.recv().await.expect("card event") {
                CardEvent::CardInserted { identity, .. } => break identity,
                _ => continue,
            }
        };
        handle
            .verify_pin(identity.fingerprint, Pin::new(pin.to_owned()).expect("PIN"))
            .await
            .expect("PIN verified");
        let assertion = client
            .authenticate_with_card(CardSigner::new(handle.clone(), identity.clone()))
            .await
            .expect("authenticated");
        let spool = tempfile::tempdir().expect("spool");
        let outbox = Outbox::open(
            &spool.path().join("spool"),
            OutboxPolicy::from_config(&Default::default()),
            None,
        )
        .expect("outbox");
        let owner = dspconnectd::outbox::Owner::new(
            &identity.ehealth_id,
            &identity.fingerprint.to_string(),
        )
        .expect("owner");
        let mut records = Vec::new();
        for i in 0..sizes.pushes {
            let job = outbox
                .enqueue(EnqueueRequest {
                    source: ContentSource::Bytes(pdf(sizes.push_bytes, i as u8)),
                    metadata: metadata(
                        MARIE,
                        &format!("Bare {round}-{i}"),
                        ConfidentialityMode::Normal,
                    ),
                    replaces: None,
                    owner: owner.clone(),
                    access: None,
                    context: ResolveContext::from_profile(&profile),
                })
                .await
                .expect("enqueue");
            let record = outbox.record(&job.job_id).expect("record");
            let content = outbox.content_path(&job.job_id).expect("content path");
            records.push((record, content));
        }
        let started = Instant::now();
        for (record, content) in &records {
            let outcome = client.submit(&assertion, record, content).await;
            assert_eq!(outcome, UploadOutcome::Registered);
        }
        started.elapsed()
    })
}

/// How many times the daemon authenticated with the card (one card
/// signature each), from its log.
fn card_authentications(daemon: &Daemon) -> usize {
    daemon
        .logs()
        .matches("authenticating with the card")
        .count()
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// User + system CPU ticks of `pid`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ')'.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|s| s.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    utime + stime
}

/// Resident set (KiB) at the end and CPU share (% of one core) over `seconds` idle.
fn idle_cost(pid: u32, seconds: u64) -> (u64, f64) {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(seconds));
    let used = cpu_ticks(pid) - before;
    (
        rss_kib(pid),
        used as f64 / ticks_per_second / seconds as f64 * 100.0,
    )
}

/// Samples a process's resident set every 20 ms; `stop` gives the peak.
struct RssSampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        RssSampler { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}
