//! The `dbtest.bench/1` document: settings, environment, and per benchmark every raw round
//! and its statistics (all times in seconds per iteration).

use dbtest_stats::descriptive::{Outliers, Summary};
use dbtest_stats::Interval;
use serde::{Deserialize, Serialize};

pub const BENCH_SCHEMA: &str = "dbtest.bench/1";

/// A benchmark as collected: one function with one parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchCase {
    /// Set from where the case was collected.
    #[serde(default)]
    pub file: String,
    pub line: u32,
    pub group: String,
    pub name: String,
    pub params: Option<String>,
    /// This benchmark is its group's baseline.
    pub baseline: bool,
    pub is_async: bool,
    /// The engine's handle (read from the engine, never written to a report).
    #[serde(skip_serializing, default)]
    pub key: u64,
}

impl BenchCase {
    /// `group::name[params]`: how saved runs are matched and `-k` selects.
    pub fn id(&self) -> String {
        match &self.params {
            Some(p) => format!("{}::{}::{}[{p}]", self.file, self.group, self.name),
            None => format!("{}::{}::{}", self.file, self.group, self.name),
        }
    }

    /// The label within its group.
    pub fn label(&self) -> String {
        match &self.params {
            Some(p) => format!("{}[{p}]", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub warmup_rounds: u32,
    pub min_rounds: u32,
    pub max_time_s: f64,
    pub min_round_time_s: f64,
    pub gc_disabled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            warmup_rounds: 3,
            min_rounds: 5,
            max_time_s: 1.0,
            min_round_time_s: 0.01,
            gc_disabled: false,
        }
    }
}

/// What the clock itself costs, measured before any benchmark runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimerInfo {
    /// The smallest step the clock really takes.
    pub resolution_s: f64,
    /// One iteration of the timed loop calling an empty function: the floor under every figure.
    pub overhead_s: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(flatten)]
    pub summary: Summary,
    pub ops: f64,
    /// Bootstrap confidence interval of the median.
    pub median_ci: Interval,
    pub confidence: f64,
    pub outliers: Outliers,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchError {
    pub message: String,
    pub traceback: Option<String>,
}

/// What a timed round answers: its nanoseconds, or the benchmark's own error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RoundAnswer {
    Nanoseconds(u64),
    Failed(BenchError),
}

impl From<RoundAnswer> for Result<u64, BenchError> {
    fn from(answer: RoundAnswer) -> Self {
        match answer {
            RoundAnswer::Nanoseconds(ns) => Ok(ns),
            RoundAnswer::Failed(e) => Err(e),
        }
    }
}

impl BenchError {
    /// A failure inside dbtest's own code (not the benchmark's), while doing `context`.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        BenchError {
            message: dbtest_core::internal_message(context, err),
            traceback: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    pub file: String,
    pub line: u32,
    pub group: String,
    pub name: String,
    pub params: Option<String>,
    pub baseline: bool,
    pub iterations_per_round: u64,
    pub warmup_rounds: u32,
    /// Seconds per iteration, one value per timed round, in the order they ran.
    pub rounds: Vec<f64>,
    pub stats: Option<Stats>,
    pub warnings: Vec<String>,
    pub error: Option<BenchError>,
}

impl BenchResult {
    pub fn id(&self) -> String {
        self.case().id()
    }

    pub fn case(&self) -> BenchCase {
        BenchCase {
            file: self.file.clone(),
            line: self.line,
            group: self.group.clone(),
            name: self.name.clone(),
            params: self.params.clone(),
            baseline: self.baseline,
            is_async: false,
            key: 0,
        }
    }

    pub fn label(&self) -> String {
        self.case().label()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema: String,
    pub started_at: String,
    pub duration_s: f64,
    /// Python version, platform, CPU, commit: what the figures were measured on.
    pub environment: serde_json::Map<String, serde_json::Value>,
    pub settings: Settings,
    pub timer: TimerInfo,
    pub benchmarks: Vec<BenchResult>,
    /// Files that could not be loaded, with the reason.
    pub errors: Vec<FileProblem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileProblem {
    pub file: String,
    pub message: String,
    pub traceback: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_answers_nanoseconds_or_the_benchmarks_error() {
        let read = |text: &str| serde_json::from_str::<RoundAnswer>(text).map(Result::from);
        assert_eq!(read("1234").unwrap(), Ok(1234));
        let failed = read(r#"{"message": "boom", "traceback": "tb"}"#).unwrap();
        assert_eq!(failed.unwrap_err().message, "boom");
        assert!(read(r#""fast""#).is_err());
    }
}
