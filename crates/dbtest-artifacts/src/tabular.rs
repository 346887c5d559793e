//! The per-sample sinks: csv (for spreadsheets) and jsonl (for programs).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::data::{RunData, SampleRow};

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) or mangle (tab, CR,
/// LF) gets a leading `'`, which spreadsheets read as "text" (OWASP's CSV injection advice).
pub(crate) fn formula_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\n') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One row per sample: its configuration and factors, how it went, then the use case's data,
/// a column per key (`data.<key>`; `data` itself when the result was not a mapping).
pub(crate) fn csv_bytes(data: &RunData) -> Result<Vec<u8>, String> {
    let mut factor_names: Vec<&str> = Vec::new();
    for c in &data.configs {
        for name in c.factors.keys() {
            if !factor_names.contains(&name.as_str()) {
                factor_names.push(name);
            }
        }
    }
    let mut data_keys: Vec<&str> = Vec::new();
    let mut plain_data = false;
    for s in &data.samples {
        match &s.data {
            Value::Object(m) => {
                for k in m.keys() {
                    if !data_keys.contains(&k.as_str()) {
                        data_keys.push(k);
                    }
                }
            }
            Value::Null => {}
            _ => plain_data = true,
        }
    }
    let mut header: Vec<String> = vec!["config_id".into()];
    header.extend(factor_names.iter().map(|f| format!("factor.{f}")));
    header.extend(
        [
            "index",
            "seed",
            "outcome",
            "attempts",
            "latency_ms",
            "tokens",
            "cost_usd",
            "message",
        ]
        .map(String::from),
    );
    header.extend(data_keys.iter().map(|k| format!("data.{k}")));
    if plain_data {
        header.push("data".into());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| e.to_string();
    w.write_record(header.iter().map(|h| formula_safe(h)))
        .map_err(err)?;
    let no_factors = Map::new();
    for s in &data.samples {
        let factors = data.factors_of(&s.config_id).unwrap_or(&no_factors);
        let mut row: Vec<String> = vec![s.config_id.clone()];
        row.extend(
            factor_names
                .iter()
                .map(|f| factors.get(*f).map(value_text).unwrap_or_default()),
        );
        row.extend([
            s.index.to_string(),
            s.seed.to_string(),
            s.outcome.clone(),
            s.attempts.to_string(),
            s.latency_ms.to_string(),
            s.tokens.to_string(),
            s.cost_usd.to_string(),
            s.message.clone().unwrap_or_default(),
        ]);
        let fields = s.data.as_object();
        row.extend(data_keys.iter().map(|k| {
            fields
                .and_then(|m| m.get(*k))
                .map(value_text)
                .unwrap_or_default()
        }));
        if plain_data {
            row.push(match &s.data {
                Value::Object(_) => String::new(),
                other => value_text(other),
            });
        }
        w.write_record(row.iter().map(|c| formula_safe(c)))
            .map_err(err)?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// A sample as a JSON line: the sample log's record with its configuration's factors.
#[derive(Serialize)]
struct Line<'a> {
    config_id: &'a str,
    factors: &'a Map<String, Value>,
    #[serde(flatten)]
    sample: SampleFields<'a>,
}

#[derive(Serialize)]
struct SampleFields<'a> {
    index: u64,
    seed: u64,
    outcome: &'a str,
    attempts: u32,
    latency_ms: f64,
    tokens: u64,
    cost_usd: f64,
    message: &'a Option<String>,
    data: &'a Value,
}

impl<'a> From<&'a SampleRow> for SampleFields<'a> {
    fn from(s: &'a SampleRow) -> Self {
        SampleFields {
            index: s.index,
            seed: s.seed,
            outcome: &s.outcome,
            attempts: s.attempts,
            latency_ms: s.latency_ms,
            tokens: s.tokens,
            cost_usd: s.cost_usd,
            message: &s.message,
            data: &s.data,
        }
    }
}

pub(crate) fn jsonl_bytes(data: &RunData) -> Result<Vec<u8>, String> {
    let no_factors = Map::new();
    let mut out = Vec::new();
    for s in &data.samples {
        let line = Line {
            config_id: &s.config_id,
            factors: data.factors_of(&s.config_id).unwrap_or(&no_factors),
            sample: s.into(),
        };
        serde_json::to_writer(&mut out, &line).map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::example;

    #[test]
    fn formula_cells_get_a_quote() {
        for cell in ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\nx"] {
            assert_eq!(formula_safe(cell), format!("'{cell}"));
        }
        for cell in ["", "plain", "1-2", " =x", "'=x"] {
            assert_eq!(formula_safe(cell), cell);
        }
    }

    #[test]
    fn csv_has_a_row_per_sample_and_no_formula() {
        let mut data = example();
        // A factor and a data key that would be formulas as headers.
        data.configs[0]
            .factors
            .insert("=f".into(), Value::from("-x"));
        let text = String::from_utf8(csv_bytes(&data).unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(
            headers,
            [
                "config_id",
                "factor.model",
                "factor.=f",
                "index",
                "seed",
                "outcome",
                "attempts",
                "latency_ms",
                "tokens",
                "cost_usd",
                "message",
                "data.valid_json",
                "data.query",
            ]
        );
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(&rows[0][0], "model=small");
        assert_eq!(&rows[0][2], "'-x");
        assert_eq!(&rows[0][12], "'=1+2");
        assert_eq!(&rows[1][12], "'@SUM(A1)");
        assert_eq!(&rows[1][10], "failure <b>here</b>");
        assert_eq!(&rows[2][5], "error");
        assert_eq!(&rows[2][11], "");
        for row in &rows {
            for cell in row {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r', '\n']),
                    "{cell:?}"
                );
            }
        }
    }

    #[test]
    fn headers_are_prefixed_and_plain_data_has_one_column() {
        let mut data = example();
        data.samples[0].data = serde_json::json!({"=cmd": 1});
        let text = String::from_utf8(csv_bytes(&data).unwrap()).unwrap();
        assert!(text.lines().next().unwrap().contains("data.=cmd"));
        data.configs[0].factors = serde_json::json!({"+x": 1}).as_object().cloned().unwrap();
        data.configs[1].factors = Map::new();
        data.samples[0].data = Value::from(-3);
        let text = String::from_utf8(csv_bytes(&data).unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(&r.headers().unwrap()[1], "factor.+x");
        assert!(r.headers().unwrap().iter().any(|h| h == "data"));
        let first = r.records().next().unwrap().unwrap();
        assert_eq!(first.iter().next_back(), Some("'-3"));
    }

    #[test]
    fn jsonl_has_a_line_per_sample() {
        let data = example();
        let text = String::from_utf8(jsonl_bytes(&data).unwrap()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1]["config_id"], "model=small");
        assert_eq!(lines[1]["factors"]["model"], "small");
        assert_eq!(lines[1]["data"]["query"], "@SUM(A1)");
        assert_eq!(lines[2]["outcome"], "error");
        assert_eq!(lines[2]["index"], 0);
    }
}
