//! Crash campaign (long mode, `--ignored`): the real `dspconnectd`, its
//! drop folder watched while a writer drops 500 reports (`name.pdf.tmp`
//! renamed into place, with its sidecar), is killed with SIGKILL at random
//! points, restarted and unlocked again, 8 to 15 times. The platform is a
//! sandbox in this process, so it outlives every kill. At the end, after a
//! last clean start, every file is in `sent/` or `failed/` exactly once
//! (nothing left in the inbox, `queued/` or the folder itself), each
//! receipt's uniqueId is registered once in the sandbox's registry with the
//! file's SHA-1, and the patient has exactly as many new entries as there
//! are files in `sent/`.
//!
//! `DSP_CRASH_SEED` replays a run (the seed is printed at the start);
//! `DSP_CRASH_FILES` lowers the number of files for a debug run by hand:
//!
//! ```text
//! DSP_CRASH_FILES=100 cargo test -p dspconnectd --features dspconnectd/pcsc \
//!     --test drop_folder_crash -- --ignored --nocapture
//! ```

mod daemon_support;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use daemon_support::*;
use dspconnect::ipc::client::Client;
use dspconnect_sandbox::policy::PatientId;
use dspconnectd::drop_folder::{ErrorReport, Receipt};
use sha1::Digest as _;

/// Dr Weber (sandbox), Marie's referent GP: may upload for her.
const GP: &str = "SBX1001";
const MARIE: &str = "1945093006704";
const DEFAULT_FILES: usize = 500;
const SIDECAR: &str = ".dsp.json";
const RECEIPT: &str = ".receipt.json";
const ERROR: &str = ".error.json";

/// xorshift64*: deterministic from the printed seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    match std::env::var("DSP_CRASH_SEED") {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("DSP_CRASH_SEED={text:?} is not a number: {e}"))
        }
        Err(_) => {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("clock after 1970");
            now.as_secs() ^ u64::from(now.subsec_nanos()) << 20
        }
    }
}

fn file_count() -> usize {
    match std::env::var("DSP_CRASH_FILES") {
        Ok(text) => {
            let n: usize = text
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("DSP_CRASH_FILES={text:?} is not a count: {e}"));
            assert!(n > 0, "DSP_CRASH_FILES must be at least 1");
            n
        }
        Err(_) => DEFAULT_FILES,
    }
}

fn name_of(i: usize) -> String {
    format!("crash-{i:04}.pdf")
}

