//! `dbtest experiment` as the CLI drives it: the Python engine behind dbtest-experiment's
//! scheduler, and the glue that turns runs into baselines and specs into verdicts.
//!
//! YAML is read and written by Python (pyyaml); everything here sees JSON.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dbtest_core::config::ExperimentConfig;
use dbtest_core::config::{
    find_dbtest_project, DEFAULT_EXPERIMENTS_DIR, DEFAULT_SPECS_DIR, DEFAULT_USECASE_PATTERN,
};
use dbtest_core::{Error, ExitCode};
use dbtest_discovery::{dbtest_norecurse, discover_from, import_target, Pattern};
use dbtest_experiment::design::{config_label, Configuration, Design};
use dbtest_experiment::report;
use dbtest_experiment::sample::{
    read_log, sha256_hex, RawKind, RawSample, SampleLog, SampleRecord,
};
use dbtest_experiment::schedule::{
    self, Backoff, ConfigState, Plan, RunError, RunOutcome, SampleEngine, SampleRequest, StopRule,
    Termination,
};
use dbtest_experiment::spec::{self, Refusal, Spec, Verdict};
use dbtest_runner::CancellationToken;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_async_runtimes::TaskLocals;
use serde_json::{json, Value};

use crate::engine::on_loop;
use crate::{to_py_err, UsageError};

const RUN_SCHEMA: &str = "dbtest.experiment-run/1";
const VERIFY_CONCURRENCY: usize = 8;
const VERIFY_RETRIES: u32 = 2;

fn usage(message: impl Into<String>) -> PyErr {
    UsageError::new_err(message.into())
}

/// The project's root and `[tool.dbtest.experiment]`.
struct Project {
    root: PathBuf,
    config: ExperimentConfig,
}

impl Project {
    fn find(cwd: &Path) -> Result<Project, Error> {
        let (root, file) = find_dbtest_project(cwd)?;
        let config = file.and_then(|(_, c)| c.experiment).unwrap_or_default();
        if config
            .pattern
            .as_deref()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err(Error::Usage(
                "[tool.dbtest.experiment] `pattern` must not be empty (the default is usecase_*.py)"
                    .into(),
            ));
        }
        Ok(Project { root, config })
    }

    fn specs_dir(&self) -> PathBuf {
        self.root.join(
            self.config
                .specs_dir
                .as_deref()
                .unwrap_or(DEFAULT_SPECS_DIR),
        )
    }

    fn out_dir(&self) -> PathBuf {
        self.root.join(
            self.config
                .out
                .as_deref()
                .unwrap_or(DEFAULT_EXPERIMENTS_DIR),
        )
    }

    /// Use-case files: those whose text names `use_case` first (only they are imported,
    /// unless none defines it), then all of them.
    fn use_case_files(&self, use_case: &str) -> Result<(Vec<FileTarget>, Vec<FileTarget>), Error> {
        let paths =
            dbtest_discovery::search_paths(&self.root, None, self.config.paths.as_deref(), None);
        let pattern = self
            .config
            .pattern
            .as_deref()
            .unwrap_or(DEFAULT_USECASE_PATTERN);
        let found = discover_from(
            &self.root,
            &self.root,
            &paths,
            &[Pattern::Glob(pattern.to_owned())],
            &dbtest_norecurse(),
        )
        .map_err(|e| Error::Usage(format!("[tool.dbtest.experiment] paths: {e}")))?;
        let mut named = Vec::new();
        let mut all = Vec::new();
        for path in found.files {
            let target = import_target(&path);
            let file = (
                path.display().to_string(),
                target.sys_path_entry.display().to_string(),
                target.module,
            );
            if std::fs::read(&path)
                .map(|bytes| contains(&bytes, use_case.as_bytes()))
                .unwrap_or(false)
            {
                named.push(file.clone());
            }
            all.push(file);
        }
        Ok((named, all))
    }

    /// `path` relative to the root when it is inside it, with `/` separators.
    fn relative(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(rel) => rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
            Err(_) => path.display().to_string(),
        }
    }
}

