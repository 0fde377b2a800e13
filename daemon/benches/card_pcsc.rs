//! The card layer's speed through a real pcscd and the virtual LuxTrust
//! card (issue 5's goal: an APDU round trip ≤ 1 ms):
//!
//! - APDU round trip (SELECT of the application) through PC/SC (pcscd,
//!   vpcd, the virtual card), against the same exchange sent straight to
//!   the virtual card over its vpcd TCP framing (no pcscd): the baseline;
//! - a full signature as the daemon makes it (SELECT, MSE:SET, PSO:CDS
//!   after a VERIFY), against signing the same DigestInfo in process with
//!   the same key.
//!
//! `cargo bench -p dspconnectd --features pcsc --bench card_pcsc` writes
//! `target/bench-results/card.md` (needs `pcscd -f -a` with vpcd);
//! without `--bench` it runs a small smoke version and writes nothing.

#[path = "../tests/daemon_support/mod.rs"]
mod daemon_support;

use std::ffi::CString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use daemon_support::ExternalSandbox;
use dspconnect::model::Pin;
use dspconnectd::card::apdu::{Transmit, TransmitError};
use dspconnectd::card::luxtrust;
use ihe::dsig::{RsaSoftwareSigner, SignatureAlgorithm, Signer};

const READER: &str = "Virtual PCD 00 00";
const READER_PORT: u16 = 35963;

struct CardOverPcsc<'a>(&'a pcsc::Card);

impl Transmit for CardOverPcsc<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransmitError> {
        let mut buffer = [0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        self.0
            .transmit(command, &mut buffer)
            .map(<[u8]>::to_vec)
            .map_err(|e| TransmitError::Reader(e.to_string()))
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn virtual_card(card: &Path, port: u16) -> Child {
    let exe = Path::new(env!("CARGO_BIN_EXE_dspconnectd")).with_file_name("dsp-virtual-card");
    let mut child = Command::new(exe)
        .arg("--card")
        .arg(card)
        .args(["--port", &port.to_string(), "--inserted"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dsp-virtual-card starts (build the workspace first)");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    for line in lines.by_ref() {
        if line.expect("line") == "ready" {
            break;
        }
    }
    child
}

fn select_apdu() -> Vec<u8> {
    let mut apdu = vec![
        0x00,
        0xA4,
        0x04,
        0x0C,
        luxtrust::APPLICATION_AID.len() as u8,
    ];
    apdu.extend_from_slice(&luxtrust::APPLICATION_AID);
    apdu
}

/// The baseline: vpcd's framing straight to the card, as pcscd's driver
/// sends it (length and payload written separately).
fn bare_round_trips(card: &Path, rounds: usize) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let mut child = virtual_card(card, port);
    let (mut stream, _) = listener.accept().expect("the card connects");
    stream.set_nodelay(true).expect("nodelay");
    let exchange = |stream: &mut TcpStream, payload: &[u8]| -> Vec<u8> {
        stream
            .write_all(&(payload.len() as u16).to_be_bytes())
            .expect("length");
        stream.write_all(payload).expect("payload");
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).expect("answer length");
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut answer).expect("answer");
        answer
    };
    // Power on, as the driver does; it is answered with nothing.
    stream.write_all(&[0, 1, 1]).expect("power on");
    let select = select_apdu();
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let answer = exchange(&mut stream, &select);
        samples.push(start.elapsed());
        assert_eq!(answer, [0x90, 0x00]);
    }
    let _ = child.kill();
    let _ = child.wait();
    median(samples)
}

struct PcscFigures {
    apdu: Duration,
    signature: Duration,
}

