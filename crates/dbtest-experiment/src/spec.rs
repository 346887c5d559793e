//! Specs (`dbtest.spec/1`): approving a baseline, and the verdict of a probabilistic test.

use std::path::{Path, PathBuf};

use dbtest_stats::verdict::{Counts, Decision, DecisionRule, Threshold};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::design::{Budgets, Configuration};
use crate::report::{round, Baseline, BASELINE_SCHEMA};
use crate::schedule::{ConfigState, Termination};

pub const SPEC_SCHEMA: &str = "dbtest.spec/1";
pub const DEFAULT_EXPIRY_DAYS: i64 = 90;
/// A spec expiring within this many days is warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 14;
/// More infrastructure errors than this share of the planned samples make a verdict
/// INCONCLUSIVE.
pub const MAX_ERROR_SHARE: f64 = 0.10;

/// Where a spec's threshold comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Empirical,
    Sla,
    Slo,
    Policy,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Empirical => "empirical",
            Origin::Sla => "sla",
            Origin::Slo => "slo",
            Origin::Policy => "policy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecBaseline {
    /// The baseline file, relative to the project root.
    pub path: String,
    /// SHA-256 of the baseline file as approved.
    pub sha256: String,
    pub successes: u64,
    /// The baseline's trials (successes + failures).
    pub samples: u64,
}

/// An approved contract (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub schema: String,
    pub spec_id: String,
    pub use_case: String,
    pub version: u32,
    #[serde(default)]
    pub factors: Map<String, Value>,
    #[serde(default)]
    pub success: Option<String>,
    pub samples: u64,
    pub confidence: f64,
    pub min_pass_rate: f64,
    pub threshold_origin: Origin,
    pub baseline: SpecBaseline,
    #[serde(default)]
    pub budgets: Budgets,
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub approved_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// How the baseline's design sampled (DESIGN §6), so that `verify` samples the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_with: Option<RanWith>,
}

/// What a spec keeps of its baseline's design: concurrency, retries, pacing, and the
/// models, dataset, prompt, judge and middleware as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RanWith {
    pub concurrency: u32,
    pub retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_second: Option<f64>,
    #[serde(flatten)]
    pub models: Map<String, Value>,
}

/// serde_json's messages end with a position in the JSON text, which the user never saw
/// (the file is YAML): drop it.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

/// A use case id as a file-name stem.
pub fn file_stem(use_case: &str) -> String {
    use_case
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn spec_file_name(use_case: &str, version: u32) -> String {
    format!("{}.v{version}.yaml", file_stem(use_case))
}

/// The versions of `use_case` that have a spec file in `specs_dir`.
pub fn existing_versions(specs_dir: &Path, use_case: &str) -> Vec<u32> {
    let prefix = format!("{}.v", file_stem(use_case));
    let Ok(entries) = std::fs::read_dir(specs_dir) else {
        return Vec::new();
    };
    let mut versions: Vec<u32> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix)?
                .strip_suffix(".yaml")?
                .parse()
                .ok()
        })
        .collect();
    versions.sort_unstable();
    versions
}

/// `shop.search:v2` -> (`shop.search`, Some(2)); `shop.search` -> the latest version.
pub fn parse_spec_id(spec_id: &str) -> Result<(String, Option<u32>), String> {
    match spec_id.rsplit_once(":v") {
        Some((use_case, v)) if !use_case.is_empty() => match v.parse::<u32>() {
            Ok(n) if n >= 1 => Ok((use_case.to_string(), Some(n))),
            _ => Err(format!(
                "invalid spec id {spec_id:?}: expected <use_case>:v<N>, e.g. shop.search:v1"
            )),
        },
        _ if !spec_id.trim().is_empty() && !spec_id.contains(':') => {
            Ok((spec_id.to_string(), None))
        }
        _ => Err(format!(
            "invalid spec id {spec_id:?}: expected <use_case>:v<N>, e.g. shop.search:v1"
        )),
    }
}

