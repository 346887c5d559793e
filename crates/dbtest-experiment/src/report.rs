//! Baselines (`dbtest.baseline/1`), the run summary (`summary.json`, `SUMMARY.md`, the
//! console table) and the live progress line.

use dbtest_stats::descriptive::percentile;
use dbtest_stats::proportion::wilson_interval;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::compare::{self, Comparisons};
use crate::design::{config_label, Budgets, Configuration, Design, StopWhen};
use crate::sample::{content_sha256, SampleOutcome};
use crate::schedule::{ConfigState, Termination};

pub const BASELINE_SCHEMA: &str = "dbtest.baseline/1";
pub const SUMMARY_SCHEMA: &str = "dbtest.experiment-summary/1";

/// Latency percentiles of the samples that returned (errors excluded), in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// How the run was set up, kept with each baseline so that `approve` carries the success
/// criterion and the budgets into the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineDesign {
    pub success: Option<String>,
    #[serde(default)]
    pub budgets: Budgets,
    pub concurrency: u32,
    pub retries: u32,
    #[serde(default)]
    pub max_per_second: Option<f64>,
    #[serde(default)]
    pub stop_when: Option<StopWhen>,
    /// The run's seed: put it in the design to repeat the run sample by sample.
    pub seed: u64,
    /// The design's models, dataset, prompt, judge and middleware, as written.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub models: Map<String, Value>,
}

/// One configuration's measurement (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub schema: String,
    pub use_case: String,
    pub experiment: String,
    pub config_id: String,
    pub factors: Map<String, Value>,
    pub generated_at: String,
    pub samples_planned: u64,
    /// Finished samples: successes + failures + errors.
    pub samples_run: u64,
    pub successes: u64,
    pub failures: u64,
    /// Infrastructure errors, counted apart: not in the pass rate.
    pub errors: u64,
    /// successes / (successes + failures); null without a single trial.
    pub pass_rate: Option<f64>,
    pub wilson_low: f64,
    pub wilson_high: f64,
    pub confidence: f64,
    pub latency_ms: Latency,
    pub tokens: u64,
    pub cost_usd: f64,
    pub termination: Termination,
    pub content_sha256: String,
    pub design: BaselineDesign,
}

impl Baseline {
    /// The trials the pass rate is computed from.
    pub fn trials(&self) -> u64 {
        self.successes + self.failures
    }
}

pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The baseline of one configuration after a run.
pub fn baseline(
    design: &Design,
    run_seed: u64,
    config: &Configuration,
    state: &ConfigState,
    generated_at: &str,
) -> Baseline {
    let trials = state.trials();
    let interval = wilson_interval(state.successes, trials, design.confidence);
    let mut latencies: Vec<f64> = state
        .records
        .iter()
        .filter(|r| r.outcome != SampleOutcome::Error && r.latency_ms.is_finite())
        .map(|r| r.latency_ms)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| (!latencies.is_empty()).then(|| round(percentile(&latencies, p), 3));
    Baseline {
        schema: BASELINE_SCHEMA.to_string(),
        use_case: design.use_case.clone(),
        experiment: design.experiment.clone(),
        config_id: config.config_id.clone(),
        factors: config.factors.clone(),
        generated_at: generated_at.to_string(),
        samples_planned: design.samples,
        samples_run: state.samples_run(),
        successes: state.successes,
        failures: state.failures,
        errors: state.errors,
        pass_rate: (trials > 0).then(|| round(state.successes as f64 / trials as f64, 6)),
        wilson_low: round(interval.lo, 6),
        wilson_high: round(interval.hi, 6),
        confidence: design.confidence,
        latency_ms: Latency {
            p50: pct(50.0),
            p90: pct(90.0),
            p95: pct(95.0),
            p99: pct(99.0),
        },
        tokens: state.tokens,
        cost_usd: round(state.cost_usd, 6),
        termination: state.termination.unwrap_or(Termination::Completed),
        content_sha256: content_sha256(&state.records),
        design: BaselineDesign {
            success: design.success.as_ref().map(|e| e.source().to_string()),
            budgets: design.budgets,
            concurrency: design.concurrency,
            retries: design.retries,
            max_per_second: design.max_per_second,
            stop_when: design.stop_when,
            seed: run_seed,
            models: design.llm.written.clone(),
        },
    }
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub config_id: String,
    pub factors: Map<String, Value>,
    pub best: bool,
    pub samples_run: u64,
    pub successes: u64,
    pub failures: u64,
    pub errors: u64,
    pub pass_rate: Option<f64>,
    pub wilson_low: f64,
    pub wilson_high: f64,
    pub latency_ms: Latency,
    pub tokens: u64,
    pub cost_usd: f64,
    pub termination: Termination,
    /// The baseline file, relative to the run folder.
    pub baseline: String,
    /// The most common messages of failed and errored samples, most frequent first.
    pub top_messages: Vec<MessageCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageCount {
    pub outcome: SampleOutcome,
    pub message: String,
    pub count: u64,
}

/// `summary.json`: every configuration side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    pub experiment: String,
    pub use_case: String,
    pub run_dir: String,
    pub started_at: String,
    pub duration_s: f64,
    pub seed: u64,
    pub samples_planned: u64,
    pub confidence: f64,
    pub success: Option<String>,
    /// `completed`, or why the run stopped early (a budget, `interrupted`).
    pub termination: Termination,
    /// The configuration with the highest pass rate (see [`compare::compare`]).
    pub best: Option<String>,
    /// The data's level (DESIGN §9); a summary from before levels reads as unofficial.
    #[serde(default)]
    pub security_level: dbtest_artifacts::SecurityLevel,
    /// `--shard K/N`: the run sampled this share only; absent in a whole or merged run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
    pub configurations: Vec<SummaryRow>,
    /// Each configuration against the best, on the same rows.
    pub comparisons: Comparisons,
}

fn top_messages(state: &ConfigState) -> Vec<MessageCount> {
    let mut counts: Vec<MessageCount> = Vec::new();
    for r in &state.records {
        if let (Some(m), true) = (&r.message, r.outcome != SampleOutcome::Success) {
            let line = m.lines().next().unwrap_or_default().to_string();
            match counts
                .iter_mut()
                .find(|c| c.message == line && c.outcome == r.outcome)
            {
                Some(c) => c.count += 1,
                None => counts.push(MessageCount {
                    outcome: r.outcome,
                    message: line,
                    count: 1,
                }),
            }
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.count));
    counts.truncate(3);
    counts
}

