//! DESIGN §9 in an experiment: the design's `security_level` and `artifacts` (checked with
//! the design, so a refused sink stops the run before any sample), the sinks written when a
//! run ends (interrupted or not) and again by `dbtest experiment report`, and
//! `dbtest experiment verify-bundle`. The sinks themselves are dbtest-artifacts'.

use std::path::Path;

use dbtest_artifacts::{
    check_signing_keys, parse_sinks, Comparison, ConfigSummary, Interval, Latency, RunData,
    SampleRow, SecurityLevel, SinkContext, SinkSpec, Written,
};
use dbtest_core::{Error, ExitCode};
use dbtest_stats::proportion::newcombe_diff_interval;
use serde_json::{Map, Value};

use crate::design::Design;
use crate::project::absolute;
use crate::report::Summary;
use crate::sample::{read_log, SampleRecord};

/// The run folder's own files (as `run.rs` writes them), which no sink may overwrite.
pub const RUN_FILES: &[&str] = &[
    "run.json",
    "samples.jsonl",
    "summary.json",
    "SUMMARY.md",
    "baselines/",
];

/// A design's level and sinks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Artifacts {
    /// The data's level: the design's `security_level`, raised by its dataset's.
    pub level: SecurityLevel,
    /// In the order they run.
    pub sinks: Vec<SinkSpec>,
}

impl Artifacts {
    /// Reads `security_level` and `artifacts` from a design; the message names the key.
    pub fn from_design(map: &Map<String, Value>) -> Result<Artifacts, String> {
        let declared = match map.get("security_level") {
            None | Some(Value::Null) => SecurityLevel::default(),
            Some(Value::String(s)) => s.parse().map_err(|e| format!("`security_level`: {e}"))?,
            Some(_) => {
                return Err("`security_level` must be a level name such as official".to_string())
            }
        };
        // A dataset with its own level raises the data's (the higher wins).
        let dataset = match map.get("dataset").and_then(|d| d.get("security_level")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                s.parse()
                    .map_err(|e| format!("`dataset.security_level`: {e}"))?,
            ),
            Some(_) => {
                return Err(
                    "`dataset.security_level` must be a level name such as official".to_string(),
                )
            }
        };
        let level = SecurityLevel::of_data(declared, dataset);
        let ctx = SinkContext {
            experiment_level: declared,
            data_level: level,
            reserved: RUN_FILES,
        };
        let sinks = parse_sinks(map.get("artifacts"), &ctx).map_err(|e| e.to_string())?;
        Ok(Artifacts { level, sinks })
    }

    /// Refuses a signed sink whose key is not in the environment: before any sample runs.
    pub fn check_keys(&self) -> Result<(), Error> {
        check_signing_keys(&self.sinks, &|name| std::env::var(name).ok())
            .map_err(|e| Error::Usage(e.to_string()))
    }
}