/// The spec file a spec id names (the latest version when the id has none).
pub fn spec_path(specs_dir: &Path, spec_id: &str) -> Result<(String, PathBuf), String> {
    let (use_case, version) = parse_spec_id(spec_id)?;
    let version = match version {
        Some(v) => v,
        None => existing_versions(specs_dir, &use_case)
            .last()
            .copied()
            .unwrap_or(1),
    };
    Ok((
        format!("{use_case}:v{version}"),
        specs_dir.join(spec_file_name(&use_case, version)),
    ))
}

/// What `approve` was asked for.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveOptions {
    pub by: Option<String>,
    pub samples: Option<u64>,
    pub confidence: Option<f64>,
    pub min_pass_rate: Option<f64>,
    pub origin: Option<String>,
    pub expires_days: Option<i64>,
    pub notes: Option<String>,
}

fn timestamp_text(ts: jiff::Timestamp) -> String {
    ts.round(jiff::Unit::Second).unwrap_or(ts).to_string()
}

/// Reads a baseline (YAML turned into JSON).
pub fn parse_baseline(file: &str, value: &Value) -> Result<Baseline, String> {
    if value.get("schema").and_then(Value::as_str) != Some(BASELINE_SCHEMA) {
        return Err(format!(
            "{file} is not a baseline: its `schema` is {}, not {BASELINE_SCHEMA}; pass a file from \
             the baselines/ folder of a run",
            value.get("schema").map_or("missing".to_string(), |s| s.to_string())
        ));
    }
    serde_json::from_value(value.clone()).map_err(|e| {
        format!(
            "{file}: invalid baseline: {}",
            strip_position(&e.to_string())
        )
    })
}

/// Turns a baseline into a spec, or says why not. `baseline_path` is relative to the
/// project root; `existing` are the versions that already have a spec file.
pub fn approve(
    baseline: &Baseline,
    baseline_path: &str,
    baseline_sha256: &str,
    options: &ApproveOptions,
    existing: &[u32],
    now: jiff::Timestamp,
) -> Result<(Spec, Vec<String>), String> {
    let mut warnings = Vec::new();
    let by = options
        .by
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .ok_or("a spec needs the name of the person approving it: pass --by NAME")?;
    if baseline.trials() == 0 {
        return Err(format!(
            "{baseline_path} has no successful or failed sample (errors: {}); run the experiment again",
            baseline.errors
        ));
    }
    if baseline.termination != Termination::Completed {
        warnings.push(format!(
            "{baseline_path} ended with `{}` after {} of {} planned samples",
            baseline.termination, baseline.samples_run, baseline.samples_planned
        ));
    }
    let confidence = options.confidence.unwrap_or(0.95);
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(format!(
            "--confidence must be between 0 and 1 (exclusive), e.g. 0.95; got {confidence}"
        ));
    }
    let samples = options.samples.unwrap_or(baseline.samples_run);
    if samples == 0 {
        return Err("--samples must be at least 1".into());
    }
    let (threshold, origin) = match (options.min_pass_rate, options.origin.as_deref()) {
        (None, None) => (
            Threshold::Empirical {
                baseline: Counts::new(baseline.successes, baseline.trials()),
            },
            Origin::Empirical,
        ),
        (Some(rate), Some(origin)) => {
            let origin = match origin {
                "sla" => Origin::Sla,
                "slo" => Origin::Slo,
                "policy" => Origin::Policy,
                other => {
                    return Err(format!(
                        "--origin must be sla, slo or policy, got {other:?}"
                    ))
                }
            };
            (
                Threshold::Contractual {
                    min_pass_rate: rate,
                },
                origin,
            )
        }
        (Some(_), None) => {
            return Err(
                "--min-pass-rate needs --origin sla|slo|policy: where the rate comes from".into(),
            )
        }
        (None, Some(_)) => {
            return Err("--origin goes with --min-pass-rate X: the promised rate".into())
        }
    };
    let rule = DecisionRule::new(threshold, samples, confidence).map_err(|e| {
        format!(
            "refused: {e}; choose more --samples, a lower --min-pass-rate or a lower --confidence"
        )
    })?;
    let min_pass_rate = match threshold {
        Threshold::Contractual { min_pass_rate } => min_pass_rate,
        Threshold::Empirical { .. } => round(rule.min_pass_rate(), 6),
    };
    if origin == Origin::Empirical && rule.min_successes() == 0 {
        warnings.push(format!(
            "with {samples} samples no result can fail this spec (the threshold is 0); approve with more --samples"
        ));
    }
    let days = options.expires_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
    if days < 1 {
        return Err(format!("--expires-days must be at least 1, got {days}"));
    }
    let expires = now
        .checked_add(jiff::SignedDuration::from_hours(24 * days))
        .map_err(|e| format!("--expires-days {days}: {e}"))?;
    let version = existing.iter().max().map_or(1, |v| v + 1);
    let spec = Spec {
        schema: SPEC_SCHEMA.to_string(),
        spec_id: format!("{}:v{version}", baseline.use_case),
        use_case: baseline.use_case.clone(),
        version,
        factors: baseline.factors.clone(),
        success: baseline.design.success.clone(),
        samples,
        confidence,
        min_pass_rate,
        threshold_origin: origin,
        baseline: SpecBaseline {
            path: baseline_path.to_string(),
            sha256: baseline_sha256.to_string(),
            successes: baseline.successes,
            samples: baseline.trials(),
        },
        budgets: baseline.design.budgets,
        approved_by: Some(by.to_string()),
        approved_at: Some(timestamp_text(now)),
        expires_at: Some(timestamp_text(expires)),
        notes: options.notes.clone().filter(|n| !n.trim().is_empty()),
        ran_with: Some(RanWith {
            concurrency: baseline.design.concurrency,
            retries: baseline.design.retries,
            max_per_second: baseline.design.max_per_second,
            models: baseline.design.models.clone(),
        }),
    };
    Ok((spec, warnings))
}