/// File `i`'s content: a PDF of 2 to 30 KB, unique to the run and the file
/// (the drop folder would rightly not send the same content twice).
fn content_of(seed: u64, i: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let size = 2_000 + rng.below(28_000) as usize;
    let mut pdf = format!("%PDF-1.7\n% crash campaign {seed:016x}, file {i}\n").into_bytes();
    while pdf.len() + 6 < size {
        pdf.push(b'a' + (rng.next() >> 59) as u8 % 26);
    }
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

fn sha1_hex(bytes: &[u8]) -> String {
    hex(&sha1::Sha1::digest(bytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` as `path.tmp`, then renames it into place.
fn drop_file(path: &Path, bytes: &[u8]) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// The drop-folder writer: the sidecar, then the document, one after the
/// other with random pauses, whether the daemon runs or not.
fn writer(folder: PathBuf, seed: u64, pace_seed: u64, files: usize, written: Arc<AtomicUsize>) {
    let mut rng = Rng::new(pace_seed);
    for i in 0..files {
        let name = name_of(i);
        let sidecar = serde_json::json!({
            "patient": MARIE,
            "title": name,
            "mode": "normal",
            "patient_statement": {"informed_and_agrees": true}
        });
        drop_file(
            &folder.join(format!("{name}{SIDECAR}")),
            sidecar.to_string().as_bytes(),
        );
        drop_file(&folder.join(&name), &content_of(seed, i));
        written.store(i + 1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(rng.below(160)));
    }
}

/// Starts the daemon on Dr Weber's card and unlocks it (the session does
/// not survive a kill); the client is kept with it.
fn start(home: &DaemonHome, card: &str, pin: &str) -> (Daemon, Client) {
    let daemon = Daemon::start_logging(home, &["--software-card", card], "info");
    let mut client = daemon.client();
    unlock(&mut client, pin);
    (daemon, client)
}

/// The files of `dir` (not recursing), by name; empty when it is missing.
fn names_in(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Everything under `dir`, recursively, relative to it.
fn all_under(dir: &Path) -> Vec<String> {
    all_bytes_under(dir)
        .into_iter()
        .map(|(p, _)| {
            p.strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Documents (not sidecars, receipts or error reports) among `names`.
fn documents(names: &BTreeSet<String>) -> BTreeSet<String> {
    names
        .iter()
        .filter(|n| ![SIDECAR, RECEIPT, ERROR].iter().any(|s| n.ends_with(s)))
        .cloned()
        .collect()
}

/// Whether every file is settled: in `sent/` with its receipt or in
/// `failed/` with its error report, and nothing is left to do.
fn settled(folder: &Path, names: &[String]) -> bool {
    let sent = names_in(&folder.join("sent"));
    let failed = names_in(&folder.join("failed"));
    let all_done = names.iter().all(|n| {
        (sent.contains(n) && sent.contains(&format!("{n}{RECEIPT}")))
            || (failed.contains(n) && failed.contains(&format!("{n}{ERROR}")))
    });
    all_done
        && names_in(&folder.join("queued")).is_empty()
        && all_under(&folder.join("inbox")).is_empty()
        && names_in(folder).is_empty()
}

fn progress(folder: &Path) -> String {
    format!(
        "{} in sent/, {} in failed/, {} in queued/, {} files in the folder itself",
        documents(&names_in(&folder.join("sent"))).len(),
        documents(&names_in(&folder.join("failed"))).len(),
        names_in(&folder.join("queued")).len(),
        names_in(folder).len(),
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
#[ignore = "long: crash campaign (scripts/test.sh --long)"]
fn every_dropped_file_ends_once_in_sent_or_failed_across_kill_9() {
    let seed = seed();
    let files = file_count();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("crash campaign: seed {seed} (replay with DSP_CRASH_SEED={seed}), {files} files");
    let mut rng = Rng::new(seed);
    let kills = 8 + rng.below(8) as usize;
    // Each kill comes a random time after the writer has dropped a random
    // number of files.
    let mut kill_points: Vec<usize> = (0..kills)
        .map(|_| rng.below(files as u64) as usize)
        .collect();
    kill_points.sort_unstable();
    let writer_seed = rng.next();

    let sandbox = ExternalSandbox::start();
    let home = DaemonHome::new();
    let (card, pin) = sandbox.export_card(GP, sandbox.dir.path());
    let card = card.display().to_string();
    let folder = home.path("home").join("DSP");
    fs::create_dir_all(&folder).expect("drop folder");
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o700)).expect("drop folder mode");
    let watched = folder.clone();
    home.write_config(sandbox.profile(), move |c| {
        c.drop_folder.path = Some(watched);
        c.drop_folder.poll_seconds = 1;
        c.drop_folder.settle_ms = 500;
        c.outbox.retry_base_seconds = 1;
        c.outbox.retry_max_seconds = 2;
    });
    let marie = PatientId::new(MARIE).expect("Marie's matricule");
    let before: HashSet<String> = sandbox
        .store()
        .documents_of_patient(&marie, None)
        .expect("Marie's documents before")
        .into_iter()
        .map(|d| d.entry_uuid)
        .collect();

    let started = Instant::now();
    let (mut daemon, mut client) = start(&home, &card, &pin);
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (folder, written) = (folder.clone(), written.clone());
        std::thread::spawn(move || writer(folder, seed, writer_seed, files, written))
    };
    let mut kill_log = Vec::new();
    for point in &kill_points {
        while written.load(Ordering::SeqCst) < *point && !writer.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(rng.below(1_500)));
        drop(client);
        daemon.kill9();
        kill_log.push(format!(
            "{:.1}s: {} written, {}",
            started.elapsed().as_secs_f64(),
            written.load(Ordering::SeqCst),
            progress(&folder)
        ));
        // Down for a while; the writer goes on (the daemon rescans on start).
        std::thread::sleep(Duration::from_millis(rng.below(1_500)));
        (daemon, client) = start(&home, &card, &pin);
    }
    writer.join().expect("the writer thread");

    // The last start is not killed: every file must settle.
    let names: Vec<String> = (0..files).map(name_of).collect();
    let within = Duration::from_secs(120) + Duration::from_millis(300) * files as u32;
    let deadline = Instant::now() + within;
    let mut problems = Vec::new();
    // Retries come within 2 s: a minute with no change at all is a stall.
    let stall = Duration::from_secs(60);
    let (mut last, mut last_change) = (progress(&folder), Instant::now());
    while !settled(&folder, &names) {
        let now = progress(&folder);
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
        if Instant::now() > deadline || last_change.elapsed() > stall {
            problems.push(format!(
                "not settled after the last start ({:.0} s, the last {:.0} s without any change): \
                 {last}\nkills (time since the first start: files written, state):\n{}\n\
                 last daemon's log:\n{}",
                started.elapsed().as_secs_f64(),
                last_change.elapsed().as_secs_f64(),
                kill_log.join("\n"),
                tail(&daemon.logs(), 40)
            ));
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let duration = started.elapsed();
    drop(client);
    daemon.stop();

    let sent_all = names_in(&folder.join("sent"));
    let failed_all = names_in(&folder.join("failed"));
    let sent = documents(&sent_all);
    let failed = documents(&failed_all);
    let expected: BTreeSet<String> = names.iter().cloned().collect();

    // Each file in exactly one of sent/ and failed/, under its own name (a
    // second copy would have come as `crash-0001 (2).pdf`), and nothing else.
    for name in sent.union(&failed) {
        if !expected.contains(name) {
            problems.push(format!(
                "unexpected document {name:?} (a second copy of a file?)"
            ));
        }
    }
    for name in &expected {
        match (sent.contains(name), failed.contains(name)) {
            (true, true) => problems.push(format!("{name} is in both sent/ and failed/")),
            (false, false) => {
                problems.push(format!("{name} is lost (in neither sent/ nor failed/)"))
            }
            _ => {}
        }
    }
    for (dir, all, docs, report) in [
        ("sent", &sent_all, &sent, RECEIPT),
        ("failed", &failed_all, &failed, ERROR),
    ] {
        for name in all {
            let doc = [SIDECAR, RECEIPT, ERROR]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            if !docs.contains(doc) {
                problems.push(format!("{dir}/{name} belongs to no document in {dir}/"));
            }
        }
        for doc in docs {
            if !all.contains(&format!("{doc}{report}")) {
                problems.push(format!("{dir}/{doc} has no {report}"));
            }
            if !all.contains(&format!("{doc}{SIDECAR}")) {
                problems.push(format!("{dir}/{doc} has no sidecar next to it"));
            }
        }
    }
    for leftover in names_in(&folder.join("queued")) {
        problems.push(format!("queued/{leftover} left behind"));
    }
    for leftover in all_under(&folder.join("inbox")) {
        problems.push(format!("inbox/{leftover} left behind"));
    }
    for leftover in names_in(&folder) {
        problems.push(format!("{leftover} left in the drop folder"));
    }

    // Receipts: the file as dropped, its content, not a duplicate.
    let contents: HashMap<String, (String, String)> = (0..files)
        .map(|i| {
            let c = content_of(seed, i);
            (name_of(i), (sha1_hex(&c), sha256_hex(&c)))
        })
        .collect();
    let mut receipts: BTreeMap<String, String> = BTreeMap::new(); // uniqueId → file
    for name in sent.intersection(&expected) {
        let path = folder.join("sent").join(format!("{name}{RECEIPT}"));
        let Ok(bytes) = fs::read(&path) else {
            continue; // reported above
        };
        let receipt: Receipt = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("sent/{name}{RECEIPT}: not a receipt: {e}"));
                continue;
            }
        };
        if receipt.file != *name || receipt.duplicate || receipt.patient != MARIE {
            problems.push(format!("sent/{name}{RECEIPT}: {receipt:?}"));
        }
        if receipt.sha256 != contents[name].1 {
            problems.push(format!("sent/{name}{RECEIPT}: SHA-256 is not the file's"));
        }
        if fs::read(folder.join("sent").join(name))
            .is_ok_and(|c| sha256_hex(&c) != contents[name].1)
        {
            problems.push(format!("sent/{name}: content changed"));
        }
        if let Some(other) = receipts.insert(receipt.unique_id.clone(), name.clone()) {
            problems.push(format!(
                "{name} and {other} have the same uniqueId {}",
                receipt.unique_id
            ));
        }
    }
    let mut failures = Vec::new();
    for name in failed.intersection(&expected) {
        let path = folder.join("failed").join(format!("{name}{ERROR}"));
        match fs::read(&path).map(|b| serde_json::from_slice::<ErrorReport>(&b)) {
            Ok(Ok(report)) => failures.push(format!("{name}: {} {}", report.code, report.reason)),
            Ok(Err(e)) => problems.push(format!("failed/{name}{ERROR}: not an error report: {e}")),
            Err(_) => {} // reported above
        }
    }

    // The registry: each receipt's uniqueId once, with the file's SHA-1;
    // no other new entry for Marie (a second registration of a file would
    // be one, under another uniqueId).
    let registered: Vec<_> = sandbox
        .store()
        .documents_of_patient(&marie, None)
        .expect("Marie's documents after")
        .into_iter()
        .filter(|d| !before.contains(&d.entry_uuid))
        .collect();
    let by_hash: HashMap<&str, &str> = contents
        .iter()
        .map(|(name, (sha1, _))| (sha1.as_str(), name.as_str()))
        .collect();
    let mut per_unique_id: HashMap<&str, usize> = HashMap::new();
    let mut per_file: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &registered {
        *per_unique_id.entry(d.unique_id.as_str()).or_default() += 1;
        match by_hash.get(d.hash.as_str()) {
            Some(name) => *per_file.entry(name).or_default() += 1,
            None => problems.push(format!(
                "registered {} has a content no file had (SHA-1 {})",
                d.unique_id, d.hash
            )),
        }
    }
    for (unique_id, name) in &receipts {
        match registered.iter().find(|d| d.unique_id == *unique_id) {
            None => problems.push(format!(
                "{name}: uniqueId {unique_id} is not in the registry"
            )),
            Some(d) if d.hash != contents[name].0 => problems.push(format!(
                "{name}: registered {unique_id} holds another content (SHA-1 {}, the file's {})",
                d.hash, contents[name].0
            )),
            Some(_) => {}
        }
    }
    for (unique_id, n) in &per_unique_id {
        if *n != 1 {
            problems.push(format!("uniqueId {unique_id} registered {n} times"));
        }
    }
    for (name, n) in &per_file {
        if *n != 1 {
            problems.push(format!("{name} registered {n} times"));
        }
        if failed.contains(*name) {
            problems.push(format!("{name} is in failed/ but was registered"));
        }
    }
    if registered.len() != sent.len() {
        problems.push(format!(
            "{} new registry entries for {} files in sent/",
            registered.len(),
            sent.len()
        ));
    }

    let summary = format!(
        "crash campaign ({profile}): seed {seed}, {files} files, {kills} kills, {} sent, {} failed, \
         {} registered, {:.1} s",
        sent.len(),
        failed.len(),
        registered.len(),
        duration.as_secs_f64()
    );
    println!("{summary}");
    println!("kills:\n{}", kill_log.join("\n"));
    write_bench_result(&summary, &problems);
    if !failures.is_empty() {
        println!("failed/:\n{}", failures.join("\n"));
    }
    if !problems.is_empty() {
        // Keep the daemon's folders (logs, spool, drop folder) to look at.
        let DaemonHome { dir } = home;
        let kept = dir.keep();
        panic!(
            "{summary}\nreplay with DSP_CRASH_SEED={seed}; the daemon's folders are kept in {}\n{}",
            kept.display(),
            problems.join("\n")
        );
    }
}

/// The run's line for docs/benchmarks.md: `<target>/bench-results/crash.md`,
/// gathered by `scripts/test.sh --long` (which runs this test in release).
fn write_bench_result(summary: &str, problems: &[String]) {
    let Some(target) = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_owned()))
    else {
        return;
    };
    let verdict = if problems.is_empty() {
        "every file in `sent/` or `failed/` exactly once, each sent document registered exactly once"
            .to_owned()
    } else {
        format!("**failed**: {}", problems.join("; "))
    };
    let text = format!(
        "## Drop folder crash campaign (`daemon/tests/drop_folder_crash.rs`, `--ignored`)\n\n\
         The real daemon killed with SIGKILL at random points while files are dropped, restarted \
         and unlocked again, against the sandbox in the test process (which outlives the kills); \
         checked against the sandbox's registry.\n\n{summary}: {verdict}.\n"
    );
    let dir = target.join("bench-results");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("crash.md"), text);
    }
}