/// What the sinks render, from a run's summary and its samples.
pub fn run_data(summary: &Summary, records: &[SampleRecord]) -> RunData {
    let configs: Vec<ConfigSummary> = summary
        .configurations
        .iter()
        .map(|r| ConfigSummary {
            config_id: r.config_id.clone(),
            label: crate::design::config_label(&r.factors),
            factors: r.factors.clone(),
            best: r.best,
            samples_planned: summary.samples_planned,
            samples_run: r.samples_run,
            successes: r.successes,
            failures: r.failures,
            errors: r.errors,
            pass_rate: r.pass_rate,
            interval: Interval {
                low: r.wilson_low,
                high: r.wilson_high,
            },
            latency_ms: Latency {
                p50: r.latency_ms.p50,
                p90: r.latency_ms.p90,
                p95: r.latency_ms.p95,
                p99: r.latency_ms.p99,
            },
            tokens: r.tokens,
            cost_usd: r.cost_usd,
            termination: r.termination.to_string(),
        })
        .collect();
    // Configuration order, then sample index: the same samples give the same files, however
    // they were scheduled or resumed.
    let mut samples: Vec<&SampleRecord> = records.iter().collect();
    let place = |id: &str| configs.iter().position(|c| c.config_id == id);
    samples.sort_by_key(|r| (place(&r.config_id), r.index));
    RunData {
        experiment: summary.experiment.clone(),
        use_case: summary.use_case.clone(),
        level: summary.security_level,
        run_dir: summary.run_dir.clone(),
        started_at: summary.started_at.clone(),
        duration_s: summary.duration_s,
        confidence: summary.confidence,
        success: summary.success.clone(),
        termination: summary.termination.to_string(),
        comparisons: comparisons(&configs, &summary.comparisons, summary.confidence),
        configs,
        samples: samples
            .into_iter()
            .map(|r| SampleRow {
                config_id: r.config_id.clone(),
                index: r.index,
                seed: r.seed,
                outcome: serde_json::to_value(r.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default(),
                attempts: r.attempts,
                latency_ms: r.latency_ms,
                tokens: r.tokens,
                cost_usd: r.cost_usd,
                message: r.message.clone(),
                data: r.data.clone(),
            })
            .collect(),
        verdicts: Vec::new(),
    }
}

/// Each configuration with trials against the best: Newcombe's interval of the difference,
/// and the verdict of the run's paired comparison (SUMMARY.md's: McNemar on the same rows,
/// Holm-corrected), so that the page and the summary never disagree.
fn comparisons(
    configs: &[ConfigSummary],
    paired: &crate::compare::Comparisons,
    confidence: f64,
) -> Vec<Comparison> {
    let trials = |c: &ConfigSummary| c.successes + c.failures;
    let Some(best) = configs.iter().find(|c| c.best && trials(c) > 0) else {
        return Vec::new();
    };
    let rate = |c: &ConfigSummary| c.successes as f64 / trials(c) as f64;
    configs
        .iter()
        .filter(|c| !c.best && trials(c) > 0)
        .map(|c| {
            let i = newcombe_diff_interval(
                c.successes,
                trials(c),
                best.successes,
                trials(best),
                confidence,
            );
            let vs = paired
                .configurations
                .iter()
                .find(|p| p.config_id == c.config_id)
                .and_then(|p| p.vs_best.as_ref());
            let p = |v: &crate::compare::VsBest| {
                if v.p_holm < 0.0001 {
                    "p < 0.0001".to_string()
                } else {
                    format!("p = {:.4}", v.p_holm)
                }
            };
            let conclusion = match vs {
                Some(v) if v.real_difference => {
                    format!("below the best beyond chance (paired {}, Holm)", p(v))
                }
                Some(v) => format!(
                    "not different from the best beyond chance (paired {}, Holm)",
                    p(v)
                ),
                None => "no sample paired with the best's".to_string(),
            };
            Comparison {
                config_id: c.config_id.clone(),
                difference: rate(c) - rate(best),
                interval: Interval {
                    low: i.lo,
                    high: i.hi,
                },
                conclusion,
            }
        })
        .collect()
}

/// `wrote artifacts: results.csv, report.html` (empty without sinks).
pub fn written_line(written: &[Written]) -> String {
    let files: Vec<&str> = written
        .iter()
        .flat_map(|w| w.files.iter().map(|f| f.path.as_str()))
        .collect();
    if files.is_empty() {
        String::new()
    } else {
        format!("wrote artifacts: {}\n", files.join(", "))
    }
}

/// Writes the design's sinks into the run folder.
pub fn write(
    artifacts: &Artifacts,
    summary: &Summary,
    records: &[SampleRecord],
    run_dir: &Path,
) -> Result<Vec<Written>, dbtest_artifacts::Error> {
    if artifacts.sinks.is_empty() {
        return Ok(Vec::new());
    }
    let data = run_data(summary, records);
    dbtest_artifacts::run_sinks(&artifacts.sinks, &data, run_dir)
}

/// `dbtest experiment report RUN_DIR`: the sinks of the run's design rendered again from
/// what the folder holds (an interrupted run included). Returns what to print.
pub fn report(cwd: &Path, dir: &str) -> Result<String, Error> {
    let run_dir = absolute(cwd, dir);
    let read = |name: &str| {
        let path = run_dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| {
            Error::Usage(format!(
                "{dir}: {} cannot be read ({e}); pass the folder of a run",
                path.display()
            ))
        })
    };
    let run: Value = serde_json::from_str(&read("run.json")?)
        .map_err(|e| Error::Usage(format!("{dir}/run.json: {e}")))?;
    let design = Design::from_value(&format!("{dir}/run.json"), &run["design"])
        .map_err(|e| Error::Usage(e.to_string()))?;
    if design.artifacts.sinks.is_empty() {
        return Err(Error::Usage(format!(
            "{dir}: the run's design declares no `artifacts`; nothing to render"
        )));
    }
    design.artifacts.check_keys()?;
    let summary: Summary = serde_json::from_str(&read("summary.json")?)
        .map_err(|e| Error::Usage(format!("{dir}/summary.json: {e}")))?;
    let records = read_log(&run_dir.join("samples.jsonl"))
        .map_err(|e| Error::Usage(format!("{dir}/samples.jsonl: {e}")))?;
    let written = write(&design.artifacts, &summary, &records, &run_dir).map_err(|e| {
        if e.is_usage() {
            Error::Usage(e.to_string())
        } else {
            Error::Internal(e.to_string())
        }
    })?;
    Ok(format!(
        "security level: {}\n{}",
        summary.security_level,
        written_line(&written)
    ))
}