/// A spec that may be run: its rule and configuration, and any warnings.
#[derive(Debug, Clone)]
pub struct Checked {
    pub rule: DecisionRule,
    pub config: Configuration,
    pub warnings: Vec<String>,
}

/// What stops a spec from running at all.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Not a valid, approved or feasible spec: exit 4.
    Usage(String),
    /// Expired: INCONCLUSIVE.
    Expired(String),
}

/// Parses and checks a spec read from `file`: approved, not expired, feasible.
pub fn check(file: &str, value: &Value, now: jiff::Timestamp) -> Result<(Spec, Checked), Refusal> {
    let spec: Spec = serde_json::from_value(value.clone()).map_err(|e| {
        Refusal::Usage(format!(
            "{file}: invalid spec: {}",
            strip_position(&e.to_string())
        ))
    })?;
    if spec.schema != SPEC_SCHEMA {
        return Err(Refusal::Usage(format!(
            "{file}: `schema` is {:?}, not {SPEC_SCHEMA}",
            spec.schema
        )));
    }
    let approved = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    if !approved(&spec.approved_by) || !approved(&spec.approved_at) {
        return Err(Refusal::Usage(format!(
            "{file}: spec {} is not approved (approved_by / approved_at are missing); a person \
             approves a baseline with `dbtest experiment approve BASELINE --by NAME`",
            spec.spec_id
        )));
    }
    let mut warnings = Vec::new();
    if let Some(expires) = &spec.expires_at {
        let at: jiff::Timestamp = expires.parse().map_err(|e| {
            Refusal::Usage(format!("{file}: `expires_at` is not an RFC 3339 time: {e}"))
        })?;
        if at <= now {
            return Err(Refusal::Expired(format!(
                "spec {} expired at {expires}; run the experiment again and approve a new version",
                spec.spec_id
            )));
        }
        let left = at.duration_since(now).as_secs() / 86_400;
        if left < EXPIRY_WARNING_DAYS {
            warnings.push(format!(
                "spec {} expires at {expires} (in {left} day{}); run the experiment again and approve a new version",
                spec.spec_id,
                if left == 1 { "" } else { "s" }
            ));
        }
    }
    let threshold = match spec.threshold_origin {
        Origin::Empirical => Threshold::Empirical {
            baseline: Counts::new(spec.baseline.successes, spec.baseline.samples),
        },
        _ => Threshold::Contractual {
            min_pass_rate: spec.min_pass_rate,
        },
    };
    let rule = DecisionRule::new(threshold, spec.samples, spec.confidence)
        .map_err(|e| Refusal::Usage(format!("{file}: spec {} refused: {e}", spec.spec_id)))?;
    if spec.threshold_origin == Origin::Empirical
        && (rule.min_pass_rate() - spec.min_pass_rate).abs() > 1e-6
    {
        warnings.push(format!(
            "spec {}: min_pass_rate {} does not match the rate its baseline implies ({:.6}); the \
             empirical rule decides",
            spec.spec_id,
            spec.min_pass_rate,
            rule.min_pass_rate()
        ));
    }
    let config = Configuration {
        config_id: crate::design::config_id(&spec.factors),
        factors: spec.factors.clone(),
    };
    Ok((
        spec,
        Checked {
            rule,
            config,
            warnings,
        },
    ))
}

