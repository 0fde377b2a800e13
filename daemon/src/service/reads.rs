//! Documents retrieved for chunked reading (`document.open_read`): held in
//! memory only (never written to disk by us), for a limited time, and
//! zeroized when released.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use dspconnect::ErrorCode;
use dspconnect::ipc::protocol::{Chunk, MAX_CHUNK_BYTES, ReadHandle, RpcError};
use uuid::Uuid;
use zeroize::Zeroizing;

/// Largest document `document.open_read` holds; larger ones go to a file
/// with `document.get`.
pub const MAX_OPEN_READ_BYTES: u64 = 64 * 1024 * 1024;

/// Documents open at once (all connections together).
const MAX_OPEN_READS: usize = 16;

/// An open document not read for this long is released.
const IDLE_EXPIRY: Duration = Duration::from_secs(10 * 60);

struct OpenRead {
    content: Zeroizing<Vec<u8>>,
    last_used: Instant,
}

#[derive(Default)]
pub struct OpenReads {
    open: Mutex<HashMap<String, OpenRead>>,
}

impl OpenReads {
    /// Keeps `content` for reading; answers its handle.
    pub fn open(&self, content: Vec<u8>, mime_type: String) -> Result<ReadHandle, RpcError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        open.retain(|_, r| now.duration_since(r.last_used) < IDLE_EXPIRY);
        if open.len() >= MAX_OPEN_READS {
            return Err(RpcError::new(
                ErrorCode::InvalidArgument,
                format!("{MAX_OPEN_READS} documents are already open for reading"),
            )
            .with_hint("close the ones you have read (document.close_read), then try again"));
        }
        let read_id = Uuid::new_v4().to_string();
        let size = content.len() as u64;
        open.insert(
            read_id.clone(),
            OpenRead {
                content: Zeroizing::new(content),
                last_used: now,
            },
        );
        Ok(ReadHandle {
            read_id,
            size,
            mime_type,
        })
    }

    /// Up to `length` bytes from `offset`.
    pub fn chunk(&self, read_id: &str, offset: u64, length: u32) -> Result<Chunk, RpcError> {
        if length as usize > MAX_CHUNK_BYTES || length == 0 {
            return Err(RpcError::new(
                ErrorCode::InvalidArgument,
                format!("length must be between 1 and {MAX_CHUNK_BYTES} bytes, not {length}"),
            )
            .with_field("length"));
        }
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let read = open.get_mut(read_id).ok_or_else(|| unknown(read_id))?;
        read.last_used = Instant::now();
        let size = read.content.len() as u64;
        if offset > size {
            return Err(RpcError::new(
                ErrorCode::InvalidArgument,
                format!("offset {offset} is past the end of the document ({size} bytes)"),
            )
            .with_field("offset"));
        }
        // Both bounds are within the content, whose length fits usize.
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start
            .saturating_add(length as usize)
            .min(read.content.len());
        Ok(Chunk {
            data: base64::engine::general_purpose::STANDARD.encode(&read.content[start..end]),
            eof: end == read.content.len(),
        })
    }

    pub fn close(&self, read_id: &str) -> Result<(), RpcError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.remove(read_id)
            .map(|_| ())
            .ok_or_else(|| unknown(read_id))
    }
}

fn unknown(read_id: &str) -> RpcError {
    RpcError::new(
        ErrorCode::InvalidArgument,
        format!("no open document '{read_id}' (closed, or released after 10 minutes unused)"),
    )
    .with_field("read_id")
    .with_hint("open it again with document.open_read")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_document_and_end_with_eof() {
        let reads = OpenReads::default();
        let handle = reads
            .open(b"0123456789".to_vec(), "text/plain".into())
            .unwrap();
        assert_eq!(handle.size, 10);
        let first = reads.chunk(&handle.read_id, 0, 4).unwrap();
        assert!(!first.eof);
        assert_eq!(
            first.data,
            base64::engine::general_purpose::STANDARD.encode(b"0123")
        );
        let last = reads.chunk(&handle.read_id, 8, 4).unwrap();
        assert!(last.eof);
        assert_eq!(
            last.data,
            base64::engine::general_purpose::STANDARD.encode(b"89")
        );
        let past = reads.chunk(&handle.read_id, 11, 4).unwrap_err();
        assert_eq!(past.data.field.as_deref(), Some("offset"));
        reads.close(&handle.read_id).unwrap();
        let closed = reads.chunk(&handle.read_id, 0, 4).unwrap_err();
        assert_eq!(closed.data.field.as_deref(), Some("read_id"));
    }

    #[test]
    fn oversized_chunks_name_the_length() {
        let reads = OpenReads::default();
        let handle = reads.open(vec![0; 10], "text/plain".into()).unwrap();
        let e = reads
            .chunk(&handle.read_id, 0, MAX_CHUNK_BYTES as u32 + 1)
            .unwrap_err();
        assert_eq!(e.data.field.as_deref(), Some("length"));
    }
}
