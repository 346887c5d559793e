//! `dbtest experiment` for Python: the driver (`dbtest._experiment.ExperimentDriver`)
//! behind dbtest-experiment's scheduler, and the commands' objects. What a run does lives in
//! `dbtest_experiment::{run, verify}`.
//!
//! YAML is read and written by Python (pyyaml); documents cross as JSON text.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dbtest_core::{Error, ExitCode};
use dbtest_experiment::design::{Configuration, Design};
use dbtest_experiment::models::{ModelSide, PromptEngine};
use dbtest_experiment::project::{Project, UseCaseFile};
use dbtest_experiment::run::{self, PreparedRun, YamlText};
use dbtest_experiment::sample::{RawKind, RawSample};
use dbtest_experiment::schedule::{SampleEngine, SampleRequest};
use dbtest_experiment::spec::{self, Spec};
use dbtest_experiment::verify::{self, Verification};
use dbtest_runner::CancellationToken;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use serde_json::Value;

use crate::engine::on_loop;
use crate::middleware::LoopSlot;
use crate::to_py_err;

/// A use-case file as Python imports it: `(path, sys_path_entry, module)`.
type FileTarget = (String, String, String);

fn targets(
    (named, all): (Vec<UseCaseFile>, Vec<UseCaseFile>),
) -> (Vec<FileTarget>, Vec<FileTarget>) {
    let target = |f: UseCaseFile| (f.path, f.sys_path_entry, f.module);
    (
        named.into_iter().map(target).collect(),
        all.into_iter().map(target).collect(),
    )
}

/// `[(config_id, factors_json)]`, as the driver builds its contexts from.
fn config_pairs(configs: &[Configuration]) -> Vec<(String, String)> {
    configs
        .iter()
        .map(|c| {
            (
                c.config_id.clone(),
                Value::Object(c.factors.clone()).to_string(),
            )
        })
        .collect()
}

/// The driver's `SampleAnswer`.
#[derive(FromPyObject)]
struct SampleAnswer {
    /// An unknown kind is an error, never a guess.
    #[pyo3(attribute, from_py_with = crate::from_python)]
    kind: RawKind,
    #[pyo3(attribute)]
    success: Option<bool>,
    #[pyo3(attribute)]
    data: Option<String>,
    #[pyo3(attribute)]
    message: Option<String>,
    #[pyo3(attribute)]
    latency_ms: f64,
    #[pyo3(attribute)]
    tokens: u64,
    #[pyo3(attribute)]
    cost_usd: f64,
    #[pyo3(attribute)]
    check_failed: Option<String>,
    /// The model calls `ctx.llm` made, as the sample log keeps them.
    #[pyo3(attribute, from_py_with = crate::from_python)]
    calls: Vec<Value>,
}

impl From<SampleAnswer> for RawSample {
    fn from(a: SampleAnswer) -> RawSample {
        RawSample {
            kind: a.kind,
            success: a.success,
            // The driver dumps with json.dumps; text that is not JSON is kept as text.
            data: a
                .data
                .map(|text| serde_json::from_str(&text).unwrap_or(Value::String(text)))
                .unwrap_or(Value::Null),
            message: a.message,
            latency_ms: a.latency_ms,
            tokens: a.tokens,
            cost_usd: a.cost_usd,
            check_failed: a.check_failed,
            calls: a.calls,
        }
    }
}

fn internal(e: impl std::fmt::Display) -> RawSample {
    RawSample::with_kind(
        RawKind::Raised,
        format!("dbtest internal error while running a sample: {e}"),
    )
}

fn answer(answer: &Bound<'_, PyAny>) -> RawSample {
    answer
        .extract::<SampleAnswer>()
        .map(RawSample::from)
        .unwrap_or_else(internal)
}

/// Runs samples by calling the driver.
struct PySampleEngine {
    driver: Arc<Py<PyAny>>,
    locals: Arc<TaskLocals>,
    is_async: bool,
}