type FileTarget = (String, String, String);

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn absolute(cwd: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// Runs samples by calling the driver (`dbtest._experiment.ExperimentDriver`).
struct PySampleEngine {
    driver: Arc<Py<PyAny>>,
    locals: Arc<TaskLocals>,
    is_async: bool,
}

fn raw_from_py(answer: &Bound<'_, PyAny>) -> PyResult<RawSample> {
    let t = answer.cast::<PyTuple>()?;
    let kind: u8 = t.get_item(0)?.extract()?;
    let data: Option<String> = t.get_item(2)?.extract()?;
    let data = match data {
        Some(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        None => Value::Null,
    };
    Ok(RawSample {
        kind: match kind {
            0 => RawKind::Returned,
            1 => RawKind::CheckFailed,
            3 => RawKind::Cancelled,
            _ => RawKind::Raised,
        },
        success: t.get_item(1)?.extract()?,
        data,
        message: t.get_item(3)?.extract()?,
        latency_ms: t.get_item(4)?.extract()?,
        tokens: t.get_item(5)?.extract()?,
        cost_usd: t.get_item(6)?.extract()?,
        check_failed: t.get_item(7)?.extract()?,
    })
}

fn internal(e: impl std::fmt::Display) -> RawSample {
    RawSample::with_kind(
        RawKind::Raised,
        format!("dbtest internal error while running a sample: {e}"),
    )
}

impl SampleEngine for PySampleEngine {
    async fn sample(&self, r: SampleRequest) -> RawSample {
        let args = (r.config, r.index, r.seed, r.attempt);
        if self.is_async {
            match on_loop(&self.driver, &self.locals, "sample_async", args).await {
                Ok(answer) => {
                    Python::attach(|py| raw_from_py(answer.bind(py)).unwrap_or_else(internal))
                }
                Err(e) => internal(e),
            }
        } else {
            let driver = self.driver.clone();
            tokio::task::spawn_blocking(move || {
                Python::attach(|py| {
                    driver
                        .bind(py)
                        .call_method1(intern!(py, "sample_sync"), args)
                        .and_then(|answer| raw_from_py(&answer))
                        .unwrap_or_else(internal)
                })
            })
            .await
            .unwrap_or_else(internal)
        }
    }
}

/// The live lines on stderr, one per configuration, redrawn at most ten times a second.
struct Progress {
    labels: Vec<String>,
    planned: u64,
    confidence: f64,
    drawn: bool,
    last: Option<Instant>,
}

impl Progress {
    fn new(configs: &[Configuration], planned: u64, confidence: f64) -> Option<Progress> {
        std::io::stderr().is_terminal().then(|| Progress {
            labels: configs.iter().map(|c| config_label(&c.factors)).collect(),
            planned,
            confidence,
            drawn: false,
            last: None,
        })
    }

    fn draw(&mut self, states: &[ConfigState], force: bool) {
        if !force && self.last.is_some_and(|t| t.elapsed().as_millis() < 100) {
            return;
        }
        self.last = Some(Instant::now());
        let width = self
            .labels
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        if self.drawn {
            out.push_str(&format!("\x1b[{}A", self.labels.len()));
        }
        for (label, state) in self.labels.iter().zip(states) {
            let padded = format!("{label:width$}");
            out.push_str("\r\x1b[2K");
            out.push_str(&report::progress_line(
                &padded,
                state,
                self.planned,
                self.confidence,
            ));
            out.push('\n');
        }
        self.drawn = true;
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(out.as_bytes());
        let _ = err.flush();
    }

    fn clear(&mut self) {
        if self.drawn {
            eprint!("\x1b[{}A\r\x1b[J", self.labels.len());
            self.drawn = false;
        }
    }
}

fn random_seed() -> u64 {
    fastrand::u64(..) & ((1 << 53) - 1)
}

fn now_text() -> String {
    let ts = jiff::Timestamp::now();
    ts.round(jiff::Unit::Second).unwrap_or(ts).to_string()
}

/// Calls `driver.write_yaml(path, json_text)`.
fn write_yaml(
    driver: &Py<PyAny>,
    path: &Path,
    value: &impl serde::Serialize,
) -> Result<(), String> {
    let text = serde_json::to_string(value).map_err(|e| e.to_string())?;
    Python::attach(|py| {
        driver
            .bind(py)
            .call_method1(
                intern!(py, "write_yaml"),
                (path.display().to_string(), text),
            )
            .map(|_| ())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    })
}

struct PreparedRun {
    project: Project,
    design: Design,
    design_value: Value,
    design_file: String,
    run_dir: PathBuf,
    run_seed: u64,
    resumed: Vec<SampleRecord>,
    is_resume: bool,
}

fn prepare_run(
    design_json: &str,
    design_file: &str,
    cwd: &Path,
    out: Option<&str>,
    resume: Option<&str>,
) -> PyResult<PreparedRun> {
    let design_value: Value = serde_json::from_str(design_json).map_err(|e| {
        usage(format!(
            "{design_file}: {}",
            spec::strip_position(&e.to_string())
        ))
    })?;
    let design =
        Design::from_value(design_file, &design_value).map_err(|e| usage(e.to_string()))?;
    let project = Project::find(cwd).map_err(to_py_err)?;
    if let Some(dir) = resume {
        let run_dir = absolute(cwd, dir);
        let run_file = run_dir.join("run.json");
        let text = std::fs::read_to_string(&run_file).map_err(|e| {
            usage(format!(
                "--resume {dir}: {} cannot be read ({e}); pass the folder of an earlier run",
                run_file.display()
            ))
        })?;
        let stored: Value = serde_json::from_str(&text)
            .map_err(|e| usage(format!("{}: {e}", run_file.display())))?;
        let stored_design = Design::from_value(&run_file.display().to_string(), &stored["design"])
            .map_err(|e| usage(e.to_string()))?;
        for (key, same) in [
            ("experiment", stored_design.experiment == design.experiment),
            ("use_case", stored_design.use_case == design.use_case),
            ("factors", stored_design.factors == design.factors),
            (
                "success",
                stored_design
                    .success
                    .as_ref()
                    .map(|e| e.source().to_string())
                    == design.success.as_ref().map(|e| e.source().to_string()),
            ),
            ("confidence", stored_design.confidence == design.confidence),
        ] {
            if !same {
                return Err(usage(format!(
                    "--resume {dir}: the design's `{key}` differs from the run's ({}); resume with \
                     the design the run was started with, or start a new run",
                    run_file.display()
                )));
            }
        }
        let run_seed = stored["seed"]
            .as_u64()
            .ok_or_else(|| usage(format!("{}: no `seed`", run_file.display())))?;
        let resumed = read_log(&run_dir.join("samples.jsonl"))
            .map_err(|e| usage(format!("--resume {dir}: {e}")))?;
        return Ok(PreparedRun {
            project,
            design,
            design_value,
            design_file: design_file.to_string(),
            run_dir,
            run_seed,
            resumed,
            is_resume: true,
        });
    }
    let run_dir = match out {
        Some(dir) => {
            let run_dir = absolute(cwd, dir);
            if run_dir.join("samples.jsonl").exists() {
                return Err(usage(format!(
                    "--out {dir} already holds a run; continue it with --resume {dir}, or choose another folder"
                )));
            }
            run_dir
        }
        None => {
            let base = project.out_dir().join(&design.experiment);
            let stamp = jiff::Timestamp::now()
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string();
            let mut dir = base.join(&stamp);
            let mut n = 2;
            while dir.exists() {
                dir = base.join(format!("{stamp}-{n}"));
                n += 1;
            }
            dir
        }
    };
    let run_seed = design.seed.unwrap_or_else(random_seed);
    Ok(PreparedRun {
        project,
        design,
        design_value,
        design_file: design_file.to_string(),
        run_dir,
        run_seed,
        resumed: Vec::new(),
        is_resume: false,
    })
}

/// One `dbtest experiment run`.
#[pyclass(module = "dbtest._core")]
pub struct ExperimentRun {
    prepared: Mutex<Option<PreparedRun>>,
    cancel: CancellationToken,
    use_case: String,
    experiment: String,
    run_dir: String,
    configs: Vec<Configuration>,
    resumed: usize,
}

#[pymethods]
impl ExperimentRun {
    #[new]
    #[pyo3(signature = (design_json, design_file, cwd, out=None, resume=None))]
    fn new(
        design_json: &str,
        design_file: &str,
        cwd: PathBuf,
        out: Option<&str>,
        resume: Option<&str>,
    ) -> PyResult<Self> {
        let p = prepare_run(design_json, design_file, &cwd, out, resume)?;
        Ok(ExperimentRun {
            cancel: CancellationToken::new(),
            use_case: p.design.use_case.clone(),
            experiment: p.design.experiment.clone(),
            run_dir: p.run_dir.display().to_string(),
            configs: p.design.configurations(),
            resumed: p.resumed.len(),
            prepared: Mutex::new(Some(p)),
        })
    }

    #[getter]
    fn use_case(&self) -> &str {
        &self.use_case
    }

    #[getter]
    fn experiment(&self) -> &str {
        &self.experiment
    }

    #[getter]
    fn run_dir(&self) -> &str {
        &self.run_dir
    }

    #[getter]
    fn resumed_samples(&self) -> usize {
        self.resumed
    }

    /// `[(config_id, factors_json)]`
    #[getter]
    fn configs(&self) -> Vec<(String, String)> {
        self.configs
            .iter()
            .map(|c| {
                (
                    c.config_id.clone(),
                    Value::Object(c.factors.clone()).to_string(),
                )
            })
            .collect()
    }

    /// `(files naming the use case, all use-case files)`.
    fn use_case_files(&self) -> PyResult<(Vec<FileTarget>, Vec<FileTarget>)> {
        let guard = self.prepared.lock().unwrap();
        let p = guard
            .as_ref()
            .ok_or_else(|| crate::DbtestError::new_err("this ExperimentRun has already run"))?;
        p.project.use_case_files(&self.use_case).map_err(to_py_err)
    }

    /// Ctrl-C: stop launching samples; the run ends with baselines marked `interrupted`.
    fn interrupt(&self) {
        self.cancel.cancel();
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Runs with `driver` on the running event loop; resolves to the exit code.
    fn run<'py>(&self, py: Python<'py>, driver: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let prepared = self
            .prepared
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| crate::DbtestError::new_err("this ExperimentRun has already run"))?;
        let is_async: bool = driver.bind(py).getattr("is_async")?.extract()?;
        let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
        let engine = PySampleEngine {
            driver: Arc::new(driver),
            locals: Arc::new(locals),
            is_async,
        };
        let cancel = self.cancel.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let code = match execute_run(engine, prepared, cancel).await {
                Ok(code) => code,
                Err(message) => {
                    eprintln!("dbtest: {message}");
                    ExitCode::Internal
                }
            };
            Ok(code as i32)
        })
    }
}

