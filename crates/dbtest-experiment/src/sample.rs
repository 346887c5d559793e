//! One sample: what the engine reports, how it is judged, and the record the sample log keeps.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::expr::Expr;

/// How a sample ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleOutcome {
    /// The result met the success criterion.
    Success,
    /// It did not, or the use case (or the probabilistic test) failed a check.
    Failure,
    /// An infrastructure error (an exception other than a failed check), after retries; not a
    /// trial: counted apart from failures.
    Error,
}

/// How the use case's call ended, as the engine saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawKind {
    /// It returned a result.
    Returned,
    /// It failed a check (an `AssertionError`): a failed sample.
    CheckFailed,
    /// It raised anything else: an infrastructure error, retried.
    Raised,
    /// It was cancelled (Ctrl-C) before it finished: not a sample at all.
    Cancelled,
    /// It met an error no sample can get past (a model refused the key: 401/403): not a
    /// sample; the run stops at once with this message (exit 4).
    Fatal,
}

/// One call of the use case, as the engine reports it (the Python driver's answer, read
/// by serde).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RawSample {
    pub kind: RawKind,
    /// The result's own verdict: a bool result, or `Sample(success=...)`.
    pub success: Option<bool>,
    /// The result's data: a dict result, `Sample(data=...)`, or null. The driver sends it as
    /// JSON text (Python's `json.dumps` with its fallbacks for other objects).
    #[serde(deserialize_with = "json_text")]
    pub data: Value,
    pub message: Option<String>,
    pub latency_ms: f64,
    pub tokens: u64,
    pub cost_usd: f64,
    /// A probabilistic test's check of this result failed, with this message.
    pub check_failed: Option<String>,
    /// The model calls the sample made: every attempt, its status, wait and duration.
    pub calls: Vec<Value>,
}

/// JSON text as its value; text that is not JSON is kept as text, no text is null.
fn json_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    Ok(match Option::<String>::deserialize(d)? {
        Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        None => Value::Null,
    })
}

impl RawSample {
    /// A failure inside dbtest's own code while running a sample, kept on the sample.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::with_kind(
            RawKind::Raised,
            dbtest_core::internal_message("running a sample", e),
        )
    }

    pub fn returned(success: Option<bool>, data: Value) -> Self {
        RawSample {
            kind: RawKind::Returned,
            success,
            data,
            message: None,
            latency_ms: 0.0,
            tokens: 0,
            cost_usd: 0.0,
            check_failed: None,
            calls: Vec::new(),
        }
    }

    pub fn with_kind(kind: RawKind, message: impl Into<String>) -> Self {
        RawSample {
            kind,
            message: Some(message.into()),
            ..RawSample::returned(None, Value::Null)
        }
    }
}

/// A finished sample: one line of `samples.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRecord {
    pub config_id: String,
    pub index: u64,
    pub seed: u64,
    pub outcome: SampleOutcome,
    pub attempts: u32,
    pub latency_ms: f64,
    pub tokens: u64,
    pub cost_usd: f64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub data: Value,
    /// The model calls the sample made (DESIGN §8), each with its attempts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<Value>,
}

/// Judges a returned result: the design's expression over the data when there is one (and
/// the result's own verdict, if it gave one, must hold too); else the result's own verdict,
/// or a dict's bool `success` key. `Err` when the result cannot be judged (a name the result
/// lacks, or nothing to judge by): that is an error of the design or the use case, not a
/// failure of the feature.
pub fn judge(expr: Option<&Expr>, success: Option<bool>, data: &Value) -> Result<bool, String> {
    if let Some(expr) = expr {
        if success.is_some() && data.is_null() {
            // A bare bool: there is nothing for the expression to look at.
            return Ok(success == Some(true));
        }
        let holds = expr.eval(data).map_err(|e| {
            format!(
                "cannot judge the result with `success: {}`: {e}",
                expr.source()
            )
        })?;
        return Ok(holds && success != Some(false));
    }
    if let Some(s) = success {
        return Ok(s);
    }
    match data.get("success") {
        Some(Value::Bool(b)) => Ok(*b),
        _ => Err(format!(
            "cannot judge the result {}: return a bool or dbtest.Sample(success=...), or a dict \
             with a bool `success` key, or give the design a `success` expression",
            preview(data)
        )),
    }
}

fn preview(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(77).collect::<String>())
    } else {
        text
    }
}

/// JSON with object keys sorted at every level, no spaces: one text per value, whatever
/// order the keys came in.
pub fn canonical_json(v: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(&mut out, v).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Writes `v` as JSON with every object's keys sorted, straight to `out` (a record is
/// hashed for every sample of a run: no sorted copy is made of it).
fn write_canonical(out: &mut impl io::Write, v: &Value) -> io::Result<()> {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.write_all(b"{")?;
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, key)?;
                out.write_all(b":")?;
                write_canonical(out, value)?;
            }
            out.write_all(b"}")
        }
        Value::Array(items) => {
            out.write_all(b"[")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_canonical(out, item)?;
            }
            out.write_all(b"]")
        }
        scalar => serde_json::to_writer(out, scalar).map_err(io::Error::from),
    }
}

/// A hasher as a byte sink.
struct HashWriter<'a>(&'a mut Sha256);