impl PySampleEngine {
    fn new(py: Python<'_>, driver: Py<PyAny>) -> PyResult<Self> {
        let is_async: bool = driver.bind(py).getattr("is_async")?.extract()?;
        let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
        Ok(PySampleEngine {
            driver: Arc::new(driver),
            locals: Arc::new(locals),
            is_async,
        })
    }
}

impl SampleEngine for PySampleEngine {
    async fn sample(&self, r: SampleRequest) -> RawSample {
        let args = (r.config, r.index, r.seed, r.attempt);
        if self.is_async {
            match on_loop(&self.driver, &self.locals, "sample_async", args).await {
                Ok(done) => Python::attach(|py| answer(done.bind(py))),
                Err(e) => internal(e),
            }
        } else {
            let driver = self.driver.clone();
            tokio::task::spawn_blocking(move || {
                Python::attach(|py| {
                    driver
                        .bind(py)
                        .call_method1(intern!(py, "sample_sync"), args)
                        .map(|done| answer(&done))
                        .unwrap_or_else(internal)
                })
            })
            .await
            .unwrap_or_else(internal)
        }
    }
}

/// Baselines as YAML text, by `yaml_of_json` (pyyaml) of the driver or of `dbtest._experiment`.
struct PyYaml(Arc<Py<PyAny>>);

impl YamlText for PyYaml {
    fn yaml(&self, value: &Value) -> Result<String, String> {
        Python::attach(|py| {
            self.0
                .bind(py)
                .call_method1(intern!(py, "yaml_of_json"), (value.to_string(),))
                .and_then(|text| text.extract::<String>())
                .map_err(|e| format!("cannot write YAML: {e}"))
        })
    }
}

/// One `dbtest experiment run`.
#[pyclass(module = "dbtest._core")]
pub struct ExperimentRun {
    prepared: Mutex<Option<PreparedRun>>,
    cancel: CancellationToken,
    loop_slot: LoopSlot,
    #[pyo3(get)]
    use_case: String,
    #[pyo3(get)]
    experiment: String,
    #[pyo3(get)]
    run_dir: String,
    /// `[(config_id, factors_json)]`
    #[pyo3(get)]
    configs: Vec<(String, String)>,
    #[pyo3(get)]
    resumed_samples: usize,
}