async fn execute_run(
    engine: PySampleEngine,
    p: PreparedRun,
    cancel: CancellationToken,
) -> Result<ExitCode, String> {
    let design = &p.design;
    let configs = design.configurations();
    std::fs::create_dir_all(&p.run_dir)
        .map_err(|e| format!("cannot create {}: {e}", p.run_dir.display()))?;
    let started_at = now_text();
    if !p.is_resume {
        let run = json!({
            "schema": RUN_SCHEMA,
            "design_file": p.design_file,
            "started_at": started_at,
            "seed": p.run_seed,
            "design": p.design_value,
        });
        let text = serde_json::to_string_pretty(&run).unwrap_or_default();
        std::fs::write(p.run_dir.join("run.json"), text)
            .map_err(|e| format!("cannot write {}: {e}", p.run_dir.join("run.json").display()))?;
    }
    let mut log = SampleLog::open(&p.run_dir.join("samples.jsonl"))
        .map_err(|e| format!("cannot open the sample log in {}: {e}", p.run_dir.display()))?;
    let plan = Plan {
        experiment: design.experiment.clone(),
        run_seed: p.run_seed,
        configs: configs.clone(),
        samples: design.samples,
        concurrency: design.concurrency as usize,
        max_per_second: design.max_per_second,
        retries: design.retries,
        backoff: Backoff::default(),
        budgets: design.budgets,
        success: design.success.clone(),
        confidence: design.confidence,
        stop: design
            .stop_when
            .map_or(StopRule::None, |s| StopRule::CiHalfWidth(s.ci_half_width)),
        replace_errors: false,
        max_errors: None,
    };
    let rel_run_dir = p.project.relative(&p.run_dir);
    if p.is_resume {
        eprintln!(
            "resuming {rel_run_dir}: {} sample{} already done",
            p.resumed.len(),
            if p.resumed.len() == 1 { "" } else { "s" }
        );
    } else {
        eprintln!(
            "experiment {}: {} configuration{} x {} samples -> {rel_run_dir}",
            design.experiment,
            configs.len(),
            if configs.len() == 1 { "" } else { "s" },
            design.samples
        );
    }
    let mut progress = Progress::new(&configs, design.samples, design.confidence);
    let driver = engine.driver.clone();
    let clock = Instant::now();
    let outcome: Result<RunOutcome, RunError> = schedule::run(
        Arc::new(engine),
        Arc::new(plan),
        p.resumed,
        cancel,
        |_, record, states| {
            log.append(record)
                .map_err(|e| RunError(format!("cannot append to {}: {e}", log.path().display())))?;
            if let Some(progress) = progress.as_mut() {
                progress.draw(states, false);
            }
            Ok(())
        },
    )
    .await;
    if let Some(progress) = progress.as_mut() {
        if let Ok(outcome) = &outcome {
            progress.draw(&outcome.configs, true);
        }
        progress.clear();
    }
    let outcome = outcome.map_err(|e| e.0)?;
    let generated_at = now_text();
    let baselines_dir = p.run_dir.join("baselines");
    std::fs::create_dir_all(&baselines_dir)
        .map_err(|e| format!("cannot create {}: {e}", baselines_dir.display()))?;
    let mut baselines = Vec::new();
    let mut files = Vec::new();
    for (config, state) in configs.iter().zip(&outcome.configs) {
        let b = report::baseline(design, p.run_seed, config, state, &generated_at);
        let file = format!("baselines/{}.yaml", config.config_id);
        write_yaml(&driver, &p.run_dir.join(&file), &b)?;
        baselines.push(b);
        files.push(file);
    }
    let summary = report::summary(
        design,
        &baselines,
        &outcome.configs,
        &files,
        &rel_run_dir,
        &started_at,
        clock.elapsed().as_secs_f64(),
        outcome.stopped,
    );
    let json_text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    dbtest_report::write_atomic(&p.run_dir.join("summary.json"), json_text.as_bytes())
        .map_err(|e| format!("cannot write summary.json: {e}"))?;
    dbtest_report::write_atomic(
        &p.run_dir.join("SUMMARY.md"),
        report::markdown(&summary).as_bytes(),
    )
    .map_err(|e| format!("cannot write SUMMARY.md: {e}"))?;
    let mut out = report::console(&summary);
    out.push_str(&format!(
        "\nwrote {rel_run_dir}/: samples.jsonl, baselines/ ({}), SUMMARY.md, summary.json\n",
        baselines.len()
    ));
    if outcome.stopped == Some(Termination::Interrupted) {
        out.push_str(&format!(
            "interrupted: continue with `dbtest experiment run {} --resume {rel_run_dir}`\n",
            p.design_file
        ));
    }
    print!("{out}");
    let _ = std::io::stdout().flush();
    Ok(match outcome.stopped {
        Some(Termination::Interrupted) => ExitCode::Interrupted,
        _ => ExitCode::Ok,
    })
}