fn pcsc_figures(card: &Path, pin: &str, rounds: usize, signatures: usize) -> PcscFigures {
    let mut child = virtual_card(card, READER_PORT);
    let context = pcsc::Context::establish(pcsc::Scope::User).expect("PC/SC context");
    let reader = CString::new(READER).expect("name");
    let deadline = Instant::now() + Duration::from_secs(10);
    let card_handle = loop {
        match context.connect(&reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) {
            Ok(card) => break card,
            Err(e) if Instant::now() > deadline => panic!("the virtual card is not seen: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let select = select_apdu();
    let mut buffer = [0u8; 258];
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        let answer = card_handle
            .transmit(&select, &mut buffer)
            .expect("transmit");
        samples.push(start.elapsed());
        assert_eq!(answer, [0x90, 0x00]);
    }
    let apdu = median(samples);
    let mut channel = CardOverPcsc(&card_handle);
    let outcome =
        luxtrust::verify(&mut channel, &Pin::new(pin.to_owned()).expect("PIN")).expect("VERIFY");
    assert_eq!(outcome, dspconnectd::card::PinOutcome::Verified);
    let digest = [7u8; 32];
    let mut samples = Vec::with_capacity(signatures);
    for _ in 0..signatures {
        let start = Instant::now();
        let signature =
            luxtrust::sign(&mut channel, SignatureAlgorithm::RsaSha256, &digest).expect("sign");
        samples.push(start.elapsed());
        assert_eq!(signature.len(), 256);
    }
    drop(card_handle);
    let _ = child.kill();
    let _ = child.wait();
    PcscFigures {
        apdu,
        signature: median(samples),
    }
}

fn software_signature(card: &Path, signatures: usize) -> Duration {
    let credentials = dspconnect_sandbox::pki::CardCredentials::load(card).expect("card export");
    let signer = RsaSoftwareSigner::new(
        credentials.private_key.clone(),
        credentials.certificate_der.clone(),
    )
    .expect("key");
    let digest = [7u8; 32];
    let mut samples = Vec::with_capacity(signatures);
    for _ in 0..signatures {
        let start = Instant::now();
        let signature = signer
            .sign_prehashed(SignatureAlgorithm::RsaSha256, &digest)
            .expect("sign");
        samples.push(start.elapsed());
        assert_eq!(signature.len(), 256);
    }
    median(samples)
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() -> ExitCode {
    let full = std::env::args().any(|a| a == "--bench");
    if !Path::new("/run/pcscd/pcscd.comm").exists() {
        eprintln!("card_pcsc: pcscd is not running (start `pcscd -f -a` with vpcd); skipped");
        return if full {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let (rounds, signatures) = if full { (2_000, 50) } else { (20, 2) };
    let sandbox = ExternalSandbox::start();
    let (card, pin) = sandbox.export_card("SBX1001", sandbox.dir.path());
    let bare = bare_round_trips(&card, rounds);
    let pcsc = pcsc_figures(&card, &pin, rounds, signatures);
    let software = software_signature(&card, signatures);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    let report = format!(
        "## Card through pcscd (virtual LuxTrust card)\n\n\
         `cargo bench -p dspconnectd --features pcsc --bench card_pcsc`: {rounds} SELECTs, \
         {signatures} signatures (medians).\n\n\
         | measure | dspconnect | baseline | ratio | goal |\n|---|---|---|---|---|\n\
         | APDU round trip through pcscd + vpcd vs straight to the card's socket | {} | {} | {:.2}× | ≤ 1 ms: {} |\n\
         | signature on the card (SELECT, MSE:SET, PSO:CDS) vs in-process RSA with the same key | {} | {} | {:.2}× | — |\n",
        micros(pcsc.apdu),
        micros(bare),
        ratio(pcsc.apdu, bare),
        if pcsc.apdu <= Duration::from_millis(1) {
            "met"
        } else {
            "NOT met"
        },
        micros(pcsc.signature),
        micros(software),
        ratio(pcsc.signature, software),
    );
    if full {
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
            .join("bench-results");
        if let Err(e) = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("card.md"), &report))
        {
            eprintln!("card_pcsc: cannot write the report: {e}");
            return ExitCode::FAILURE;
        }
    }
    print!("{report}");
    ExitCode::SUCCESS
}
