//! `dbtest bench`: loading may be parallel, timing is serial. The engine (Python, in dbtest-py)
//! loads files and times rounds; this crate decides how many, computes the statistics, keeps
//! saved runs and judges regressions.

pub mod command;
pub mod compare;
pub mod measure;
pub mod model;
pub mod render;

use std::future::Future;
use std::path::{Path, PathBuf};

use dbtest_runner::{FileError, FileJob};
use futures::stream::{self, StreamExt};

pub use compare::{compare, CompareOutcome, Comparison, Verdict};
pub use measure::RoundTimer;
pub use model::{
    BenchCase, BenchError, BenchReport, BenchResult, FileProblem, RoundAnswer, Settings, TimerInfo,
    BENCH_SCHEMA,
};

/// Files loaded at once; imports are mostly I/O and parsing.
const LOAD_CONCURRENCY: usize = 8;

/// Loads benchmark files and times rounds of their benchmarks.
pub trait BenchEngine: Send + Sync + 'static {
    type Timer<'a>: RoundTimer + Send
    where
        Self: 'a;

    fn collect(
        &self,
        file: FileJob,
    ) -> impl Future<Output = Result<Vec<BenchCase>, FileError>> + Send;

    /// The clock's resolution and the empty loop's cost, measured once before timing starts.
    fn clock(&self) -> impl Future<Output = Result<TimerInfo, BenchError>> + Send;

    fn timer<'a>(&'a self, case: &BenchCase) -> Self::Timer<'a>;
}

/// What a run measured, before it is wrapped into a report.
pub struct Measured {
    pub timer: TimerInfo,
    pub benchmarks: Vec<BenchResult>,
    pub errors: Vec<FileProblem>,
}

/// Loads `files`, keeps the benchmarks `select` accepts, and measures them one at a time.
/// `on_start` / `on_result` let a console follow along.
pub async fn run<E: BenchEngine>(
    engine: &E,
    files: Vec<FileJob>,
    settings: &Settings,
    select: impl Fn(&BenchCase) -> bool,
    mut on_start: impl FnMut(&BenchCase, usize, usize),
    mut on_result: impl FnMut(&BenchResult),
) -> Result<Measured, BenchError> {
    let loaded: Vec<(FileJob, Result<Vec<BenchCase>, FileError>)> = stream::iter(files)
        .map(|job| async move {
            let found = engine.collect(job.clone()).await;
            (job, found)
        })
        .buffered(LOAD_CONCURRENCY)
        .collect()
        .await;
    let mut errors = Vec::new();
    let mut cases = Vec::new();
    for (job, found) in loaded {
        match found {
            Ok(found) => cases.extend(found.into_iter().filter(|c| select(c))),
            Err(e) => errors.push(FileProblem {
                file: job.rel,
                message: e.message,
                traceback: e.traceback,
            }),
        }
    }
    let timer = engine.clock().await?;
    let mut benchmarks = Vec::with_capacity(cases.len());
    let total = cases.len();
    for (i, case) in cases.iter().enumerate() {
        on_start(case, i, total);
        let result = measure::measure(case, &mut engine.timer(case), settings, &timer).await;
        on_result(&result);
        benchmarks.push(result);
    }
    Ok(Measured {
        timer,
        benchmarks,
        errors,
    })
}

/// Where `--save NAME` keeps a run.
pub fn saved_path(root: &Path, name: &str) -> PathBuf {
    root.join(".dbtest")
        .join("bench")
        .join(format!("{name}.json"))
}

/// Checks a `--save` / `--compare` name: it becomes a file name.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid run name {name:?}: use letters, digits, '-', '_' or '.', e.g. --save main"
        ))
    }
}

pub fn save(root: &Path, name: &str, report: &BenchReport) -> std::io::Result<PathBuf> {
    let path = saved_path(root, name);
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    dbtest_report::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// A saved run, or a message saying why it cannot be used (missing, unreadable, another schema).
pub fn load(root: &Path, name: &str) -> Result<BenchReport, String> {
    let path = saved_path(root, name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        let available = list_saved(root);
        format!(
            "no saved run {name:?} ({}: {e}); save one with `dbtest bench --save {name}`{}",
            path.display(),
            if available.is_empty() {
                String::new()
            } else {
                format!("; saved runs: {}", available.join(", "))
            }
        )
    })?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    if value.get("schema").and_then(|s| s.as_str()) != Some(BENCH_SCHEMA) {
        return Err(format!(
            "{} is not a {BENCH_SCHEMA} run (schema {}); save it again with this version of dbtest",
            path.display(),
            value
                .get("schema")
                .map_or("missing".to_string(), |s| s.to_string())
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        format!(
            "{} does not match {BENCH_SCHEMA}: {e}; save it again with this version of dbtest",
            path.display()
        )
    })
}

fn list_saved(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join(".dbtest").join("bench"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> BenchReport {
        BenchReport {
            schema: BENCH_SCHEMA.into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_s: 1.0,
            environment: serde_json::Map::new(),
            settings: Settings::default(),
            timer: TimerInfo {
                resolution_s: 1e-9,
                overhead_s: 3e-8,
            },
            benchmarks: vec![measure::tests_support::result_with_rounds(&[
                1e-6, 1.1e-6, 0.9e-6, 1e-6, 1e-6,
            ])],
            errors: vec![],
        }
    }

    #[test]
    fn saved_runs_round_trip_and_missing_ones_say_how_to_make_them() {
        let dir = tempfile::tempdir().unwrap();
        let r = report();
        save(dir.path(), "main", &r).unwrap();
        assert_eq!(load(dir.path(), "main").unwrap(), r);
        let err = load(dir.path(), "other").unwrap_err();
        assert!(err.contains("dbtest bench --save other"), "{err}");
        assert!(err.contains("saved runs: main"), "{err}");
    }

    #[test]
    fn a_run_of_another_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = saved_path(dir.path(), "old");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"schema": "dbtest.bench/0"}"#).unwrap();
        assert!(load(dir.path(), "old")
            .unwrap_err()
            .contains("is not a dbtest.bench/1 run"));
    }

    #[test]
    fn names_are_file_safe() {
        assert!(check_name("main-2.1").is_ok());
        assert!(check_name("../x").is_err());
        assert!(check_name("").is_err());
    }
}
