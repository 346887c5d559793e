//! A design's dataset (DESIGN §8): a CSV file with a header row, or JSON lines, read once
//! before any sample runs. Sample `i` of every configuration uses row `i mod rows`, so the
//! configurations meet the same rows and can be compared pair by pair.

use std::path::Path;

use serde_json::{Map, Value};

/// The rows, each a mapping (a CSV row's cells are strings, by their header).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dataset {
    pub rows: Vec<Value>,
}

/// A dataset that cannot be read; names the file and, for a bad row, its line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DatasetError(pub String);

impl Dataset {
    /// Reads `path` (shown as `shown` in messages): `.jsonl`/`.ndjson` as JSON lines, any
    /// other name as CSV.
    pub fn read(path: &Path, shown: &str) -> Result<Dataset, DatasetError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DatasetError(format!(
                "cannot read the dataset {shown}: {e}; `dataset.path` is relative to the design's folder"
            ))
        })?;
        let jsonl = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("jsonl" | "ndjson")
        );
        let rows = if jsonl {
            json_lines(&text, shown)?
        } else {
            csv_rows(&text, shown)?
        };
        if rows.is_empty() {
            return Err(DatasetError(format!(
                "the dataset {shown} has no rows; a sample needs a row to read"
            )));
        }
        Ok(Dataset { rows })
    }

    /// The row sample `index` uses.
    pub fn row(&self, index: u64) -> &Value {
        &self.rows[(index % self.rows.len() as u64) as usize]
    }

    pub fn len(&self) -> u64 {
        self.rows.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

fn json_lines(text: &str, shown: &str) -> Result<Vec<Value>, DatasetError> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            DatasetError(format!(
                "{shown}:{}: not a JSON object: {e}; each line of a JSONL dataset is one row, e.g. {{\"text\": \"...\"}}",
                n + 1
            ))
        })?;
        if !value.is_object() {
            return Err(DatasetError(format!(
                "{shown}:{}: a row must be a JSON object (a mapping of names to values), got {value}",
                n + 1
            )));
        }
        rows.push(value);
    }
    Ok(rows)
}

fn csv_rows(text: &str, shown: &str) -> Result<Vec<Value>, DatasetError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DatasetError(format!("{shown}: cannot read the header row: {e}")))?
        .clone();
    if let Some(dup) = headers
        .iter()
        .enumerate()
        .find(|(i, h)| headers.iter().take(*i).any(|g| g == *h))
    {
        return Err(DatasetError(format!(
            "{shown}:1: the column {:?} is named twice; each column needs its own name",
            dup.1
        )));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            DatasetError(match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!(
                    "{shown}:{line}: this row has {len} fields where the header has {expected_len}; \
                     quote a cell that holds a comma"
                ),
                _ => format!("{shown}:{line}: {e}"),
            })
        })?;
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
            .collect();
        rows.push(Value::Object(row));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(name: &str, text: &str) -> Result<Dataset, DatasetError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        Dataset::read(&path, name)
    }

    #[test]
    fn csv_rows_are_mappings_by_header_and_samples_cycle_through_them() {
        let d = read(
            "t.csv",
            "text,expected\n\"Refund, please\",billing\nApp crashes,bug\n",
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(
            d.row(0),
            &json!({"text": "Refund, please", "expected": "billing"})
        );
        assert_eq!(d.row(3), &json!({"text": "App crashes", "expected": "bug"}));
    }

    #[test]
    fn jsonl_rows_keep_their_types() {
        let d = read("t.jsonl", "{\"n\": 1, \"tags\": [\"a\"]}\n\n{\"n\": 2}\n").unwrap();
        assert_eq!(
            d.rows,
            vec![json!({"n": 1, "tags": ["a"]}), json!({"n": 2})]
        );
    }

    #[test]
    fn a_malformed_row_is_named_by_its_line() {
        let e = read("t.csv", "a,b\n1,2\n3,4,5\n").unwrap_err().0;
        assert!(
            e.starts_with("t.csv:3: this row has 3 fields where the header has 2"),
            "{e}"
        );
        let e = read("t.jsonl", "{\"a\": 1}\n{\"a\": \n").unwrap_err().0;
        assert!(e.starts_with("t.jsonl:2: not a JSON object"), "{e}");
        let e = read("t.jsonl", "[1, 2]\n").unwrap_err().0;
        assert!(
            e.starts_with("t.jsonl:1: a row must be a JSON object"),
            "{e}"
        );
        let e = read("t.csv", "a,a\n1,2\n").unwrap_err().0;
        assert!(e.contains("named twice"), "{e}");
        let e = read("t.csv", "a,b\n").unwrap_err().0;
        assert!(e.contains("has no rows"), "{e}");
    }
}