/// PASS / FAIL / INCONCLUSIVE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VerdictKind {
    Pass,
    Fail,
    Inconclusive,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Pass => "PASS",
            VerdictKind::Fail => "FAIL",
            VerdictKind::Inconclusive => "INCONCLUSIVE",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            VerdictKind::Pass => 0,
            VerdictKind::Fail => 1,
            VerdictKind::Inconclusive => dbtest_core::ExitCode::Inconclusive as i32,
        }
    }
}

/// The verdict of a probabilistic test (`verify --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub spec_id: String,
    pub verdict: VerdictKind,
    pub successes: u64,
    /// Trials: successes + failures (infrastructure errors are counted in `errors`).
    pub samples_run: u64,
    pub samples_planned: u64,
    pub threshold: Option<f64>,
    pub threshold_origin: Option<Origin>,
    pub confidence: Option<f64>,
    /// Wilson interval of the observed rate at the spec's confidence.
    pub interval: [f64; 2],
    pub termination: String,
    pub errors: u64,
    pub message: String,
}

/// A verdict without samples: the spec is missing or expired.
pub fn inconclusive_without_samples(spec_id: &str, termination: &str, why: &str) -> Verdict {
    Verdict {
        spec_id: spec_id.to_string(),
        verdict: VerdictKind::Inconclusive,
        successes: 0,
        samples_run: 0,
        samples_planned: 0,
        threshold: None,
        threshold_origin: None,
        confidence: None,
        interval: [0.0, 1.0],
        termination: termination.to_string(),
        errors: 0,
        message: format!("INCONCLUSIVE {spec_id}: 0/0 successes, no samples run; {why}"),
    }
}