/// `dbtest experiment verify-bundle DIR --key-env NAME`: 0 when the signature and every
/// digest hold, 1 naming each problem, 4 without the key. Returns the code and the text.
pub fn verify_bundle(
    cwd: &Path,
    dir: &str,
    key_env: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> (ExitCode, String) {
    let Some(key) = env(key_env).filter(|k| !k.is_empty()) else {
        return (
            ExitCode::Usage,
            format!("the environment variable {key_env} is not set (or is empty): it must hold the signing key"),
        );
    };
    match dbtest_artifacts::verify_bundle(&absolute(cwd, dir), key.as_bytes()) {
        Ok(()) => (
            ExitCode::Ok,
            format!("{dir}: the signature and every file's digest hold"),
        ),
        Err(problems) => (
            ExitCode::TestsFailed,
            problems
                .iter()
                .map(|p| format!("{p}\n"))
                .collect::<String>()
                .trim_end()
                .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn design(extra: Value) -> Result<Design, String> {
        let mut v = json!({"experiment": "e", "use_case": "u", "samples": 4});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Design::from_value("d.yaml", &v).map_err(|e| e.to_string())
    }

    #[test]
    fn the_design_holds_the_level_and_the_sinks() {
        let d = design(json!({"security_level": "protected",
            "artifacts": [{"sink": "csv"}, {"sink": "zip", "consumes": ["csv"]}]}))
        .unwrap();
        assert_eq!(d.artifacts.level, SecurityLevel::Protected);
        assert_eq!(d.artifacts.sinks.len(), 2);
        assert_eq!(design(json!({})).unwrap().artifacts, Artifacts::default());
        let e = design(json!({"security_level": "secert"})).unwrap_err();
        assert!(
            e.starts_with("d.yaml: `security_level`: unknown security level"),
            "{e}"
        );
        let e =
            design(json!({"artifacts": [{"sink": "jsonl", "path": "samples.jsonl"}]})).unwrap_err();
        assert!(e.contains("one of the run's own files"), "{e}");
        let e = design(json!({"security_level": "secret",
            "artifacts": [{"sink": "csv", "security_level": "official"}]}))
        .unwrap_err();
        assert!(
            e.contains("sink 1 (csv, results.csv) is cleared for official, but the data is secret"),
            "{e}"
        );
    }

    #[test]
    fn verify_bundle_needs_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        let (code, text) = verify_bundle(dir.path(), "run", "K", &none);
        assert_eq!(code, ExitCode::Usage);
        assert!(text.contains("K is not set"));
        let key = |_: &str| Some("k".to_string());
        let (code, text) = verify_bundle(dir.path(), ".", "K", &key);
        assert_eq!(code, ExitCode::TestsFailed);
        assert!(text.contains("manifest.json: missing"), "{text}");
    }
}