/// `dbtest experiment approve`: the spec to write, or a usage error.
/// Returns `(spec_path, spec_json, warnings)`.
#[pyfunction]
pub fn approve_baseline(
    baseline_json: &str,
    baseline_file: &str,
    cwd: PathBuf,
    options_json: &str,
) -> PyResult<(String, String, Vec<String>)> {
    let project = Project::find(&cwd).map_err(to_py_err)?;
    let path = absolute(&cwd, baseline_file);
    let bytes =
        std::fs::read(&path).map_err(|e| usage(format!("cannot read {baseline_file}: {e}")))?;
    let value: Value =
        serde_json::from_str(baseline_json).map_err(|e| usage(format!("{baseline_file}: {e}")))?;
    let baseline = spec::parse_baseline(baseline_file, &value).map_err(usage)?;
    let options: spec::ApproveOptions =
        serde_json::from_str(options_json).map_err(|e| usage(format!("invalid option: {e}")))?;
    let specs_dir = project.specs_dir();
    let existing = spec::existing_versions(&specs_dir, &baseline.use_case);
    let (spec, warnings) = spec::approve(
        &baseline,
        &project.relative(&path),
        &sha256_hex(&bytes),
        &options,
        &existing,
        jiff::Timestamp::now(),
    )
    .map_err(usage)?;
    let target = specs_dir.join(spec::spec_file_name(&spec.use_case, spec.version));
    let text =
        serde_json::to_string(&spec).map_err(|e| crate::DbtestError::new_err(e.to_string()))?;
    Ok((target.display().to_string(), text, warnings))
}