/// The verdict after sampling.
pub fn verdict(spec: &Spec, rule: &DecisionRule, state: &ConfigState) -> Verdict {
    let trials = state.trials();
    let mut termination = state.termination.unwrap_or(Termination::Completed);
    if trials >= spec.samples
        && matches!(
            termination,
            Termination::SuccessGuaranteed | Termination::FailureUnrecoverable
        )
    {
        // Decided on the last samples: nothing was saved by stopping.
        termination = Termination::Completed;
    }
    let kind = match state.decision {
        Some(Decision::Pass(_)) => VerdictKind::Pass,
        Some(Decision::Fail(_)) => VerdictKind::Fail,
        _ => VerdictKind::Inconclusive,
    };
    let interval = rule.observed_interval(state.successes, trials);
    let threshold = rule.min_pass_rate();
    let why = match termination {
        Termination::Completed => format!("all {} planned samples ran", spec.samples),
        Termination::SuccessGuaranteed | Termination::FailureUnrecoverable => {
            let reason = match state.decision {
                Some(Decision::Pass(r)) | Some(Decision::Fail(r)) => r.to_string(),
                _ => termination.to_string(),
            };
            format!(
                "{reason} ({} of {} planned samples ran)",
                trials, spec.samples
            )
        }
        Termination::BudgetTime => format!(
            "the time budget ({} s) was spent before the verdict was certain",
            spec.budgets.time_s.unwrap_or_default()
        ),
        Termination::BudgetTokens => format!(
            "the token budget ({}) was spent before the verdict was certain",
            spec.budgets.tokens.unwrap_or_default()
        ),
        Termination::BudgetCost => format!(
            "the cost budget (${}) was spent before the verdict was certain",
            spec.budgets.cost_usd.unwrap_or_default()
        ),
        Termination::TooManyErrors => format!(
            "too many infrastructure errors: {} (more than {:.0}% of {} planned samples)",
            state.errors,
            MAX_ERROR_SHARE * 100.0,
            spec.samples
        ),
        Termination::Interrupted => "interrupted before the verdict was certain".to_string(),
        Termination::EarlyStop => "stopped early".to_string(),
    };
    let rate = if trials == 0 {
        "-".to_string()
    } else {
        format!("{:.3}", state.successes as f64 / trials as f64)
    };
    let origin = match spec.threshold_origin {
        Origin::Empirical => format!(
            "empirical, from a baseline of {}/{}",
            spec.baseline.successes, spec.baseline.samples
        ),
        other => other.as_str().to_string(),
    };
    let errors = if state.errors > 0 {
        format!(
            ", {} infrastructure error{}",
            state.errors,
            if state.errors == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    let message = format!(
        "{} {}: {}/{} successes{errors}, observed rate {rate}, threshold {:.3} ({origin}), \
         confidence {}, interval [{:.3}, {:.3}]; {why}",
        kind.as_str(),
        spec.spec_id,
        state.successes,
        trials,
        threshold,
        spec.confidence,
        interval.lo,
        interval.hi,
    );
    Verdict {
        spec_id: spec.spec_id.clone(),
        verdict: kind,
        successes: state.successes,
        samples_run: trials,
        samples_planned: spec.samples,
        threshold: Some(round(threshold, 6)),
        threshold_origin: Some(spec.threshold_origin),
        confidence: Some(spec.confidence),
        interval: [round(interval.lo, 6), round(interval.hi, 6)],
        termination: termination.to_string(),
        errors: state.errors,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::Design;
    use crate::report::baseline;
    use crate::sample::{SampleOutcome, SampleRecord};
    use dbtest_stats::verdict::{empirical_threshold, StopReason};
    use serde_json::json;

    fn sample_baseline(successes: u64, failures: u64) -> Baseline {
        let d = Design::from_value(
            "d.yaml",
            &json!({"experiment": "e", "use_case": "shop.search", "samples": successes + failures,
                    "factors": {"model": ["small"]}, "success": "ok",
                    "budgets": {"time_s": 60}}),
        )
        .unwrap();
        let mut state = ConfigState::default();
        for i in 0..successes + failures {
            let outcome = if i < successes {
                SampleOutcome::Success
            } else {
                SampleOutcome::Failure
            };
            match outcome {
                SampleOutcome::Success => state.successes += 1,
                _ => state.failures += 1,
            }
            state.records.push(SampleRecord {
                config_id: "model=small".into(),
                index: i,
                seed: 0,
                outcome,
                attempts: 1,
                latency_ms: 1.0,
                tokens: 0,
                cost_usd: 0.0,
                message: None,
                data: Value::Null,
                calls: Vec::new(),
            });
        }
        state.termination = Some(Termination::Completed);
        baseline(
            &d,
            1,
            &d.configurations()[0],
            &state,
            "2025-01-01T00:00:00Z",
        )
    }

    fn now() -> jiff::Timestamp {
        "2025-03-01T12:00:00.4Z".parse().unwrap()
    }

    fn opts(by: &str) -> ApproveOptions {
        ApproveOptions {
            by: Some(by.into()),
            ..ApproveOptions::default()
        }
    }

    #[test]
    fn approve_an_empirical_spec() {
        let b = sample_baseline(180, 20);
        let (spec, warnings) = approve(
            &b,
            "experiments/b.yaml",
            "ab12",
            &opts("ana"),
            &[1, 3],
            now(),
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(spec.spec_id, "shop.search:v4");
        assert_eq!(spec.version, 4);
        assert_eq!(spec.samples, 200);
        assert_eq!(
            spec.min_pass_rate,
            round(empirical_threshold(180, 200, 200, 0.95), 6)
        );
        assert_eq!(spec.threshold_origin, Origin::Empirical);
        assert_eq!(spec.baseline.successes, 180);
        assert_eq!(spec.baseline.samples, 200);
        assert_eq!(spec.success.as_deref(), Some("ok"));
        assert_eq!(spec.budgets.time_s, Some(60.0));
        assert_eq!(spec.approved_at.as_deref(), Some("2025-03-01T12:00:00Z"));
        assert_eq!(spec.expires_at.as_deref(), Some("2025-05-30T12:00:00Z"));
        assert_eq!(spec.factors["model"], json!("small"));
        // The fields are those of DESIGN §6, in its order, then what the baseline ran with.
        let keys: Vec<String> = serde_json::to_value(&spec)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "schema",
                "spec_id",
                "use_case",
                "version",
                "factors",
                "success",
                "samples",
                "confidence",
                "min_pass_rate",
                "threshold_origin",
                "baseline",
                "budgets",
                "approved_by",
                "approved_at",
                "expires_at",
                "notes",
                "ran_with"
            ]
        );
        // And it checks: approved, not expired, the same rule.
        let (_, checked) = check("s.yaml", &serde_json::to_value(&spec).unwrap(), now()).unwrap();
        assert_eq!(
            checked.rule.min_pass_rate(),
            empirical_threshold(180, 200, 200, 0.95)
        );
        assert!(checked.warnings.is_empty());
        assert_eq!(checked.config.config_id, "model=small");
    }

    #[test]
    fn approve_refusals() {
        let b = sample_baseline(180, 20);
        let err = approve(&b, "b", "x", &ApproveOptions::default(), &[], now()).unwrap_err();
        assert!(err.contains("--by NAME"), "{err}");
        let contractual = ApproveOptions {
            min_pass_rate: Some(0.99),
            origin: Some("sla".into()),
            samples: Some(100),
            ..opts("ana")
        };
        let err = approve(&b, "b", "x", &contractual, &[], now()).unwrap_err();
        assert!(err.contains("at least 268 samples"), "{err}");
        let ok = ApproveOptions {
            samples: Some(300),
            ..contractual.clone()
        };
        let (spec, _) = approve(&b, "b", "x", &ok, &[], now()).unwrap();
        assert_eq!(spec.min_pass_rate, 0.99);
        assert_eq!(spec.threshold_origin, Origin::Sla);
        let err = approve(
            &b,
            "b",
            "x",
            &ApproveOptions {
                origin: None,
                ..ok.clone()
            },
            &[],
            now(),
        )
        .unwrap_err();
        assert!(err.contains("needs --origin"), "{err}");
        let err = approve(
            &b,
            "b",
            "x",
            &ApproveOptions {
                origin: Some("law".into()),
                ..ok
            },
            &[],
            now(),
        )
        .unwrap_err();
        assert!(err.contains("sla, slo or policy"), "{err}");
    }

    #[test]
    fn check_refuses_unapproved_and_reports_expiry() {
        let b = sample_baseline(90, 10);
        let (spec, _) = approve(&b, "b", "x", &opts("ana"), &[], now()).unwrap();
        let mut v = serde_json::to_value(&spec).unwrap();
        v["approved_by"] = Value::Null;
        match check("s.yaml", &v, now()) {
            Err(Refusal::Usage(m)) => assert!(m.contains("not approved"), "{m}"),
            other => panic!("{other:?}"),
        }
        let v = serde_json::to_value(&spec).unwrap();
        let later: jiff::Timestamp = "2025-05-20T12:00:00Z".parse().unwrap();
        let (_, checked) = check("s.yaml", &v, later).unwrap();
        assert!(
            checked.warnings[0].contains("in 10 days"),
            "{:?}",
            checked.warnings
        );
        let much_later: jiff::Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
        assert!(matches!(
            check("s.yaml", &v, much_later),
            Err(Refusal::Expired(_))
        ));
        let mut v = serde_json::to_value(&spec).unwrap();
        v["extra"] = json!(1);
        match check("s.yaml", &v, now()) {
            Err(Refusal::Usage(m)) => {
                assert!(m.contains("unknown field `extra`"), "{m}");
                assert!(!m.contains(" at line "), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spec_ids_and_paths() {
        assert_eq!(
            parse_spec_id("shop.search:v2"),
            Ok(("shop.search".into(), Some(2)))
        );
        assert_eq!(
            parse_spec_id("shop.search"),
            Ok(("shop.search".into(), None))
        );
        assert!(parse_spec_id("shop.search:v0").is_err());
        assert!(parse_spec_id("a:b").is_err());
        let dir = tempfile::tempdir().unwrap();
        for v in [1, 2, 10] {
            std::fs::write(dir.path().join(spec_file_name("shop.search", v)), "").unwrap();
        }
        std::fs::write(dir.path().join("shop.searchx.v3.yaml"), "").unwrap();
        assert_eq!(existing_versions(dir.path(), "shop.search"), [1, 2, 10]);
        let (id, path) = spec_path(dir.path(), "shop.search").unwrap();
        assert_eq!(id, "shop.search:v10");
        assert!(path.ends_with("shop.search.v10.yaml"));
    }

    #[test]
    fn verdict_messages_name_everything() {
        let b = sample_baseline(180, 20);
        let (spec, _) = approve(&b, "b", "x", &opts("ana"), &[], now()).unwrap();
        let (_, checked) = check("s", &serde_json::to_value(&spec).unwrap(), now()).unwrap();
        let mut state = ConfigState::default();
        state.successes = 150;
        state.failures = 10;
        state.termination = Some(Termination::SuccessGuaranteed);
        state.decision = Some(Decision::Pass(StopReason::SuccessGuaranteed));
        let v = verdict(&spec, &checked.rule, &state);
        assert_eq!(v.verdict, VerdictKind::Pass);
        assert_eq!(
            (v.successes, v.samples_run, v.samples_planned),
            (150, 160, 200)
        );
        for part in [
            "PASS shop.search:v1: 150/160 successes",
            "observed rate 0.938",
            "(empirical, from a baseline of 180/200)",
            "confidence 0.95",
            "interval [",
            "success guaranteed",
        ] {
            assert!(v.message.contains(part), "{part}: {}", v.message);
        }
        state.decision = Some(Decision::Continue);
        state.termination = Some(Termination::BudgetTime);
        let v = verdict(&spec, &checked.rule, &state);
        assert_eq!(v.verdict, VerdictKind::Inconclusive);
        assert_eq!(v.termination, "budget_time");
        assert!(v.message.contains("time budget (60 s)"), "{}", v.message);
        assert_eq!(VerdictKind::Inconclusive.exit_code(), 6);
        let json = serde_json::to_value(&v).unwrap();
        for key in [
            "verdict",
            "successes",
            "samples_run",
            "samples_planned",
            "threshold",
            "threshold_origin",
            "confidence",
            "interval",
            "termination",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["verdict"], "INCONCLUSIVE");
    }
}