/// The summary of a run from its baselines (in configuration order). `rows` is the
/// dataset's row count, if the design has one: sample `i` used row `i mod rows`.
#[allow(clippy::too_many_arguments)]
pub fn summary(
    design: &Design,
    baselines: &[Baseline],
    states: &[ConfigState],
    baseline_files: &[String],
    run_dir: &str,
    started_at: &str,
    duration_s: f64,
    stopped: Option<Termination>,
    rows: Option<u64>,
) -> Summary {
    let records = states.iter().flat_map(|s| &s.records);
    let ids: Vec<&str> = baselines.iter().map(|b| b.config_id.as_str()).collect();
    let comparisons = compare::compare(records, rows, &ids, design.confidence);
    let best = comparisons
        .best
        .as_ref()
        .and_then(|id| ids.iter().position(|i| i == id));
    let configurations = baselines
        .iter()
        .zip(states)
        .zip(baseline_files)
        .enumerate()
        .map(|(i, ((b, s), file))| SummaryRow {
            config_id: b.config_id.clone(),
            factors: b.factors.clone(),
            best: Some(i) == best,
            samples_run: b.samples_run,
            successes: b.successes,
            failures: b.failures,
            errors: b.errors,
            pass_rate: b.pass_rate,
            wilson_low: b.wilson_low,
            wilson_high: b.wilson_high,
            latency_ms: b.latency_ms,
            tokens: b.tokens,
            cost_usd: b.cost_usd,
            termination: b.termination,
            baseline: file.clone(),
            top_messages: top_messages(s),
        })
        .collect();
    Summary {
        schema: SUMMARY_SCHEMA.to_string(),
        experiment: design.experiment.clone(),
        use_case: design.use_case.clone(),
        run_dir: run_dir.to_string(),
        started_at: started_at.to_string(),
        duration_s: round(duration_s, 3),
        seed: baselines.first().map_or(0, |b| b.design.seed),
        samples_planned: design.samples,
        confidence: design.confidence,
        success: design.success.as_ref().map(|e| e.source().to_string()),
        termination: stopped.unwrap_or(Termination::Completed),
        best: best.map(|i| baselines[i].config_id.clone()),
        security_level: design.artifacts.level,
        shard: None,
        configurations,
        comparisons,
    }
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

fn fmt_cost(x: f64) -> String {
    if x == 0.0 {
        "0".to_string()
    } else if x < 0.01 {
        format!("{x:.6}")
    } else {
        format!("{x:.4}")
    }
}

const HEADERS: [&str; 12] = [
    "",
    "configuration",
    "pass rate",
    "interval",
    "passed",
    "errors",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "tokens",
    "cost $",
    "stopped",
];

fn cells(row: &SummaryRow) -> [String; 12] {
    [
        if row.best { "*".into() } else { String::new() },
        config_label(&row.factors),
        fmt_opt(row.pass_rate, 3),
        format!("[{:.3}, {:.3}]", row.wilson_low, row.wilson_high),
        format!("{}/{}", row.successes, row.successes + row.failures),
        row.errors.to_string(),
        fmt_opt(row.latency_ms.p50, 1),
        fmt_opt(row.latency_ms.p95, 1),
        fmt_opt(row.latency_ms.p99, 1),
        row.tokens.to_string(),
        fmt_cost(row.cost_usd),
        row.termination.to_string(),
    ]
}

pub(crate) fn percent(confidence: f64) -> String {
    let p = confidence * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p}%")
    }
}

fn headline(s: &Summary) -> String {
    // A design without Python takes its experiment's name as its use case: not said twice.
    let use_case = if s.use_case == s.experiment {
        String::new()
    } else {
        format!("use case {}, ", s.use_case)
    };
    format!(
        "{use_case}{} configuration{} x {} samples, {} confidence{}",
        s.configurations.len(),
        if s.configurations.len() == 1 { "" } else { "s" },
        s.samples_planned,
        percent(s.confidence),
        s.success
            .as_ref()
            .map(|e| format!(", success: {e}"))
            .unwrap_or_default()
    )
}

