//! A deterministic document of any length, produced on the fly (never
//! materialized), shared by the MTOM tests and the memory benchmark.
//!
//! Every 4 KiB block starts with `CRLF--MIMEBoundary_`, the prefix of every
//! delimiter `MtomLayout::new` generates, so the parser's partial-match path
//! runs all the time; the rest is xorshift noise (incompressible, with CR,
//! LF and `-` bytes at their natural rate).

use std::io::{self, Read};

const BLOCK: usize = 4096;
const NEAR_DELIMITER: &[u8] = b"\r\n--MIMEBoundary_";

pub struct GeneratedDocument {
    remaining: u64,
    state: u64,
    block: Box<[u8; BLOCK]>,
    block_pos: usize,
}

impl GeneratedDocument {
    pub fn new(length: u64, seed: u64) -> Self {
        GeneratedDocument {
            remaining: length,
            // xorshift must not start at 0.
            state: seed | 1,
            block: Box::new([0; BLOCK]),
            block_pos: BLOCK,
        }
    }

    fn refill(&mut self) {
        for word in self.block.chunks_exact_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            word.copy_from_slice(&self.state.to_le_bytes());
        }
        self.block[..NEAR_DELIMITER.len()].copy_from_slice(NEAR_DELIMITER);
        self.block_pos = 0;
    }
}

impl Read for GeneratedDocument {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < buf.len() && self.remaining > 0 {
            if self.block_pos == BLOCK {
                self.refill();
            }
            let n = (BLOCK - self.block_pos)
                .min(buf.len() - written)
                .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
            buf[written..written + n]
                .copy_from_slice(&self.block[self.block_pos..self.block_pos + n]);
            self.block_pos += n;
            written += n;
            self.remaining -= n as u64;
        }
        Ok(written)
    }
}

/// An `io::Write` sink that only hashes (SHA-1, the XDS document hash) and
/// counts what it receives.
#[derive(Default)]
pub struct HashingSink {
    hasher: sha1::Sha1,
    pub length: u64,
}

impl HashingSink {
    pub fn update(&mut self, data: &[u8]) {
        use sha1::Digest;
        self.hasher.update(data);
        self.length += data.len() as u64;
    }

    pub fn hex_digest(self) -> String {
        use sha1::Digest;
        self.hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl io::Write for HashingSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
