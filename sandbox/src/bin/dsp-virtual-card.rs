//! `dsp-virtual-card`: a sandbox LuxTrust test card in pcsc-lite's virtual
//! reader (vpcd), inserted and removed on command. See
//! `dspconnect_sandbox::virtual_card` and docs/card.md.
//!
//! ```sh
//! dspconnect-sandbox export-card SBX1001 /tmp/card   # a card export
//! dsp-virtual-card --card /tmp/card --inserted        # in reader 0
//! ```
//!
//! Commands on standard input, one per line: `insert [PORT]`, `remove`,
//! `status`, `quit`. Standard output says `ready`, `inserted PORT`,
//! `removed`, `status inserted=… tries_left=… signatures=… verifies=…`;
//! standard error logs each APDU's command and status (never a PIN).

use std::io::{BufRead, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Parser;
use dspconnect_sandbox::pki::CardCredentials;
use dspconnect_sandbox::virtual_card::{
    Applet, Insertion, SharedApplet, VPCD_FIRST_PORT, lock, serve,
};

#[derive(Parser)]
#[command(about = "A sandbox LuxTrust test card in pcsc-lite's virtual reader (vpcd)")]
struct Args {
    /// A card export directory (`dspconnect-sandbox export-card`).
    #[arg(long)]
    card: PathBuf,
    /// vpcd's port: 35963 is reader `Virtual PCD 00 00`, 35964 `00 01`.
    #[arg(long, default_value_t = VPCD_FIRST_PORT)]
    port: u16,
    /// vpcd's host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Insert the card at start.
    #[arg(long)]
    inserted: bool,
    /// How long to keep trying to reach vpcd (pcscd starting).
    #[arg(long, default_value_t = 10)]
    connect_timeout_seconds: u64,
}

struct Slot {
    insertion: Insertion,
    worker: JoinHandle<()>,
}

fn connect(host: &str, port: u16, patience: Duration) -> std::io::Result<TcpStream> {
    let deadline = Instant::now() + patience;
    loop {
        match TcpStream::connect((host, port)) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed stdout only means nobody listens.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn insert(args: &Args, port: u16, applet: &SharedApplet) -> Result<Slot, String> {
    let patience = Duration::from_secs(args.connect_timeout_seconds);
    let stream = connect(&args.host, port, patience).map_err(|e| {
        format!(
            "cannot reach vpcd on {}:{port}: {e}; is pcscd running with vsmartcard-vpcd \
             installed (`pcscd -f -a`)?",
            args.host
        )
    })?;
    let insertion = Insertion::new(&stream).map_err(|e| e.to_string())?;
    let applet = applet.clone();
    let worker = std::thread::spawn(move || {
        let mut log = |logged: &dspconnect_sandbox::virtual_card::Logged| {
            eprintln!("apdu {} {:04X}", logged.command, logged.status);
        };
        if let Err(e) = serve(stream, &applet, &mut log) {
            eprintln!("vpcd connection ended: {e}");
        }
        lock(&applet).reset();
    });
    Ok(Slot { insertion, worker })
}

fn remove(slot: Option<Slot>) {
    if let Some(slot) = slot {
        slot.insertion.remove();
        // The worker ends when its connection does.
        let _ = slot.worker.join();
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let credentials = match CardCredentials::load(&args.card) {
        Ok(credentials) => credentials,
        Err(e) => {
            eprintln!("dsp-virtual-card: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "virtual LuxTrust card of {} (SANDBOX test card)",
        credentials.professional.name
    );
    let applet: SharedApplet = Arc::new(Mutex::new(Applet::new(credentials)));
    let mut slot: Option<(u16, Slot)> = None;
    if args.inserted {
        match insert(&args, args.port, &applet) {
            Ok(s) => {
                say(&format!("inserted {}", args.port));
                slot = Some((args.port, s));
            }
            Err(e) => {
                eprintln!("dsp-virtual-card: {e}");
                return ExitCode::from(1);
            }
        }
    }
    say("ready");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let mut words = line.split_whitespace();
        match words.next() {
            Some("insert") => {
                let port = match words.next().map(str::parse::<u16>) {
                    None => args.port,
                    Some(Ok(port)) => port,
                    Some(Err(_)) => {
                        say("error: insert takes a port number");
                        continue;
                    }
                };
                remove(slot.take().map(|(_, s)| s));
                match insert(&args, port, &applet) {
                    Ok(s) => {
                        slot = Some((port, s));
                        say(&format!("inserted {port}"));
                    }
                    Err(e) => say(&format!("error: {e}")),
                }
            }
            Some("remove") => {
                remove(slot.take().map(|(_, s)| s));
                say("removed");
            }
            Some("status") => {
                let card = lock(&applet);
                say(&format!(
                    "status inserted={} tries_left={} signatures={} verifies={}",
                    slot.as_ref()
                        .map_or("no".to_owned(), |(p, _)| p.to_string()),
                    card.tries_left(),
                    card.signatures,
                    card.verifies
                ));
            }
            Some("quit") => break,
            Some(other) => say(&format!(
                "error: unknown command '{other}' (insert [PORT], remove, status, quit)"
            )),
            None => {}
        }
    }
    remove(slot.take().map(|(_, s)| s));
    ExitCode::SUCCESS
}