enum VerifyState {
    Ready {
        spec: Box<Spec>,
        checked: Box<spec::Checked>,
    },
    Done(Box<Verdict>),
}

/// One `dbtest experiment verify` (or one probabilistic test run by `dbtest unit`).
#[pyclass(module = "dbtest._core")]
pub struct VerifyRun {
    state: Mutex<Option<VerifyState>>,
    project: Project,
    cancel: CancellationToken,
    spec_id: String,
    spec_path: String,
    use_case: Option<String>,
    warnings: Vec<String>,
    configs: Vec<(String, String)>,
}

#[pymethods]
impl VerifyRun {
    /// Finds and checks the spec; `read_yaml(path)` returns the file as JSON text. A missing
    /// or expired spec gives a run that ends INCONCLUSIVE without a sample; an invalid,
    /// unapproved or infeasible one raises UsageError.
    #[new]
    fn new(py: Python<'_>, spec_id: &str, cwd: PathBuf, read_yaml: Py<PyAny>) -> PyResult<Self> {
        let project = Project::find(&cwd).map_err(to_py_err)?;
        let specs_dir = project.specs_dir();
        let (full_id, path) = spec::spec_path(&specs_dir, spec_id).map_err(usage)?;
        let rel = project.relative(&path);
        let mut run = VerifyRun {
            state: Mutex::new(None),
            cancel: CancellationToken::new(),
            spec_id: full_id.clone(),
            spec_path: path.display().to_string(),
            use_case: None,
            warnings: Vec::new(),
            configs: Vec::new(),
            project,
        };
        if !path.is_file() {
            let verdict = spec::inconclusive_without_samples(
                &full_id,
                "spec_missing",
                &format!(
                    "no spec file {rel}; run an experiment and approve a baseline with \
                     `dbtest experiment approve BASELINE --by NAME`"
                ),
            );
            *run.state.lock().unwrap() = Some(VerifyState::Done(Box::new(verdict)));
            return Ok(run);
        }
        let text: String = read_yaml
            .bind(py)
            .call1((path.display().to_string(),))?
            .extract()?;
        let value: Value = serde_json::from_str(&text).map_err(|e| usage(format!("{rel}: {e}")))?;
        let state = match spec::check(&rel, &value, jiff::Timestamp::now()) {
            Err(Refusal::Usage(message)) => return Err(usage(message)),
            Err(Refusal::Expired(why)) => VerifyState::Done(Box::new(
                spec::inconclusive_without_samples(&full_id, "spec_expired", &why),
            )),
            Ok((spec, checked)) => {
                run.warnings.extend(checked.warnings.iter().cloned());
                let baseline = run.project.root.join(&spec.baseline.path);
                if let Ok(bytes) = std::fs::read(&baseline) {
                    if sha256_hex(&bytes) != spec.baseline.sha256 {
                        run.warnings.push(format!(
                            "{}: the baseline file changed since spec {} was approved (its SHA-256 differs)",
                            spec.baseline.path, spec.spec_id
                        ));
                    }
                }
                if spec.spec_id != full_id {
                    run.warnings.push(format!(
                        "{rel} says spec_id {}, its file name says {full_id}",
                        spec.spec_id
                    ));
                }
                run.use_case = Some(spec.use_case.clone());
                run.configs = vec![(
                    checked.config.config_id.clone(),
                    Value::Object(checked.config.factors.clone()).to_string(),
                )];
                VerifyState::Ready {
                    spec: Box::new(spec),
                    checked: Box::new(checked),
                }
            }
        };
        *run.state.lock().unwrap() = Some(state);
        Ok(run)
    }