#[pymethods]
impl ExperimentRun {
    #[new]
    #[pyo3(signature = (design_json, design_file, cwd, out=None, resume=None, cache="off", shard=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        design_json: &str,
        design_file: &str,
        cwd: PathBuf,
        out: Option<&str>,
        resume: Option<&str>,
        cache: &str,
        shard: Option<&str>,
    ) -> PyResult<Self> {
        let value = run::design_value(design_json, design_file).map_err(to_py_err)?;
        let cache = cache
            .parse()
            .map_err(|e| to_py_err(Error::Usage(format!("--cache: {e}"))))?;
        let loop_slot = LoopSlot::default();
        let host = run::Host {
            read_yaml: &read_yaml_json,
            middleware: &crate::middleware::import(loop_slot.clone()),
        };
        let p = run::prepare_run(value, design_file, &cwd, out, resume, shard, cache, &host)
            .map_err(to_py_err)?;
        Ok(ExperimentRun {
            cancel: CancellationToken::new(),
            loop_slot,
            use_case: p.design.use_case.clone(),
            experiment: p.design.experiment.clone(),
            run_dir: p.run_dir.display().to_string(),
            configs: config_pairs(&p.design.configurations()),
            resumed_samples: p.resumed.len(),
            prepared: Mutex::new(Some(p)),
        })
    }

    /// The run's LLM layer for `ctx.llm`; `None` when the design names no models.
    #[getter]
    fn llm(&self) -> PyResult<Option<crate::llm::LlmClient>> {
        let guard = self.prepared.lock().unwrap();
        let p = guard.as_ref().ok_or_else(already_ran)?;
        Ok(llm_of(&p.models))
    }

    /// The dataset's rows for `ctx.row`; `None` without a dataset.
    #[getter]
    fn dataset_rows<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let guard = self.prepared.lock().unwrap();
        let p = guard.as_ref().ok_or_else(already_ran)?;
        rows_of(py, &p.models)
    }

    /// A design without Python: `{system, user, rows, configs}` for rendering its prompts
    /// (Jinja2, before any call); `None` for a design with a use case.
    fn prompt_inputs<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let guard = self.prepared.lock().unwrap();
        let p = guard.as_ref().ok_or_else(already_ran)?;
        prompt_inputs(py, &p.design, &p.models, p.design.configurations())
    }

    /// Runs a design without Python: `prompts[config][row]` are the rendered messages.
    fn run_prompts<'py>(
        &self,
        py: Python<'py>,
        prompts: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let prompts = crate::from_python(prompts)?;
        let p = self
            .prepared
            .lock()
            .unwrap()
            .take()
            .ok_or_else(already_ran)?;
        let _ = self
            .loop_slot
            .set(pyo3_async_runtimes::tokio::get_current_locals(py)?);
        let engine = run::prompt_engine(&p, prompts).map_err(to_py_err)?;
        let yaml = PyYaml(Arc::new(
            py.import("dbtest._experiment")?.into_any().unbind(),
        ));
        let cancel = self.cancel.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let code = run::execute_run(engine, p, cancel, &yaml)
                .await
                .unwrap_or_else(|message| {
                    eprintln!("dbtest: {message}");
                    ExitCode::Internal
                });
            Ok(code as i32)
        })
    }

    /// `(files naming the use case, all use-case files)`.
    fn use_case_files(&self) -> PyResult<(Vec<FileTarget>, Vec<FileTarget>)> {
        let guard = self.prepared.lock().unwrap();
        let p = guard.as_ref().ok_or_else(already_ran)?;
        p.project
            .use_case_files(&self.use_case)
            .map(targets)
            .map_err(to_py_err)
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
            .ok_or_else(already_ran)?;
        let engine = PySampleEngine::new(py, driver)?;
        let _ = self.loop_slot.set((*engine.locals).clone());
        let yaml = PyYaml(engine.driver.clone());
        let cancel = self.cancel.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let code = match run::execute_run(engine, prepared, cancel, &yaml).await {
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

fn llm_of(side: &ModelSide) -> Option<crate::llm::LlmClient> {
    side.llm.clone().map(crate::llm::LlmClient)
}

fn rows_of<'py>(py: Python<'py>, side: &ModelSide) -> PyResult<Option<Bound<'py, PyAny>>> {
    side.dataset
        .as_ref()
        .map(|d| crate::to_python(py, &d.rows))
        .transpose()
}

/// `{system, user, rows, configs}` of a design without Python, for Jinja2.
fn prompt_inputs<'py>(
    py: Python<'py>,
    design: &Design,
    side: &ModelSide,
    configs: Vec<Configuration>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let Some(prompt) = &design.llm.prompt else {
        return Ok(None);
    };
    let configs: Vec<_> = configs.into_iter().map(|c| c.factors).collect();
    let inputs = serde_json::json!({"system": prompt.system, "user": prompt.user,
                                    "rows": side.rows(), "configs": configs});
    crate::to_python(py, &inputs).map(Some)
}

/// A YAML file as JSON text, by pyyaml; its error names the file.
fn read_yaml_json(path: &Path) -> Result<String, Error> {
    Python::attach(|py| {
        py.import("dbtest._experiment")
            .and_then(|m| m.call_method1("read_yaml_json", (path.display().to_string(),)))
            .and_then(|text| text.extract::<String>())
            .map_err(|e| Error::Usage(e.value(py).to_string()))
    })
}

fn already_ran() -> PyErr {
    crate::DbtestError::new_err("this run has already run")
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
    let path = dbtest_experiment::project::absolute(&cwd, baseline_file);
    let bytes = std::fs::read(&path)
        .map_err(|e| to_py_err(Error::Usage(format!("cannot read {baseline_file}: {e}"))))?;
    let value: Value = serde_json::from_str(baseline_json)
        .map_err(|e| to_py_err(Error::Usage(format!("{baseline_file}: {e}"))))?;
    let options: spec::ApproveOptions = serde_json::from_str(options_json)
        .map_err(|e| to_py_err(Error::Usage(format!("invalid option: {e}"))))?;
    let (target, spec, warnings) =
        verify::approve(&value, baseline_file, &bytes, &cwd, &options).map_err(to_py_err)?;
    let text =
        serde_json::to_string(&spec).map_err(|e| crate::DbtestError::new_err(e.to_string()))?;
    Ok((target.display().to_string(), text, warnings))
}

