//! Peak memory and throughput of MTOM streaming, against plain copying.
//!
//! Run (release build, about 10 s for the default 1 GiB):
//!
//! ```text
//! cargo bench -p ihe --bench mtom_memory
//! MTOM_BENCH_BYTES=104857600 cargo bench -p ihe --bench mtom_memory   # 100 MiB
//! ```
//!
//! Each measurement runs in a child process (this binary, re-executed with
//! `--child`), so that peaks never mix; the child reports its peak resident
//! set (VmHWM from /proc/self/status) and its time.
//! - (a) baseline: a generated document (never materialized) through
//!   `std::io::copy` into a SHA-1 sink;
//! - (b) the same document written as an MTOM body (`MtomLayout` +
//!   `MtomBody`) and parsed back (`read_message`) into a SHA-1 sink;
//! - (a0) and (b0): the same two paths into a sink that only counts, to
//!   show the cost of the MTOM layers apart from hashing.
//!
//! The Markdown section goes to `target/bench-results/mtom.md` (or under
//! `$CARGO_TARGET_DIR`); the test script gathers these sections into
//! docs/benchmarks.md. Run without `--bench` (as `cargo test --benches`
//! does), it only smoke-tests both paths on 8 MiB and writes nothing.

#[path = "../tests/support/generated_document.rs"]
mod generated_document;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use generated_document::{GeneratedDocument, HashingSink};
use ihe::mtom::{
    AttachmentSpec, MtomEvent, MtomLayout, MtomLimits, RootPart, href_for_content_id, read_message,
};

const DEFAULT_BYTES: u64 = 1 << 30;
const SMOKE_BYTES: u64 = 8 << 20;
const SEED: u64 = 0x5eed_1e55;

/// What one child reports.
struct Measurement {
    bytes: u64,
    seconds: f64,
    peak_rss_kib: u64,
    sha1: String,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        return run_child(args.get(at + 1).map(String::as_str), args.get(at + 2));
    }
    let full = args.iter().any(|a| a == "--bench");
    let bytes = if full {
        match std::env::var("MTOM_BENCH_BYTES") {
            Ok(value) => match value.parse() {
                Ok(n) => n,
                Err(_) => {
                    eprintln!("MTOM_BENCH_BYTES must be a byte count, got '{value}'");
                    return ExitCode::FAILURE;
                }
            },
            Err(_) => DEFAULT_BYTES,
        }
    } else {
        SMOKE_BYTES
    };
    match run_parent(bytes, full) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mtom_memory: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run_parent(bytes: u64, write_report: bool) -> Result<(), String> {
    let baseline = measure_in_child("baseline", bytes)?;
    let mtom = measure_in_child("mtom", bytes)?;
    let baseline_count = measure_in_child("baseline-count", bytes)?;
    let mtom_count = measure_in_child("mtom-count", bytes)?;
    if baseline.sha1 != mtom.sha1 || baseline.bytes != mtom.bytes {
        return Err(format!(
            "the MTOM path delivered different bytes: {} bytes sha1 {} vs baseline {} bytes sha1 {}",
            mtom.bytes, mtom.sha1, baseline.bytes, baseline.sha1
        ));
    }
    for counted in [&baseline_count, &mtom_count] {
        if counted.bytes != bytes {
            return Err(format!(
                "a counting run delivered {} of {bytes} bytes",
                counted.bytes
            ));
        }
    }
    let report = markdown(bytes, [&baseline, &mtom, &baseline_count, &mtom_count]);
    print!("{report}");
    if write_report {
        let dir = results_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let path = dir.join("mtom.md");
        std::fs::write(&path, &report).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("(written to {})", path.display());
    }
    Ok(())
}

fn results_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // The workspace root is the parent of this crate's directory.
            let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            manifest_dir
                .parent()
                .unwrap_or(&manifest_dir)
                .join("target")
        });
    target.join("bench-results")
}

fn measure_in_child(kind: &str, bytes: u64) -> Result<Measurement, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let output = Command::new(exe)
        .args(["--child", kind, &bytes.to_string()])
        .output()
        .map_err(|e| format!("cannot start the {kind} child: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{kind} child failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("{kind} child printed no RESULT line: {stdout}"))?;
    let field = |name: &str| {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| format!("{kind} child RESULT has no {name}: {line}"))
    };
    let number = |name: &str| -> Result<f64, String> {
        field(name)?
            .parse()
            .map_err(|_| format!("{kind} child RESULT {name} is not a number: {line}"))
    };
    Ok(Measurement {
        bytes: number("bytes")? as u64,
        seconds: number("seconds")?,
        peak_rss_kib: number("vmhwm_kib")? as u64,
        sha1: field("sha1")?.to_owned(),
    })
}