    #[getter]
    fn spec_id(&self) -> &str {
        &self.spec_id
    }

    #[getter]
    fn spec_path(&self) -> &str {
        &self.spec_path
    }

    /// The use case to load; None when no sample will run.
    #[getter]
    fn use_case(&self) -> Option<String> {
        self.use_case.clone()
    }

    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    #[getter]
    fn configs(&self) -> Vec<(String, String)> {
        self.configs.clone()
    }

    fn use_case_files(&self) -> PyResult<(Vec<FileTarget>, Vec<FileTarget>)> {
        match &self.use_case {
            Some(u) => self.project.use_case_files(u).map_err(to_py_err),
            None => Ok((Vec::new(), Vec::new())),
        }
    }

    fn interrupt(&self) {
        self.cancel.cancel();
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Samples until the verdict is certain; resolves to the verdict as JSON text. `driver`
    /// may be None when no sample will run (`use_case` is None).
    #[pyo3(signature = (driver, progress=false))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        driver: Py<PyAny>,
        progress: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let state = self
            .state
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| crate::DbtestError::new_err("this VerifyRun has already run"))?;
        let (spec, checked) = match state {
            VerifyState::Done(verdict) => {
                let text = serde_json::to_string(&*verdict).unwrap_or_default();
                return pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(text) });
            }
            VerifyState::Ready { spec, checked } => (spec, checked),
        };
        let is_async: bool = driver.bind(py).getattr("is_async")?.extract()?;
        let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
        let engine = PySampleEngine {
            driver: Arc::new(driver),
            locals: Arc::new(locals),
            is_async,
        };
        let cancel = self.cancel.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let verdict = execute_verify(engine, &spec, &checked, cancel, progress).await;
            Ok(serde_json::to_string(&verdict).unwrap_or_default())
        })
    }
}

async fn execute_verify(
    engine: PySampleEngine,
    spec: &Spec,
    checked: &spec::Checked,
    cancel: CancellationToken,
    progress: bool,
) -> Verdict {
    let success = match spec
        .success
        .as_deref()
        .map(dbtest_experiment::expr::Expr::parse)
    {
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
    };
    let configs = [checked.config.clone()];
    let mut live = if progress {
        Progress::new(&configs, spec.samples, spec.confidence)
    } else {
        None
    };
    let outcome = schedule::run(
        Arc::new(engine),
        Arc::new(plan),
        Vec::new(),
        cancel,
        |_, _, states| {
            if let Some(p) = live.as_mut() {
                p.draw(states, false);
            }
            Ok(())
        },
    )
    .await;
    if let Some(p) = live.as_mut() {
        p.clear();
    }
    match outcome {
        Ok(outcome) => spec::verdict(spec, &checked.rule, &outcome.configs[0]),
        Err(e) => spec::inconclusive_without_samples(&spec.spec_id, "error", &e.0),
    }
}