/// `SUMMARY.md`.
pub fn markdown(s: &Summary) -> String {
    let mut out = format!(
        "# Experiment `{}`\n\n**Security level: {}**\n\n",
        s.experiment,
        s.security_level.as_str().to_uppercase()
    );
    out.push_str(&format!(
        "{}.\nRun `{}`, started {}, {:.1} s, seed {}; {}.\n\n",
        capitalize(&headline(s)),
        s.run_dir,
        s.started_at,
        s.duration_s,
        s.seed,
        stop_phrase(s.termination)
    ));
    if let Some(shard) = s.shard {
        out.push_str(&format!(
            "This is share {shard} of the samples: join the shares with `dbtest experiment merge`.\n\n"
        ));
    }
    let mut headers = HEADERS;
    headers[3] = "interval";
    out.push_str(&format!("| {} |\n", headers.join(" | ")));
    out.push_str(&format!("|{}\n", "---|".repeat(headers.len())));
    for row in &s.configurations {
        let mut c = cells(row);
        c[0] = if row.best {
            "★".into()
        } else {
            String::new()
        };
        c[1] = format!("`{}`", c[1]);
        out.push_str(&format!("| {} |\n", c.join(" | ")));
    }
    out.push_str(&format!(
        "\nPass rate = successes / (successes + failures); the interval is Wilson's at {}; \
         infrastructure errors are counted apart. ★ marks the best configuration: the highest \
         pass rate.\n",
        percent(s.confidence)
    ));
    let compared = compare::markdown(&s.comparisons);
    if !compared.is_empty() {
        out.push('\n');
        out.push_str(&compared);
    }
    let noted: Vec<&SummaryRow> = s
        .configurations
        .iter()
        .filter(|r| !r.top_messages.is_empty())
        .collect();
    if !noted.is_empty() {
        out.push_str("\n## Most common failures and errors\n\n");
        for row in noted {
            out.push_str(&format!("- `{}`\n", config_label(&row.factors)));
            for m in &row.top_messages {
                out.push_str(&format!(
                    "  - {} x{}: {}\n",
                    match m.outcome {
                        SampleOutcome::Error => "error",
                        _ => "failure",
                    },
                    m.count,
                    m.message.replace('|', "\\|")
                ));
            }
        }
    }
    out.push_str("\n## Baselines\n\n");
    for row in &s.configurations {
        out.push_str(&format!("- `{}`\n", row.baseline));
    }
    if let Some(best) = s.configurations.iter().find(|r| r.best) {
        out.push_str(&format!(
            "\nTurn a baseline into a spec:\n\n```\ndbtest experiment approve '{}/{}' --by NAME\n```\n",
            s.run_dir, best.baseline
        ));
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn stop_phrase(t: Termination) -> &'static str {
    match t {
        Termination::Completed => "every configuration ran to its end",
        Termination::BudgetTime => "stopped: the time budget was spent",
        Termination::BudgetTokens => "stopped: the token budget was spent",
        Termination::BudgetCost => "stopped: the cost budget was spent",
        Termination::Interrupted => "interrupted",
        _ => "stopped early",
    }
}

/// The console table of a run.
pub fn console(s: &Summary) -> String {
    let rows: Vec<[String; 12]> = s.configurations.iter().map(cells).collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| -> String {
        let mut out = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            let pad = w - c.chars().count();
            // Text columns to the left, numbers to the right.
            if i <= 1 || i == 3 || i == 11 {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
            out.push_str("  ");
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = format!(
        "experiment {}: {}\nsecurity level: {}\n\n",
        s.experiment,
        headline(s),
        s.security_level
    );
    out.push_str(&line(&HEADERS.map(String::from)));
    for row in &rows {
        out.push_str(&line(row));
    }
    for row in s
        .configurations
        .iter()
        .filter(|r| !r.top_messages.is_empty())
    {
        if let Some(m) = row.top_messages.first() {
            out.push_str(&format!(
                "\n  {}: {} x{}: {}",
                config_label(&row.factors),
                match m.outcome {
                    SampleOutcome::Error => "error",
                    _ => "failure",
                },
                m.count,
                m.message
            ));
        }
    }
    if s.configurations.iter().any(|r| !r.top_messages.is_empty()) {
        out.push('\n');
    }
    out.push_str(&format!(
        "\n* best: highest pass rate; intervals at {}. {} in {:.1}s.\n",
        percent(s.confidence),
        capitalize(stop_phrase(s.termination)),
        s.duration_s
    ));
    out
}

/// `model=small temperature=0.0  120/200  pass 0.91 [0.86, 0.94]  err 0`
pub fn progress_line(label: &str, state: &ConfigState, planned: u64, confidence: f64) -> String {
    let trials = state.trials();
    let rate = if trials == 0 {
        "pass -".to_string()
    } else {
        let i = wilson_interval(state.successes, trials, confidence);
        format!(
            "pass {:.2} [{:.2}, {:.2}]",
            state.successes as f64 / trials as f64,
            i.lo,
            i.hi
        )
    };
    let mut line = format!(
        "{label}  {}/{planned}  {rate}  err {}",
        state.samples_run(),
        state.errors
    );
    if let Some(t) = state.termination {
        line.push_str(&format!("  {t}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::SampleRecord;
    use serde_json::json;

    fn design() -> Design {
        Design::from_value(
            "d.yaml",
            &json!({"experiment": "e", "use_case": "u.c", "samples": 10,
                    "factors": {"m": ["a", "b"]}, "success": "ok"}),
        )
        .unwrap()
    }

    fn state(config_id: &str, pattern: &[SampleOutcome]) -> ConfigState {
        let mut s = ConfigState::default();
        for (i, o) in pattern.iter().enumerate() {
            match o {
                SampleOutcome::Success => s.successes += 1,
                SampleOutcome::Failure => s.failures += 1,
                SampleOutcome::Error => s.errors += 1,
            }
            s.records.push(SampleRecord {
                config_id: config_id.into(),
                index: i as u64,
                seed: 1,
                outcome: *o,
                attempts: 1,
                latency_ms: (i + 1) as f64,
                tokens: 10,
                cost_usd: 0.001,
                message: (*o != SampleOutcome::Success).then(|| format!("{o:?} happened")),
                data: json!({"ok": *o == SampleOutcome::Success}),
                calls: Vec::new(),
            });
            s.tokens += 10;
            s.cost_usd += 0.001;
        }
        s.termination = Some(Termination::Completed);
        s
    }

    #[test]
    fn baselines_and_the_best_configuration() {
        use SampleOutcome::*;
        let d = design();
        let configs = d.configurations();
        let states = [
            state("m=a", &[Success, Success, Failure, Error, Success]),
            state(
                "m=b",
                &[Success, Success, Success, Success, Failure, Success],
            ),
        ];
        let baselines: Vec<Baseline> = configs
            .iter()
            .zip(&states)
            .map(|(c, s)| baseline(&d, 42, c, s, "2025-01-01T00:00:00Z"))
            .collect();
        let b = &baselines[0];
        assert_eq!(
            (b.samples_run, b.successes, b.failures, b.errors),
            (5, 3, 1, 1)
        );
        assert_eq!(b.pass_rate, Some(0.75));
        let w = wilson_interval(3, 4, 0.95);
        assert_eq!(
            (b.wilson_low, b.wilson_high),
            (round(w.lo, 6), round(w.hi, 6))
        );
        // Errors are left out of the latencies: 1, 2, 3, 5 ms.
        assert_eq!(b.latency_ms.p50, Some(2.5));
        assert_eq!(b.tokens, 50);
        assert_eq!(b.design.seed, 42);
        assert_eq!(b.design.success.as_deref(), Some("ok"));
        assert_eq!(b.content_sha256.len(), 64);
        let files = vec![
            "baselines/m=a.yaml".to_string(),
            "baselines/m=b.yaml".to_string(),
        ];
        let s = summary(
            &d, &baselines, &states, &files, "runs/x", "t0", 1.5, None, None,
        );
        assert_eq!(s.best.as_deref(), Some("m=b"));
        assert!(s.configurations[1].best && !s.configurations[0].best);
        assert_eq!(s.configurations[0].top_messages.len(), 2);
        let md = markdown(&s);
        assert!(md.contains("| ★ | `m=b` | 0.833 |"), "{md}");
        assert!(md.contains("**Security level: UNOFFICIAL**"), "{md}");
        assert!(console(&s).contains("\nsecurity level: unofficial\n"));
        assert!(
            md.contains("## Compared with the best configuration"),
            "{md}"
        );
        assert_eq!(s.comparisons.best.as_deref(), Some("m=b"));
        assert!(
            md.contains("dbtest experiment approve 'runs/x/baselines/m=b.yaml' --by NAME"),
            "{md}"
        );
        let text = console(&s);
        assert!(text.contains("configuration"), "{text}");
        assert!(text.lines().any(|l| l.starts_with("*  m=b")), "{text}");
        // The baseline survives a round trip (approve reads it back).
        let back: Baseline = serde_json::from_value(serde_json::to_value(b).unwrap()).unwrap();
        assert_eq!(&back, b);
    }

    #[test]
    fn progress() {
        use SampleOutcome::*;
        let mut s = state("m=a", &[Success, Failure, Error]);
        s.termination = None;
        assert_eq!(
            progress_line("m=a", &s, 200, 0.95),
            "m=a  3/200  pass 0.50 [0.09, 0.91]  err 1"
        );
        assert_eq!(
            progress_line("m=a", &ConfigState::default(), 5, 0.95),
            "m=a  0/5  pass -  err 0"
        );
    }
}
