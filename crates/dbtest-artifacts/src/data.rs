//! What a run gathered, as the writers take it. Plain data: the caller (dbtest-experiment)
//! fills it from its summary and sample log, so the writers know nothing of how a run works.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::levels::SecurityLevel;

/// A two-sided interval, such as Wilson's for a pass rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Latency percentiles in milliseconds; none without a sample that returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// One configuration's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSummary {
    pub config_id: String,
    /// How people read it, such as `model=small temperature=0.7`.
    pub label: String,
    /// Factor name -> level, in the design's order.
    pub factors: Map<String, Value>,
    /// The best configuration of the run (the highest pass rate).
    pub best: bool,
    pub samples_planned: u64,
    pub samples_run: u64,
    pub successes: u64,
    pub failures: u64,
    /// Infrastructure errors: not trials, not in the pass rate.
    pub errors: u64,
    pub pass_rate: Option<f64>,
    pub interval: Interval,
    pub latency_ms: Latency,
    pub tokens: u64,
    pub cost_usd: f64,
    /// `completed`, or why sampling stopped.
    pub termination: String,
}

/// One finished sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    pub config_id: String,
    pub index: u64,
    pub seed: u64,
    /// `success`, `failure` or `error`.
    pub outcome: String,
    pub attempts: u32,
    pub latency_ms: f64,
    pub tokens: u64,
    pub cost_usd: f64,
    pub message: Option<String>,
    /// What the use case returned (a mapping, usually).
    pub data: Value,
}

/// A configuration against the best one: the difference of their pass rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub config_id: String,
    /// This configuration's pass rate minus the best one's.
    pub difference: f64,
    /// The interval of that difference, at the run's confidence.
    pub interval: Interval,
    /// What it means, in words ("significantly below the best", ...).
    pub conclusion: String,
}

/// A spec's verdict, when the caller has one to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRow {
    pub spec_id: String,
    /// PASS, FAIL or INCONCLUSIVE.
    pub verdict: String,
    pub message: String,
}

/// Everything the sinks render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    pub experiment: String,
    pub use_case: String,
    /// The data's level: shown on every page and recorded in every manifest.
    pub level: SecurityLevel,
    /// The run folder as the user sees it (relative to the project when inside it).
    pub run_dir: String,
    pub started_at: String,
    pub duration_s: f64,
    pub confidence: f64,
    /// The design's success criterion, if any.
    pub success: Option<String>,
    /// `completed`, or why the run stopped early.
    pub termination: String,
    /// In the design's configuration order.
    pub configs: Vec<ConfigSummary>,
    /// In the sample log's order.
    pub samples: Vec<SampleRow>,
    /// Each configuration but the best against the best.
    pub comparisons: Vec<Comparison>,
    pub verdicts: Vec<VerdictRow>,
}

impl RunData {
    /// The factors of a configuration (empty for an unknown one).
    pub fn factors_of(&self, config_id: &str) -> Option<&Map<String, Value>> {
        self.configs
            .iter()
            .find(|c| c.config_id == config_id)
            .map(|c| &c.factors)
    }
}

/// A small run for the writers' tests.
#[cfg(test)]
pub(crate) fn example() -> RunData {
    use serde_json::json;
    let config = |id: &str, model: &str, k: u64, n: u64, best: bool| ConfigSummary {
        config_id: id.into(),
        label: id.into(),
        factors: json!({"model": model})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        best,
        samples_planned: 20,
        samples_run: n + 1,
        successes: k,
        failures: n - k,
        errors: 1,
        pass_rate: Some(k as f64 / n as f64),
        interval: Interval {
            low: (k as f64 / n as f64 - 0.2).max(0.0),
            high: (k as f64 / n as f64 + 0.1).min(1.0),
        },
        latency_ms: Latency {
            p50: Some(120.0),
            p90: Some(300.5),
            p95: Some(410.0),
            p99: Some(800.25),
        },
        tokens: 1234,
        cost_usd: 0.0123,
        termination: "completed".into(),
    };
    let sample = |config: &str, index: u64, outcome: &str, data: Value| SampleRow {
        config_id: config.into(),
        index,
        seed: 1000 + index,
        outcome: outcome.into(),
        attempts: 1,
        latency_ms: 100.0 + index as f64,
        tokens: 10,
        cost_usd: 0.001,
        message: (outcome != "success").then(|| format!("{outcome} <b>here</b>")),
        data,
    };
    RunData {
        experiment: "shop-search".into(),
        use_case: "shop.search".into(),
        level: SecurityLevel::OfficialSensitive,
        run_dir: "experiments/shop-search/20261201T100000Z".into(),
        started_at: "2026-12-01T10:00:00Z".into(),
        duration_s: 12.5,
        confidence: 0.95,
        success: Some("valid_json and latency_ms < 800".into()),
        termination: "completed".into(),
        configs: vec![
            config("model=small", "small", 14, 20, false),
            config("model=large", "large", 19, 20, true),
        ],
        samples: vec![
            sample(
                "model=small",
                0,
                "success",
                json!({"valid_json": true, "query": "=1+2"}),
            ),
            sample(
                "model=small",
                1,
                "failure",
                json!({"valid_json": false, "query": "@SUM(A1)"}),
            ),
            sample("model=large", 0, "error", Value::Null),
        ],
        comparisons: vec![Comparison {
            config_id: "model=small".into(),
            difference: -0.25,
            interval: Interval {
                low: -0.46,
                high: -0.03,
            },
            conclusion: "significantly below the best".into(),
        }],
        verdicts: Vec::new(),
    }
}
