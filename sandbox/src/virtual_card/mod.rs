//! The virtual LuxTrust card: a sandbox card export (certificate and key
//! from the sandbox's LuxTrust test CA, and its PIN) behind the card's APDU
//! set ([`applet`]), inserted into pcsc-lite's virtual reader driver
//! **vpcd** (package `vsmartcard-vpcd`). pcscd listens; the card connects
//! to it as a TCP client (reader `Virtual PCD 00 00` on port 35963,
//! `Virtual PCD 00 01` on 35964). Connecting is inserting the card,
//! closing the connection is removing it.
//!
//! The wire, both directions: a 2-byte big-endian length, then the
//! payload. A 1-byte payload is a control byte (0 power off, 1 power on,
//! 2 reset, 4 ATR request — answered with the ATR, the others with
//! nothing); anything longer is a command APDU, answered with the
//! response APDU. pcscd's driver writes the length and the payload
//! separately, so the card sets `TCP_QUICKACK` before each read, or every
//! APDU waits ~40 ms for a delayed ACK.

pub mod applet;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use applet::{ATR, Applet, Logged};

/// The first vpcd reader's port (`Virtual PCD 00 00`).
pub const VPCD_FIRST_PORT: u16 = 35963;

const POWER_OFF: u8 = 0;
const POWER_ON: u8 = 1;
const RESET: u8 = 2;
const GET_ATR: u8 = 4;

/// The applet shared between the connection and whoever controls the card.
pub type SharedApplet = Arc<Mutex<Applet>>;

pub fn lock(applet: &SharedApplet) -> MutexGuard<'_, Applet> {
    // The applet's fields are each updated in one statement.
    applet.lock().unwrap_or_else(PoisonError::into_inner)
}

fn quick_ack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        // Only latency depends on it.
        let _ = rustix::net::sockopt::set_tcp_quickack(stream, true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    quick_ack(stream);
    let mut length = [0u8; 2];
    match stream.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(length))];
    quick_ack(stream);
    stream.read_exact(&mut payload)?;
    Ok(Some(payload))
}

fn write_frame(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let length = u16::try_from(payload.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "response too long for vpcd"))?;
    let mut frame = Vec::with_capacity(2 + payload.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

/// Serves vpcd on `stream` until it closes (the card was removed, or
/// pcscd stopped). `log` hears every APDU's command name and status.
pub fn serve(
    mut stream: TcpStream,
    applet: &SharedApplet,
    log: &mut dyn FnMut(&Logged),
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    while let Some(mut payload) = read_frame(&mut stream)? {
        match payload.as_slice() {
            [POWER_OFF] | [POWER_ON] | [RESET] => lock(applet).reset(),
            [GET_ATR] => write_frame(&mut stream, &ATR)?,
            [_] => {}
            apdu => {
                let (response, logged) = lock(applet).process(apdu);
                log(&logged);
                write_frame(&mut stream, &response)?;
            }
        }
        zeroize::Zeroize::zeroize(&mut payload);
    }
    Ok(())
}

/// A connection to vpcd that another thread can cut (card removal).
pub struct Insertion {
    stream: TcpStream,
}

impl Insertion {
    pub fn new(stream: &TcpStream) -> io::Result<Self> {
        Ok(Insertion {
            stream: stream.try_clone()?,
        })
    }

    /// Pulls the card out: the connection closes, vpcd reports removal.
    pub fn remove(&self) {
        // Already closed is fine.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
