//! What a parent and its worker processes say to each other. Commands go down the worker's
//! stdin as JSON lines; messages come up its stdout as frames:
//!
//! ```text
//! \x1edbtest:<length>:<JSON of that many bytes>\n
//! ```
//!
//! One writer in the worker sends every frame whole (see dbtest-py's `worker.rs`), so frames
//! never interleave, whatever their size: a pipe keeps a write of more than `PIPE_BUF` bytes
//! whole only while nobody else writes, and a test's output, JSON-escaped, is often larger.
//! The reader ([`FrameReader`]) still expects anything between frames (a test or C code
//! writing to the descriptor): that is kept as stray output. A frame is only taken when its
//! length, its end of line and its JSON all check out. JSON text never holds a raw `\x1e` or
//! line feed (both are escaped), so a frame that something else wrote into is found out at
//! the next marker or line feed, and the frames after it are read as usual.

use std::path::PathBuf;

use dbtest_core::{TestCase, TestResult};
use serde::{Deserialize, Serialize};

pub const MARKER: &[u8] = b"\x1edbtest:";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Run this file's selected tests, except the ids in `skip` (already reported).
    File {
        path: PathBuf,
        rel: String,
        skip: Vec<String>,
        /// See [`crate::FileJob::exclusive`].
        #[serde(default)]
        exclusive: bool,
        /// The folder of the run's cross-process `@dbtest.serial` locks
        /// ([`crate::RunOptions::serial_locks`]).
        #[serde(default)]
        serial_locks: Option<PathBuf>,
    },
    /// Tear down the session and exit.
    Exit,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Message {
    /// The worker has imported dbtest and waits for commands.
    Ready,
    Collected {
        file: String,
        tests: usize,
    },
    Started {
        case: Box<TestCase>,
        timeout_s: Option<f64>,
    },
    Finished {
        result: Box<TestResult>,
    },
    FileDone {
        file: String,
        /// A thread of the worker is still busy with something the runner gave up on (a sync
        /// test past its timeout, an import that never returned): the worker is replaced.
        #[serde(default)]
        abandoned: bool,
    },
    /// What a running test printed, mirrored as it happens, so that a test that kills its
    /// worker still has its output reported; on the protocol pipe to keep it in order.
    Output {
        text: String,
    },
}

impl Message {
    /// The message as one frame.
    pub fn to_frame(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("protocol messages serialize");
        let mut frame = Vec::with_capacity(MARKER.len() + 12 + json.len());
        frame.extend_from_slice(MARKER);
        frame.extend_from_slice(json.len().to_string().as_bytes());
        frame.push(b':');
        frame.extend_from_slice(&json);
        frame.push(b'\n');
        frame
    }
}

/// What a [`FrameReader`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Message(Message),
    /// Bytes between frames, as text (invalid UTF-8 replaced).
    Stray(String),
    /// Something began as a frame but was not one; what it was is said, and its bytes are
    /// read again as stray output and frames.
    Unreadable(String),
}

/// The longest length a frame header may give (a larger number is not a frame): far more
/// than any message, and small enough that a stray marker cannot stall the reader for long.
const MAX_FRAME: usize = 1 << 30;
/// Digits of [`MAX_FRAME`], and then some.
const MAX_DIGITS: usize = 10;
/// Stray output with no line feed is handed on once this much has gathered.
const STRAY_CHUNK: usize = 8192;

/// Splits a byte stream into frames and stray output, however the bytes arrive: a byte at a
/// time, a frame split across reads, several frames in one read.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    /// `buf[..pos]` is consumed.
    pos: usize,
    /// The bytes from `pos` up to here hold no marker (a scan need not look there again).
    scanned: usize,
    /// The body of the frame at `pos` holds no line feed or marker byte up to here.
    body_scanned: usize,
}