/// One `dbtest experiment verify` (or one probabilistic test run by `dbtest unit`).
#[pyclass(module = "dbtest._core")]
pub struct VerifyRun {
    verification: Mutex<Option<Verification>>,
    project: Project,
    cancel: CancellationToken,
    loop_slot: LoopSlot,
    #[pyo3(get)]
    spec_id: String,
    #[pyo3(get)]
    spec_path: String,
    /// The use case to load; None when no sample will run.
    #[pyo3(get)]
    use_case: Option<String>,
    #[pyo3(get)]
    warnings: Vec<String>,
    #[pyo3(get)]
    configs: Vec<(String, String)>,
}

#[pymethods]
impl VerifyRun {
    /// Finds and checks the spec; `read_yaml(path)` returns the file as JSON text. A missing
    /// or expired spec gives a run that ends INCONCLUSIVE without a sample; an invalid,
    /// unapproved or infeasible one raises UsageError.
    #[new]
    #[pyo3(signature = (spec_id, cwd, read_yaml, concurrency=None))]
    fn new(
        py: Python<'_>,
        spec_id: &str,
        cwd: PathBuf,
        read_yaml: Py<PyAny>,
        concurrency: Option<usize>,
    ) -> PyResult<Self> {
        let mut raised = None;
        let read = |path: &Path| -> Result<String, Error> {
            read_yaml
                .bind(py)
                .call1((path.display().to_string(),))
                .and_then(|text| text.extract::<String>())
                .map_err(|e| {
                    let message = e.to_string();
                    raised = Some(e);
                    Error::Usage(message)
                })
        };
        let loop_slot = LoopSlot::default();
        let python = crate::middleware::import(loop_slot.clone());
        let opened = match verify::open(spec_id, &cwd, concurrency, read, &python) {
            Ok(opened) => opened,
            // The reader's own exception (a YAML error) goes back as it was raised.
            Err(e) => return Err(raised.take().unwrap_or_else(|| to_py_err(e))),
        };
        Ok(VerifyRun {
            cancel: CancellationToken::new(),
            loop_slot,
            use_case: opened.use_case().map(str::to_owned),
            configs: config_pairs(
                opened
                    .config()
                    .map(std::slice::from_ref)
                    .unwrap_or_default(),
            ),
            spec_id: opened.spec_id,
            spec_path: opened.spec_path,
            warnings: opened.warnings,
            project: opened.project,
            verification: Mutex::new(Some(opened.verification)),
        })
    }

    /// The spec's LLM layer for `ctx.llm` (see `ExperimentRun.llm`).
    #[getter]
    fn llm(&self) -> Option<crate::llm::LlmClient> {
        self.with_setup(|setup| llm_of(&setup.models)).flatten()
    }

