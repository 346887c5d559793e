//! `dbtest experiment verify SPEC` (and a probabilistic test run by `dbtest unit`): the spec
//! found and checked, then sampled until its verdict is certain.

use std::path::Path;
use std::sync::Arc;

use dbtest_core::Error;
use dbtest_runner::CancellationToken;
use serde_json::Value;

use crate::design::Configuration;
use crate::expr::Expr;
use crate::project::Project;
use crate::run::{random_seed, ConfigLines};
use crate::sample::sha256_hex;
use crate::schedule::{self, Backoff, Plan, SampleEngine, StopRule};
use crate::spec::{self, Refusal, Spec, Verdict};

/// How many samples of a spec run at once, and how often an erroring one is tried again.
const VERIFY_CONCURRENCY: usize = 8;
const VERIFY_RETRIES: u32 = 2;

/// What a verification will do: sample a checked spec, or end at once (a missing or
/// expired spec is INCONCLUSIVE without a sample).
pub enum Verification {
    Ready {
        spec: Box<Spec>,
        checked: Box<spec::Checked>,
    },
    Done(Box<Verdict>),
}

/// A spec, found and checked before any sample runs.
pub struct OpenedSpec {
    pub project: Project,
    pub spec_id: String,
    pub spec_path: String,
    pub warnings: Vec<String>,
    pub verification: Verification,
}

impl OpenedSpec {
    /// The use case to load; None when no sample will run.
    pub fn use_case(&self) -> Option<&str> {
        match &self.verification {
            Verification::Ready { spec, .. } => Some(&spec.use_case),
            Verification::Done(_) => None,
        }
    }

    /// The configuration the spec holds; None when no sample will run.
    pub fn config(&self) -> Option<&Configuration> {
        match &self.verification {
            Verification::Ready { checked, .. } => Some(&checked.config),
            Verification::Done(_) => None,
        }
    }
}

/// Finds spec `spec_id` in the project's specs folder and checks it; `read_yaml` gives a
/// YAML file as JSON. An invalid, unapproved or infeasible spec is a usage error.
pub fn open(
    spec_id: &str,
    cwd: &Path,
    read_yaml: impl FnOnce(&Path) -> Result<String, Error>,
) -> Result<OpenedSpec, Error> {
    let project = Project::find(cwd)?;
    let (full_id, path) = spec::spec_path(&project.specs_dir(), spec_id).map_err(Error::Usage)?;
    let rel = project.relative(&path);
    let mut warnings = Vec::new();
    let verification = if !path.is_file() {
        Verification::Done(Box::new(spec::inconclusive_without_samples(
            &full_id,
            "spec_missing",
            &format!(
                "no spec file {rel}; run an experiment and approve a baseline with \
                 `dbtest experiment approve BASELINE --by NAME`"
            ),
        )))
    } else {
        let text = read_yaml(&path)?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| Error::Usage(format!("{rel}: {e}")))?;
        match spec::check(&rel, &value, jiff::Timestamp::now()) {
            Err(Refusal::Usage(message)) => return Err(Error::Usage(message)),
            Err(Refusal::Expired(why)) => Verification::Done(Box::new(
                spec::inconclusive_without_samples(&full_id, "spec_expired", &why),
            )),
            Ok((spec, checked)) => {
                warnings.extend(checked.warnings.iter().cloned());
                let baseline = project.root.join(&spec.baseline.path);
                if let Ok(bytes) = std::fs::read(&baseline) {
                    if sha256_hex(&bytes) != spec.baseline.sha256 {
                        warnings.push(format!(
                            "{}: the baseline file changed since spec {} was approved (its SHA-256 differs)",
                            spec.baseline.path, spec.spec_id
                        ));
                    }
                }
                if spec.spec_id != full_id {
                    warnings.push(format!(
                        "{rel} says spec_id {}, its file name says {full_id}",
                        spec.spec_id
                    ));
                }
                Verification::Ready {
                    spec: Box::new(spec),
                    checked: Box::new(checked),
                }
            }
        }
    };
    Ok(OpenedSpec {
        project,
        spec_id: full_id,
        spec_path: path.display().to_string(),
        warnings,
        verification,
    })
}

/// Samples `spec` until its verdict is certain (or its samples run out, or `cancel`).
pub async fn execute<E: SampleEngine>(
    engine: E,
    spec: &Spec,
    checked: &spec::Checked,
    cancel: CancellationToken,
    progress: bool,
) -> Verdict {
    let success = match spec.success.as_deref().map(Expr::parse) {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => {
            return spec::inconclusive_without_samples(
                &spec.spec_id,
                "spec_invalid",
                &format!("its `success` is not a valid expression: {e}"),
            )
        }
        None => None,
    };
    let plan = Plan {
        experiment: spec.spec_id.clone(),
        run_seed: random_seed(),
        configs: vec![checked.config.clone()],
        samples: spec.samples,
        concurrency: VERIFY_CONCURRENCY,
        max_per_second: None,
        retries: VERIFY_RETRIES,
        backoff: Backoff::default(),
        budgets: spec.budgets,
        success,
        confidence: spec.confidence,
        stop: StopRule::Verdict(checked.rule),
        replace_errors: true,
        max_errors: Some((spec.samples as f64 * spec::MAX_ERROR_SHARE).floor() as u64),
        shard: None,
    };
    let configs = [checked.config.clone()];
    let mut live = ConfigLines::new(&configs, spec.samples, spec.confidence, progress);
    let outcome = schedule::run(
        Arc::new(engine),
        Arc::new(plan),
        Vec::new(),
        cancel,
        |_, _, states| {
            live.draw(states, false);
            Ok(())
        },
    )
    .await;
    live.clear();
    match outcome {
        Ok(outcome) => spec::verdict(spec, &checked.rule, &outcome.configs[0]),
        Err(e) => spec::inconclusive_without_samples(&spec.spec_id, "error", &e.0),
    }
}

/// `dbtest experiment approve`: the spec a baseline becomes, where it goes, and warnings.
/// `baseline` is the file's content (as JSON), `bytes` its exact bytes (for its SHA-256).
pub fn approve(
    baseline: &Value,
    baseline_file: &str,
    bytes: &[u8],
    cwd: &Path,
    options: &spec::ApproveOptions,
) -> Result<(std::path::PathBuf, Spec, Vec<String>), Error> {
    let project = Project::find(cwd)?;
    let path = crate::project::absolute(cwd, baseline_file);
    let parsed = spec::parse_baseline(baseline_file, baseline).map_err(Error::Usage)?;
    let specs_dir = project.specs_dir();
    let existing = spec::existing_versions(&specs_dir, &parsed.use_case);
    let (spec, warnings) = spec::approve(
        &parsed,
        &project.relative(&path),
        &sha256_hex(bytes),
        options,
        &existing,
        jiff::Timestamp::now(),
    )
    .map_err(Error::Usage)?;
    let target = specs_dir.join(spec::spec_file_name(&spec.use_case, spec.version));
    Ok((target, spec, warnings))
}