impl FrameReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos > 64 * 1024) {
            self.buf.drain(..self.pos);
            self.scanned -= self.pos;
            self.body_scanned = self.body_scanned.saturating_sub(self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete item, if the bytes so far hold one.
    pub fn next_item(&mut self) -> Option<Item> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            return None;
        }
        let from = self.scanned - self.pos;
        match find(&rest[from..], MARKER).map(|at| at + from) {
            Some(0) => self.frame(),
            Some(at) => Some(self.stray(at)),
            None => {
                // A marker may begin in the last few bytes; stray text goes on by lines (or
                // large pieces), never splitting a character.
                let keep = (MARKER.len() - 1).min(rest.len());
                let safe = rest.len() - keep;
                self.scanned = self.scanned.max(self.pos + safe);
                let upto = match rest[..safe].iter().rposition(|b| *b == b'\n') {
                    Some(nl) => nl + 1,
                    None if safe >= STRAY_CHUNK => char_start(rest, safe),
                    None => return None,
                };
                (upto > 0).then(|| self.stray(upto))
            }
        }
    }

    /// The stream has ended: what is left, as stray output.
    pub fn finish(&mut self) -> Option<Item> {
        if let Some(item) = self.next_item() {
            return Some(item);
        }
        let rest = self.buf.len() - self.pos;
        (rest > 0).then(|| self.stray(rest))
    }

    fn stray(&mut self, len: usize) -> Item {
        let text = String::from_utf8_lossy(&self.buf[self.pos..self.pos + len]).into_owned();
        self.consume(len);
        Item::Stray(text)
    }

    fn consume(&mut self, len: usize) {
        self.pos += len;
        self.scanned = self.scanned.max(self.pos);
    }

    /// At a marker: the frame, or why it is none.
    fn frame(&mut self) -> Option<Item> {
        let rest = &self.buf[self.pos..];
        let header = &rest[MARKER.len()..];
        let digits = header.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > MAX_DIGITS {
            return Some(self.not_a_frame("a marker with an impossible length"));
        }
        if digits == header.len() {
            return None; // the header is still arriving
        }
        let len = std::str::from_utf8(&header[..digits])
            .ok()
            .and_then(|d| d.parse::<usize>().ok())
            .filter(|len| *len <= MAX_FRAME);
        let len = match (len, header[digits]) {
            (Some(len), b':') => len,
            _ => return Some(self.not_a_frame("a marker without a length")),
        };
        let body_start = self.pos + MARKER.len() + digits + 1;
        let body = &self.buf[body_start..];
        // A raw marker byte or line feed inside the claimed body: something else wrote into
        // this frame (or it was cut short), so it is given up on at once, not `len` bytes on.
        // The body is searched once, however many reads it arrives in.
        let seen = body.len().min(len + 1);
        let from = self.body_scanned.saturating_sub(body_start).min(seen);
        let end = body[from..seen]
            .iter()
            .position(|b| *b == b'\n' || *b == 0x1e)
            .map(|at| at + from);
        match end {
            Some(at) if at == len && body[at] == b'\n' => {}
            Some(at) => {
                return Some(
                    self.not_a_frame(&format!("a frame of {len} bytes cut off after {at}")),
                )
            }
            None if body.len() > len => {
                return Some(
                    self.not_a_frame(&format!("a frame with no line end after its {len} bytes")),
                )
            }
            None => {
                self.body_scanned = body_start + seen;
                return None; // the body is still arriving
            }
        }
        match serde_json::from_slice::<Message>(&body[..len]) {
            Ok(message) => {
                self.consume(body_start + len + 1 - self.pos);
                Some(Item::Message(message))
            }
            Err(e) => Some(self.not_a_frame(&format!("an unreadable message ({e})"))),
        }
    }

    /// The marker at `pos` begins no frame: its bytes are read again as stray output (and
    /// any frames among them), from the byte after the marker's first.
    fn not_a_frame(&mut self, what: &str) -> Item {
        self.scanned = self.scanned.max(self.pos + 1);
        Item::Unreadable(format!("the worker's protocol pipe held {what}"))
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The start of the character at or before `at` in UTF-8 `bytes`.
fn char_start(bytes: &[u8], mut at: usize) -> usize {
    while at > 0 && at < bytes.len() && (bytes[at] & 0xC0) == 0x80 {
        at -= 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(text: &str) -> Message {
        Message::Output { text: text.into() }
    }

    fn done(file: &str) -> Message {
        Message::FileDone {
            file: file.into(),
            abandoned: false,
        }
    }

    /// Everything `reader` yields once `chunks` have been pushed and the stream ended.
    fn read_all<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Item> {
        let mut reader = FrameReader::new();
        let mut items = Vec::new();
        for chunk in chunks {
            reader.push(chunk);
            while let Some(item) = reader.next_item() {
                items.push(item);
            }
        }
        while let Some(item) = reader.finish() {
            items.push(item);
        }
        items
    }

    /// The messages among `items`, and all stray text joined.
    fn split(items: &[Item]) -> (Vec<Message>, String, Vec<String>) {
        let mut messages = Vec::new();
        let mut stray = String::new();
        let mut unreadable = Vec::new();
        for item in items {
            match item {
                Item::Message(m) => messages.push(m.clone()),
                Item::Stray(s) => stray.push_str(s),
                Item::Unreadable(why) => unreadable.push(why.clone()),
            }
        }
        (messages, stray, unreadable)
    }

    #[test]
    fn a_frame_round_trips_and_commands_read_as_before() {
        let m = done("a.py");
        let frame = m.to_frame();
        assert!(frame.starts_with(MARKER) && frame.ends_with(b"\n"));
        assert_eq!(read_all([frame.as_slice()]), vec![Item::Message(m)]);
        let c: Command =
            serde_json::from_str(r#"{"op":"file","path":"/p/a.py","rel":"a.py","skip":[]}"#)
                .unwrap();
        assert!(matches!(
            c,
            Command::File {
                serial_locks: None,
                ..
            }
        ));
    }

    #[test]
    fn frames_arrive_whole_however_the_reads_split_them() {
        // Non-ASCII text, characters outside the BMP among it, and a payload far larger than
        // a pipe's atomic write.
        let big: String = "ä€😀\u{10FFFF}x\n".repeat(20_000);
        let messages = vec![output(&big), done("a.py"), output("é"), done("b.py")];
        let stream: Vec<u8> = messages.iter().flat_map(|m| m.to_frame()).collect();
        for size in [1, 2, 3, 7, 4096, 65_536, stream.len()] {
            let items = read_all(stream.chunks(size));
            assert_eq!(
                split(&items),
                (messages.clone(), String::new(), vec![]),
                "reads of {size}"
            );
        }
    }

    #[test]
    fn output_between_frames_is_kept_apart_in_order() {
        let stream = [
            b"hello from a subprocess".as_slice(),
            &done("a.py").to_frame(),
            "no line end, then a frame: ü😀".as_bytes(),
            &output("x").to_frame(),
            b"\xff\xfe bytes that are not UTF-8\n",
            b"a \x1e lone record separator, and half a marker \x1edbt",
            b"est; a marker with no length: \x1edbtest:abc\n",
            &done("b.py").to_frame(),
            b"trailing words",
        ]
        .concat();
        for size in [1, 5, stream.len()] {
            let items = read_all(stream.chunks(size));
            let (messages, stray, unreadable) = split(&items);
            assert_eq!(messages, vec![done("a.py"), output("x"), done("b.py")]);
            assert_eq!(
                stray,
                "hello from a subprocessno line end, then a frame: ü😀\u{fffd}\u{fffd} bytes that \
                 are not UTF-8\na \x1e lone record separator, and half a marker \x1edbtest; a \
                 marker with no length: \x1edbtest:abc\ntrailing words"
            );
            assert_eq!(unreadable.len(), 1, "{unreadable:?}");
        }
    }

    #[test]
    fn a_frame_written_into_is_given_up_and_the_next_one_is_read() {
        let torn = output("a long line of output").to_frame();
        let (head, tail) = torn.split_at(20);
        let stream = [
            head,
            b"intruder\n",
            tail,
            &done("a.py").to_frame(),
            &torn[..torn.len() - 3], // cut short, then another frame
            &done("b.py").to_frame(),
        ]
        .concat();
        for size in [1, 3, stream.len()] {
            let (messages, stray, unreadable) = split(&read_all(stream.chunks(size)));
            assert_eq!(
                messages,
                vec![done("a.py"), done("b.py")],
                "reads of {size}"
            );
            assert_eq!(unreadable.len(), 2, "{unreadable:?}");
            assert!(stray.contains("intruder"));
        }
    }

    #[test]
    fn a_frame_whose_length_lies_is_not_taken() {
        let frame = done("a.py").to_frame();
        let text = String::from_utf8(frame.clone()).unwrap();
        let len = text[MARKER.len()..].split(':').next().unwrap();
        let shorter: usize = len.parse::<usize>().unwrap() - 1;
        let lying = text.replacen(len, &shorter.to_string(), 1);
        let (messages, _, unreadable) = split(&read_all([lying.as_bytes(), &frame]));
        assert_eq!(messages, vec![done("a.py")]);
        assert_eq!(unreadable.len(), 1);
        // A length beyond any frame is not waited for.
        let huge = b"\x1edbtest:99999999999999999999:{}\n";
        let (messages, _, unreadable) = split(&read_all([huge.as_slice(), &frame]));
        assert_eq!((messages.len(), unreadable.len()), (1, 1));
    }

    #[test]
    fn an_incomplete_frame_waits_for_the_rest() {
        let frame = done("a.py").to_frame();
        let mut reader = FrameReader::new();
        reader.push(&frame[..frame.len() - 1]);
        assert_eq!(reader.next_item(), None);
        reader.push(&frame[frame.len() - 1..]);
        assert_eq!(reader.next_item(), Some(Item::Message(done("a.py"))));
        assert_eq!(reader.next_item(), None);
        // Cut off by the end of the stream: handed on as stray output.
        reader.push(&frame[..10]);
        assert_eq!(reader.next_item(), None);
        assert!(matches!(reader.finish(), Some(Item::Stray(_))));
        assert_eq!(reader.finish(), None);
    }
}