    #[getter]
    fn dataset_rows<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.with_setup(|setup| rows_of(py, &setup.models))
            .transpose()
            .map(Option::flatten)
    }

    /// A spec of a design without Python: what to render (see `ExperimentRun`).
    fn prompt_inputs<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let guard = self.verification.lock().unwrap();
        match guard.as_ref() {
            Some(Verification::Ready { checked, setup, .. }) => match &setup.design {
                Some(design) => {
                    prompt_inputs(py, design, &setup.models, vec![checked.config.clone()])
                }
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// Samples a spec of a design without Python with its rendered prompts; resolves to
    /// the verdict as JSON text. `check` (a `PromptCheck`: a probabilistic test's function)
    /// sees each sample's result.
    #[pyo3(signature = (prompts, progress=false, check=None))]
    fn run_prompts<'py>(
        &self,
        py: Python<'py>,
        prompts: &Bound<'py, PyAny>,
        progress: bool,
        check: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let prompts = crate::from_python(prompts)?;
        let Some(Verification::Ready {
            spec,
            checked,
            setup,
        }) = self.verification.lock().unwrap().take()
        else {
            return Err(already_ran());
        };
        let design = setup.design.as_ref().ok_or_else(already_ran)?;
        let _ = self
            .loop_slot
            .set(pyo3_async_runtimes::tokio::get_current_locals(py)?);
        let mut engine = PromptEngine::new(
            &setup.models,
            design,
            vec![checked.config.clone()],
            prompts,
            dbtest_experiment::run::random_seed(),
        )
        .map_err(to_py_err)?;
        if let Some(check) = check {
            engine.check = Some(Arc::new(crate::check::PyCheck::new(py, check)?));
        }
        let cancel = self.cancel.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let verdict = verify::execute(engine, &spec, &checked, &setup, cancel, progress).await;
            verdict_json(&verdict)
        })
    }

    fn use_case_files(&self) -> PyResult<(Vec<FileTarget>, Vec<FileTarget>)> {
        match &self.use_case {
            Some(u) => self
                .project
                .use_case_files(u)
                .map(targets)
                .map_err(to_py_err),
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
        let verification = self
            .verification
            .lock()
            .unwrap()
            .take()
            .ok_or_else(already_ran)?;
        let (spec, checked, setup): (Box<Spec>, _, _) = match verification {
            Verification::Done(verdict) => {
                let text = verdict_json(&verdict)?;
                return pyo3_async_runtimes::tokio::future_into_py(py, async move { Ok(text) });
            }
            Verification::Ready {
                spec,
                checked,
                setup,
            } => (spec, checked, setup),
        };
        let engine = PySampleEngine::new(py, driver)?;
        let _ = self.loop_slot.set((*engine.locals).clone());
        let cancel = self.cancel.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let verdict = verify::execute(engine, &spec, &checked, &setup, cancel, progress).await;
            verdict_json(&verdict)
        })
    }
}

impl VerifyRun {
    fn with_setup<T>(&self, f: impl FnOnce(&verify::Setup) -> T) -> Option<T> {
        match self.verification.lock().unwrap().as_ref() {
            Some(Verification::Ready { setup, .. }) => Some(f(setup)),
            _ => None,
        }
    }
}

fn verdict_json(verdict: &spec::Verdict) -> PyResult<String> {
    serde_json::to_string(verdict).map_err(|e| crate::DbtestError::new_err(e.to_string()))
}

/// `dbtest experiment report RUN_DIR`: the run's artifacts rendered again; returns what to
/// print.
#[pyfunction]
pub fn render_artifacts(py: Python<'_>, run_dir: &str, cwd: PathBuf) -> PyResult<String> {
    py.detach(|| dbtest_experiment::artifacts::report(&cwd, run_dir))
        .map_err(to_py_err)
}

/// `dbtest experiment verify-bundle DIR --key-env NAME`: `(exit code, text)`.
#[pyfunction]
pub fn verify_bundle(py: Python<'_>, dir: &str, key_env: &str, cwd: PathBuf) -> (i32, String) {
    let (code, text) = py.detach(|| {
        dbtest_experiment::artifacts::verify_bundle(&cwd, dir, key_env, &|name| {
            std::env::var(name).ok()
        })
    });
    (code as i32, text)
}

/// `dbtest experiment merge RUN_DIR... [--out DIR]`: the shares joined into one run folder;
/// returns what to print.
#[pyfunction]
#[pyo3(signature = (run_dirs, cwd, out=None))]
pub fn merge_shards(
    py: Python<'_>,
    run_dirs: Vec<String>,
    cwd: PathBuf,
    out: Option<&str>,
) -> PyResult<String> {
    let yaml = PyYaml(Arc::new(
        py.import("dbtest._experiment")?.into_any().unbind(),
    ));
    dbtest_experiment::shard::merge(&cwd, &run_dirs, out, &yaml).map_err(to_py_err)
}
