//! What a parent and its worker processes say to each other: JSON lines. Commands go down the
//! worker's stdin; messages come up its stdout, each line prefixed with [`MARKER`] so that
//! anything else a test writes to file descriptor 1 (a subprocess, C code) is told apart
//! instead of breaking the protocol.

use std::path::PathBuf;

use dbtest_core::{TestCase, TestResult};
use serde::{Deserialize, Serialize};

pub const MARKER: &str = "\u{1e}dbtest:";

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
    },
    /// What a running test printed, mirrored as it happens, so that a test that kills its
    /// worker still has its output reported; on the protocol pipe to keep it in order.
    Output {
        text: String,
    },
}

impl Message {
    pub fn to_line(&self) -> String {
        let mut line = String::from(MARKER);
        line.push_str(&serde_json::to_string(self).expect("protocol messages serialize"));
        line.push('\n');
        line
    }
}

/// Splits a line of worker output into what was printed before the marker (if anything)
/// and the message after it.
pub fn parse_line(line: &str) -> (Option<&str>, Option<Result<Message, String>>) {
    match line.find(MARKER) {
        None => (Some(line), None),
        Some(at) => {
            let before = (at > 0).then(|| &line[..at]);
            let message = serde_json::from_str(line[at + MARKER.len()..].trim_end())
                .map_err(|e| format!("unreadable message from a worker: {e}"));
            (before, Some(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_stray_output_is_kept_apart() {
        let m = Message::FileDone {
            file: "a.py".into(),
        };
        let line = format!("hello from a subprocess{}", m.to_line());
        let (before, parsed) = parse_line(&line);
        assert_eq!(before, Some("hello from a subprocess"));
        assert_eq!(parsed.unwrap().unwrap(), m);
        assert_eq!(parse_line("plain output\n"), (Some("plain output\n"), None));
        let c: Command =
            serde_json::from_str(r#"{"op":"file","path":"/p/a.py","rel":"a.py","skip":[]}"#)
                .unwrap();
        assert!(matches!(c, Command::File { .. }));
    }
}
