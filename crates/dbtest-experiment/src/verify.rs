//! `dbtest experiment verify SPEC` (and a probabilistic test run by `dbtest unit`): the spec
//! found and checked, then sampled until its verdict is certain.

use std::path::Path;
use std::sync::Arc;

use dbtest_core::Error;
use dbtest_runner::CancellationToken;
use serde_json::Value;

use crate::design::{Configuration, Design};
use crate::expr::Expr;
use crate::models::{ImportMiddleware, ModelSide};
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
        setup: Box<Setup>,
    },
    Done(Box<Verdict>),
}

/// How a spec is sampled: as its baseline's design did (`ran_with`), with the same models.
pub struct Setup {
    pub concurrency: usize,
    pub retries: u32,
    pub max_per_second: Option<f64>,
    /// The baseline's design, for a spec of a design that calls models.
    pub design: Option<Design>,
    pub models: ModelSide,
}

impl Setup {
    /// Whether the spec's design has no Python: its prompts are rendered and sent by dbtest.
    pub fn prompt(&self) -> Option<&crate::design::Prompt> {
        self.design.as_ref().and_then(|d| d.llm.prompt.as_ref())
    }
}

/// The sampling of `spec`: its baseline's (`--concurrency` overrides), and for a design
/// that calls models, that design rebuilt and its models prepared before any call.
fn setup(
    spec: &Spec,
    rel: &str,
    project: &Project,
    concurrency: Option<usize>,
    python: &ImportMiddleware<'_>,
) -> Result<Setup, Error> {
    let ran = spec.ran_with.as_ref();
    let mut design = None;
    let mut models = ModelSide::default();
    if let Some(ran) = ran.filter(|r| !r.models.is_empty()) {
        let mut value = serde_json::Map::new();
        value.insert(
            "experiment".into(),
            Value::String(spec::file_stem(&spec.spec_id)),
        );
        if !ran.models.contains_key("prompt") {
            value.insert("use_case".into(), Value::String(spec.use_case.clone()));
        }
        value.insert("samples".into(), Value::from(spec.samples));
        let factors: serde_json::Map<String, Value> = spec
            .factors
            .iter()
            .map(|(k, v)| (k.clone(), Value::Array(vec![v.clone()])))
            .collect();
        value.insert("factors".into(), Value::Object(factors));
        if let Some(success) = &spec.success {
            value.insert("success".into(), Value::String(success.clone()));
        }
        value.extend(ran.models.clone());
        let rebuilt = Design::from_value(rel, &Value::Object(value))
            .map_err(|e| Error::Usage(e.to_string()))?;
        // The dataset's path is kept from the project root, so the root is the design's folder.
        models = crate::models::prepare(
            &rebuilt,
            rel,
            &project.root,
            &project.root.join(".dbtest"),
            (dbtest_llm::cache::CacheMode::Off, &project.root),
            |var| std::env::var(var).ok(),
            &|target| python(target, &project.root),
        )?;
        design = Some(rebuilt);
    }
    Ok(Setup {
        concurrency: concurrency
            .or(ran.map(|r| r.concurrency as usize))
            .unwrap_or(VERIFY_CONCURRENCY)
            .max(1),
        retries: ran.map_or(VERIFY_RETRIES, |r| r.retries),
        max_per_second: ran.and_then(|r| r.max_per_second),
        design,
        models,
    })
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
    /// The use case to load; None when no sample will run, or none is Python's (a spec
    /// of a design without Python).
    pub fn use_case(&self) -> Option<&str> {
        match &self.verification {
            Verification::Ready { spec, setup, .. } if setup.prompt().is_none() => {
                Some(&spec.use_case)
            }
            _ => None,
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
/// YAML file as JSON, `python` builds the `python:` middleware the spec's design ran with.
/// An invalid, unapproved or infeasible spec is a usage error.
pub fn open(
    spec_id: &str,
    cwd: &Path,
    concurrency: Option<usize>,
    read_yaml: impl FnOnce(&Path) -> Result<String, Error>,
    python: &ImportMiddleware<'_>,
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
                let setup = setup(&spec, &rel, &project, concurrency, python)?;
                Verification::Ready {
                    spec: Box::new(spec),
                    checked: Box::new(checked),
                    setup: Box::new(setup),
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
    setup: &Setup,
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
    // Without Python the LLM layer retries each call and the engine judges the reply.
    let prompt = setup.prompt().is_some();
    let plan = Plan {
        experiment: spec.spec_id.clone(),
        run_seed: random_seed(),
        configs: vec![checked.config.clone()],
        samples: spec.samples,
        concurrency: setup.concurrency,
        max_per_second: setup.max_per_second,
        retries: if prompt { 0 } else { setup.retries },
        backoff: Backoff::default(),
        budgets: spec.budgets,
        success: success.filter(|_| !prompt),
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
        Ok(outcome) if outcome.fatal.is_some() => spec::inconclusive_without_samples(
            &spec.spec_id,
            "error",
            outcome.fatal.as_deref().unwrap_or_default(),
        ),
        Ok(outcome) => spec::verdict(spec, &checked.rule, &outcome.configs[0]),
        Err(e) => spec::inconclusive_without_samples(&spec.spec_id, "error", &e.0),
    }
}

/// `dbtest experiment approve`: where the spec a baseline becomes goes, the spec as JSON
/// text, and warnings. `baseline_json` is the file's content as the caller read its YAML;
/// the file's exact bytes give its SHA-256.
pub fn approve(
    baseline_json: &str,
    baseline_file: &str,
    cwd: &Path,
    options: &spec::ApproveOptions,
) -> Result<(std::path::PathBuf, String, Vec<String>), Error> {
    let project = Project::find(cwd)?;
    let path = crate::project::absolute(cwd, baseline_file);
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::Usage(format!("cannot read {baseline_file}: {e}")))?;
    let baseline: Value = serde_json::from_str(baseline_json)
        .map_err(|e| Error::Usage(format!("{baseline_file}: {e}")))?;
    let parsed = spec::parse_baseline(baseline_file, &baseline).map_err(Error::Usage)?;
    let specs_dir = project.specs_dir();
    let existing = spec::existing_versions(&specs_dir, &parsed.use_case);
    let (spec, warnings) = spec::approve(
        &parsed,
        &project.relative(&path),
        &sha256_hex(&bytes),
        options,
        &existing,
        jiff::Timestamp::now(),
    )
    .map_err(Error::Usage)?;
    let target = specs_dir.join(spec::spec_file_name(&spec.use_case, spec.version));
    let text = serde_json::to_string(&spec).map_err(|e| Error::Internal(e.to_string()))?;
    Ok((target, text, warnings))
}