impl io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a configuration's records in index order, each as canonical JSON on its own
/// line: the baseline's `content_sha256`.
pub fn content_sha256<'a>(records: impl IntoIterator<Item = &'a SampleRecord>) -> String {
    let mut sorted: Vec<&SampleRecord> = records.into_iter().collect();
    sorted.sort_by_key(|r| r.index);
    let mut h = Sha256::new();
    for r in sorted {
        let v = serde_json::to_value(r).expect("a record is JSON");
        write_canonical(&mut HashWriter(&mut h), &v).expect("hashing cannot fail");
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `samples.jsonl`: one record per line, written as each sample finishes.
pub struct SampleLog {
    file: File,
    path: PathBuf,
}

impl SampleLog {
    /// Opens the log for appending, creating it if needed.
    pub fn open(path: &Path) -> io::Result<SampleLog> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(SampleLog {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Appends one record as a single write, so the line reaches the file whole.
    pub fn append(&mut self, record: &SampleRecord) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The records of an earlier (possibly interrupted) run, first record of each
/// `(config_id, index)` kept. A last line cut short by a crash is dropped from the file, so
/// appending goes on from a clean line end. Any other unreadable line is an error.
pub fn read_log(path: &Path) -> io::Result<Vec<SampleRecord>> {
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(&file);
    let mut records = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut good_end = 0u64;
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        let complete = line.ends_with('\n');
        if line.trim().is_empty() {
            good_end += n as u64;
            continue;
        }
        match serde_json::from_str::<SampleRecord>(line.trim_end()) {
            Ok(r) if complete => {
                good_end += n as u64;
                if seen.insert((r.config_id.clone(), r.index)) {
                    records.push(r);
                }
            }
            // The last line, cut short: drop it.
            _ if !complete => break,
            Ok(_) => unreachable!(),
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: line {number} is not a sample record: {e}",
                        path.display()
                    ),
                ))
            }
        }
    }
    drop(reader);
    if good_end < file.metadata()?.len() {
        file.set_len(good_end)?;
        (&file).seek(SeekFrom::End(0))?;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_drivers_answer_reads_its_data_from_json_text() {
        let answer = |data: Value| {
            serde_json::from_value::<RawSample>(json!({
                "kind": "returned", "success": null, "data": data, "message": null,
                "latency_ms": 1.5, "tokens": 3, "cost_usd": 0.0, "check_failed": null,
                "calls": [],
            }))
        };
        assert_eq!(
            answer(json!("{\"ok\": true}")).unwrap().data,
            json!({"ok": true})
        );
        assert_eq!(answer(json!("not json")).unwrap().data, json!("not json"));
        assert_eq!(answer(Value::Null).unwrap().data, Value::Null);
        let unknown = serde_json::from_value::<RawSample>(json!({"kind": "exploded"}));
        assert!(
            unknown.is_err(),
            "an unknown kind is an error, never a guess"
        );
    }

    fn rec(config: &str, index: u64) -> SampleRecord {
        SampleRecord {
            config_id: config.into(),
            index,
            seed: index * 7,
            outcome: SampleOutcome::Success,
            attempts: 1,
            latency_ms: 1.5,
            tokens: 3,
            cost_usd: 0.01,
            message: None,
            data: json!({"b": 1, "a": [2, {"d": 1, "c": 0}]}),
            calls: Vec::new(),
        }
    }

    #[test]
    fn judging() {
        let e = Expr::parse("ok and ms < 10").unwrap();
        assert_eq!(
            judge(Some(&e), None, &json!({"ok": true, "ms": 3})),
            Ok(true)
        );
        assert_eq!(
            judge(Some(&e), Some(false), &json!({"ok": true, "ms": 3})),
            Ok(false)
        );
        assert_eq!(judge(Some(&e), Some(true), &Value::Null), Ok(true));
        assert!(judge(Some(&e), None, &json!({"ok": true}))
            .unwrap_err()
            .contains("`ms` is not in the result"));
        assert_eq!(judge(None, Some(false), &json!({"x": 1})), Ok(false));
        assert_eq!(judge(None, None, &json!({"success": true})), Ok(true));
        let err = judge(None, None, &json!({"valid": true})).unwrap_err();
        assert!(
            err.contains("give the design a `success` expression"),
            "{err}"
        );
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": [2, {"d": 1, "c": 0}]})),
            r#"{"a":[2,{"c":0,"d":1}],"b":1}"#
        );
        let a = content_sha256(&[rec("c", 1), rec("c", 0)]);
        let b = content_sha256(&[rec("c", 0), rec("c", 1)]);
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(a, content_sha256(&[rec("c", 0)]));
    }

    #[test]
    fn log_round_trip_drops_a_torn_last_line_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/samples.jsonl");
        let mut log = SampleLog::open(&path).unwrap();
        for i in 0..3 {
            log.append(&rec("c", i)).unwrap();
        }
        log.append(&rec("c", 1)).unwrap();
        drop(log);
        // A crash in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"config_id":"c","ind"#).unwrap();
        drop(f);
        let records = read_log(&path).unwrap();
        assert_eq!(
            records.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(records[0], rec("c", 0));
        // The torn line is gone; appending continues on a clean line.
        let mut log = SampleLog::open(&path).unwrap();
        log.append(&rec("c", 3)).unwrap();
        assert_eq!(read_log(&path).unwrap().len(), 4);
        assert!(read_log(&dir.path().join("nope.jsonl")).unwrap().is_empty());
        std::fs::write(&path, "garbage\n").unwrap();
        assert!(read_log(&path).unwrap_err().to_string().contains("line 1"));
    }
}