fn run_child(kind: Option<&str>, bytes: Option<&String>) -> ExitCode {
    let Some(bytes) = bytes.and_then(|b| b.parse::<u64>().ok()) else {
        eprintln!("usage: mtom_memory --child baseline|mtom BYTES");
        return ExitCode::FAILURE;
    };
    let started = Instant::now();
    let result = match kind {
        Some("baseline") => baseline(bytes, true).map_err(|e| e.to_string()),
        Some("mtom") => mtom_round_trip(bytes, true),
        Some("baseline-count") => baseline(bytes, false).map_err(|e| e.to_string()),
        Some("mtom-count") => mtom_round_trip(bytes, false),
        other => {
            eprintln!("unknown measurement {other:?}");
            return ExitCode::FAILURE;
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let sink = match result {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let peak = match peak_rss_kib() {
        Ok(kib) => kib,
        Err(e) => {
            eprintln!("cannot read VmHWM: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (length, sha1) = sink.finish();
    println!("RESULT bytes={length} seconds={seconds:.6} vmhwm_kib={peak} sha1={sha1}");
    ExitCode::SUCCESS
}

fn baseline(bytes: u64, hash: bool) -> io::Result<Sink> {
    let mut sink = Sink::new(hash);
    io::copy(&mut GeneratedDocument::new(bytes, SEED), &mut sink)?;
    sink.flush()?;
    Ok(sink)
}

fn mtom_round_trip(bytes: u64, hash: bool) -> Result<Sink, String> {
    let id = "document@dspconnect".to_string();
    let envelope = format!(
        "<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body>\
         <Document><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"{}\"/>\
         </Document></soap:Body></soap:Envelope>",
        href_for_content_id(&id)
    );
    let layout = MtomLayout::new(
        RootPart {
            content_id: "root@dspconnect".into(),
            envelope: envelope.into_bytes(),
        },
        vec![AttachmentSpec {
            content_id: id,
            content_type: "application/pdf".into(),
            length: bytes,
        }],
        Some("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"),
    )
    .map_err(|e| e.to_string())?;
    let content_type = layout.content_type().to_owned();
    let body = layout
        .into_reader(vec![GeneratedDocument::new(bytes, SEED)])
        .map_err(|e| e.to_string())?;
    let mut sink = Sink::new(hash);
    read_message(&content_type, MtomLimits::default(), body, |event| {
        if let MtomEvent::AttachmentData { data, .. } = event {
            sink.update(data);
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(sink)
}

fn peak_rss_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM line in /proc/self/status".to_owned())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A SHA-1 sink, or one that only counts.
enum Sink {
    Hashing(HashingSink),
    Counting { length: u64 },
}

impl Sink {
    fn new(hash: bool) -> Sink {
        if hash {
            Sink::Hashing(HashingSink::default())
        } else {
            Sink::Counting { length: 0 }
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Sink::Hashing(sink) => sink.update(data),
            Sink::Counting { length } => *length += data.len() as u64,
        }
    }

    /// (length, SHA-1 hex or "-").
    fn finish(self) -> (u64, String) {
        match self {
            Sink::Hashing(sink) => (sink.length, sink.hex_digest()),
            Sink::Counting { length } => (length, "-".to_owned()),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn markdown(bytes: u64, [baseline, mtom, baseline_count, mtom_count]: [&Measurement; 4]) -> String {
    let rate = |m: &Measurement| m.bytes as f64 / m.seconds / 1e6;
    let ratio = mtom.peak_rss_kib as f64 / baseline.peak_rss_kib as f64;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let row = |label: &str, m: &Measurement| {
        format!(
            "| {label} | {:.1} MiB | {:.0} MB/s |\n",
            mib(m.peak_rss_kib),
            rate(m)
        )
    };
    format!(
        "## MTOM streaming: peak memory (`ihe/benches/mtom_memory.rs`)\n\
         \n\
         A {size:.0} MiB generated document (never materialized) at the end of \
         each chain; each row is one child process, peak resident set = VmHWM \
         of that process. Release build, {cores} cores. Run with \
         `cargo bench -p ihe --bench mtom_memory`.\n\
         \n\
         | path | peak RSS | throughput |\n\
         |---|---:|---:|\n\
         {a}{b}{a0}{b0}\
         \n\
         Peak RSS ratio b/a: **{ratio:.2}** (b − a = {delta_kib} KiB). Both \
         hashing paths delivered the same {bytes} bytes (SHA-1 {sha1}).\n",
        size = bytes as f64 / (1024.0 * 1024.0),
        a = row("(a) baseline: `std::io::copy` into a SHA-1 sink", baseline),
        b = row(
            "(b) MTOM write (`MtomBody`) then parse (`read_message`) into a SHA-1 sink",
            mtom
        ),
        a0 = row("(a0) as (a), sink only counts", baseline_count),
        b0 = row("(b0) as (b), sink only counts", mtom_count),
        delta_kib = mtom.peak_rss_kib as i64 - baseline.peak_rss_kib as i64,
        sha1 = mtom.sha1,
    )
}
