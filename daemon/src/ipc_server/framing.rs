//! Line framing with a hard cap: a line longer than the cap is reported once
//! and then skipped up to its newline without ever being held in memory, so
//! a 100 MB junk line costs the daemon at most one cap's worth of buffer.

use tokio::io::{AsyncRead, AsyncReadExt};

/// How much is read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// What the reader produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete line, newline (and a trailing `\r`) removed.
    Line(Vec<u8>),
    /// A line went past the cap; its bytes are being discarded up to the
    /// next newline. Reported as soon as the cap is crossed.
    TooLong,
}

/// Reads newline-terminated lines of at most `max_line` bytes.
pub(crate) struct LineReader<R> {
    reader: R,
    max_line: usize,
    buffer: Vec<u8>,
    /// `buffer[..scanned]` holds no newline.
    scanned: usize,
    /// Inside an over-long line: bytes are dropped until a newline.
    discarding: bool,
    eof: bool,
    chunk: Box<[u8]>,
    /// The largest buffer capacity seen, for the memory-bound test.
    #[cfg(test)]
    high_water: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub(crate) fn new(reader: R, max_line: usize) -> Self {
        LineReader {
            reader,
            max_line,
            buffer: Vec::new(),
            scanned: 0,
            discarding: false,
            eof: false,
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
            #[cfg(test)]
            high_water: 0,
        }
    }

    /// The next frame; `None` at the end of the stream. A last line without
    /// a newline is still delivered (a client may close its write side right
    /// after its request).
    pub(crate) async fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            if !self.discarding {
                if let Some(offset) = memchr::memchr(b'\n', &self.buffer[self.scanned..]) {
                    let end = self.scanned + offset;
                    self.scanned = 0;
                    if end > self.max_line {
                        self.buffer.drain(..=end);
                        return Ok(Some(Frame::TooLong));
                    }
                    let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                    self.release_spare_memory();
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Ok(Some(Frame::Line(line)));
                }
                self.scanned = self.buffer.len();
                if self.buffer.len() > self.max_line {
                    self.start_discarding();
                    return Ok(Some(Frame::TooLong));
                }
            }
            if self.eof {
                if self.discarding || self.buffer.is_empty() {
                    return Ok(None);
                }
                self.scanned = 0;
                return Ok(Some(Frame::Line(std::mem::take(&mut self.buffer))));
            }
            let n = self.reader.read(&mut self.chunk).await?;
            if n == 0 {
                self.eof = true;
                continue;
            }
            let read = &self.chunk[..n];
            if self.discarding {
                if let Some(pos) = memchr::memchr(b'\n', read) {
                    self.discarding = false;
                    self.buffer.extend_from_slice(&read[pos + 1..]);
                }
            } else {
                self.buffer.extend_from_slice(read);
            }
            #[cfg(test)]
            {
                self.high_water = self.high_water.max(self.buffer.capacity());
            }
        }
    }

    /// One big message must not pin its buffer for the connection's life.
    fn release_spare_memory(&mut self) {
        if self.buffer.capacity() > 4 * READ_CHUNK && self.buffer.len() <= READ_CHUNK {
            self.buffer.shrink_to(READ_CHUNK);
        }
    }

    fn start_discarding(&mut self) {
        self.discarding = true;
        self.scanned = 0;
        // Give the memory back: an attacker's line must not keep a
        // megabyte per connection alive.
        self.buffer = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    async fn frames(input: &[u8], max: usize) -> Vec<Frame> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().await.unwrap() {
            out.push(f);
        }
        out
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        let got = run(frames(b"a\nbc\r\n\nlast", 10));
        assert_eq!(got, vec![line("a"), line("bc"), line(""), line("last")]);
    }

    #[test]
    fn a_line_of_exactly_the_cap_passes_and_one_more_byte_does_not() {
        let mut input = vec![b'x'; 8];
        input.push(b'\n');
        input.extend(vec![b'y'; 9]);
        input.extend(b"\nok\n");
        let got = run(frames(&input, 8));
        assert_eq!(
            got,
            vec![Frame::Line(vec![b'x'; 8]), Frame::TooLong, line("ok")]
        );
    }

    #[test]
    fn an_over_long_line_is_reported_once_and_skipped() {
        // Longer than one read chunk, so the discarding spans many reads.
        let mut input = vec![b'j'; 5 * READ_CHUNK + 17];
        input.extend(b"\nnext\n");
        let got = run(frames(&input, 1000));
        assert_eq!(got, vec![Frame::TooLong, line("next")]);
    }

    #[test]
    fn an_over_long_last_line_without_newline_ends_the_stream() {
        let got = run(frames(&vec![b'z'; 3000], 1000));
        assert_eq!(got, vec![Frame::TooLong]);
    }

    /// The buffer never grows past the cap plus one read, however long the
    /// junk line, and the TooLong frame comes while the line is still being
    /// written (the writer would block forever otherwise).
    #[test]
    fn memory_stays_bounded_while_discarding() {
        run(async {
            let (mut client, server) = tokio::io::duplex(16 * 1024);
            let cap = 100 * 1024;
            let writer = tokio::spawn(async move {
                let piece = vec![b'x'; 32 * 1024];
                for _ in 0..(10 * 1024 * 1024 / piece.len()) {
                    client.write_all(&piece).await.unwrap();
                }
                client.write_all(b"\n{\"after\":1}\n").await.unwrap();
            });
            let mut reader = LineReader::new(server, cap);
            assert_eq!(reader.next_frame().await.unwrap(), Some(Frame::TooLong));
            assert_eq!(
                reader.next_frame().await.unwrap(),
                Some(line("{\"after\":1}"))
            );
            assert!(reader.high_water > cap, "the cap was never reached");
            assert!(
                reader.high_water <= 2 * (cap + READ_CHUNK),
                "buffer grew to {} bytes for a 10 MiB line",
                reader.high_water
            );
            writer.await.unwrap();
        });
    }
}
