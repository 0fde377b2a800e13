//! The blocking convenience around [`MtomParser`]: drive it from a
//! [`Read`] and hand every event to a callback.

use std::io::{self, Read};

use super::parser::{MtomEvent, MtomLimits, MtomMessage, MtomParseError, MtomParser};

/// Size of the read buffer: large enough that per-call overhead vanishes
/// next to hashing, small enough to be the whole memory cost.
const READ_CHUNK: usize = 64 * 1024;

/// Why [`read_message`] failed.
#[derive(Debug, thiserror::Error)]
pub enum MtomReadError {
    #[error("MTOM body: {0}")]
    Parse(#[from] MtomParseError),
    #[error("reading the MTOM body failed: {0}")]
    Body(#[source] io::Error),
    #[error("the attachment handler failed: {0}")]
    Handler(#[source] io::Error),
}

/// Parses the MTOM body read from `body`, announced by `content_type`,
/// calling `on_event` for every event (attachment bytes arrive there, in
/// slices of at most 64 KiB). Returns the message once its final boundary
/// was read; the rest of `body` (epilogue) is not read.
pub fn read_message<R: Read>(
    content_type: &str,
    limits: MtomLimits,
    mut body: R,
    mut on_event: impl FnMut(&MtomEvent<'_>) -> io::Result<()>,
) -> Result<MtomMessage, MtomReadError> {
    let mut parser = MtomParser::new(content_type, limits)?;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let n = match body.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(MtomReadError::Body(e)),
        };
        if n == 0 {
            parser.end_input();
        } else {
            parser.feed(&chunk[..n]);
        }
        while let Some(event) = parser.next_event()? {
            on_event(&event).map_err(MtomReadError::Handler)?;
            if event == MtomEvent::End {
                return Ok(parser.into_message()?);
            }
        }
        if n == 0 {
            // end_input makes the parser either finish or fail; reaching
            // here would mean it asked for more input after the end.
            return Err(MtomParseError::NotFinished.into());
        }
    }
}
