//! `dbtest experiment` for Python: the driver (`dbtest._experiment.ExperimentDriver`)
//! behind dbtest-experiment's scheduler, and the commands' objects. What a run or a
//! verification does lives in `dbtest_experiment::job`.
//!
//! YAML is read and written by Python (pyyaml); documents cross as JSON text.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dbtest_core::Error;
use dbtest_experiment::job::{Finished, Job};
use dbtest_experiment::run;
use dbtest_experiment::sample::RawSample;
use dbtest_experiment::schedule::{SampleEngine, SampleRequest};
use dbtest_experiment::verify;
use dbtest_runner::CancellationToken;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;
use serde_json::Value;

use crate::{to_py_err, Callee, LoopSlot};

/// Runs samples by calling the driver (`sample_async` on the loop, or `sample_sync`).
struct PySampleEngine {
    driver: Callee,
    is_async: bool,
}

impl SampleEngine for PySampleEngine {
    async fn sample(&self, r: SampleRequest) -> RawSample {
        let args = (r.config, r.index, r.seed, r.attempt);
        let answer = self.driver.call("sample", self.is_async, args).await;
        // An answer the driver cannot give is a failure of dbtest's own.
        answer.unwrap_or_else(RawSample::internal)
    }
}

/// `dbtest._yaml.<function>(arg)`'s text: pyyaml reads and writes YAML as JSON text.
fn pyyaml(function: &str, arg: String) -> PyResult<String> {
    Python::attach(|py| {
        py.import("dbtest._yaml")?
            .call_method1(function, (arg,))?
            .extract()
    })
}

/// Baselines as YAML text.
fn yaml_of_json(value: &Value) -> Result<String, String> {
    pyyaml("yaml_of_json", value.to_string()).map_err(|e| format!("cannot write YAML: {e}"))
}

/// A YAML file as JSON text; its error names the file.
fn read_yaml_json(path: &Path) -> Result<String, Error> {
    pyyaml("read_yaml_json", path.display().to_string())
        .map_err(|e| Python::attach(|py| Error::Usage(e.value(py).to_string())))
}

/// A design's rendered messages, `prompts[config][row]`.
type Prompts = Vec<Vec<Vec<dbtest_llm::Message>>>;

/// What `ExperimentRun` and `VerifyRun` share: the job (dbtest-experiment's `Job`), what its
/// samples need from Python, and how it runs.
#[pyclass(module = "dbtest._core", subclass)]
pub struct Sampling {
    job: Mutex<Option<Job>>,
    cancel: CancellationToken,
    /// The event loop the run's async `python:` middleware runs on, known when it starts.
    loop_slot: LoopSlot,
    /// The use case to load; None when no sample will run or the design has no Python.
    #[pyo3(get)]
    use_case: Option<String>,
    /// `[(config_id, factors_json)]`, as the driver builds its contexts from.
    #[pyo3(get)]
    configs: Vec<(String, String)>,
}

impl Sampling {
    fn new(job: Job, loop_slot: LoopSlot) -> Self {
        let configs = job
            .configs()
            .into_iter()
            .map(|c| (c.config_id, Value::Object(c.factors).to_string()))
            .collect();
        Sampling {
            use_case: job.use_case().map(str::to_owned),
            configs,
            cancel: CancellationToken::new(),
            loop_slot,
            job: Mutex::new(Some(job)),
        }
    }

    /// The job, which only one run may take.
    fn take_job(&self) -> PyResult<Job> {
        self.job.lock().unwrap().take().ok_or_else(already_ran)
    }

    fn with_job<T>(&self, f: impl FnOnce(&Job) -> T) -> PyResult<T> {
        let guard = self.job.lock().unwrap();
        Ok(f(guard.as_ref().ok_or_else(already_ran)?))
    }

    /// Runs the job with `engine` on the running event loop; resolves to a run's exit code
    /// or a verification's verdict as JSON text.
    fn start<'py, E: SampleEngine>(
        &self,
        py: Python<'py>,
        engine: Option<E>,
        progress: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let job = self.take_job()?;
        let _ = self
            .loop_slot
            .set(pyo3_async_runtimes::tokio::get_current_locals(py)?);
        let cancel = self.cancel.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            match job.execute(engine, cancel, &yaml_of_json, progress).await {
                Finished::Exit(code) => Python::attach(|py| (code as i32).into_py_any(py)),
                Finished::Verdict(verdict) => serde_json::to_string(&verdict)
                    .map_err(|e| crate::DbtestError::new_err(e.to_string()))
                    .and_then(|text| Python::attach(|py| text.into_py_any(py))),
            }
        })
    }
}

#[pymethods]
impl Sampling {
    /// The LLM layer for `ctx.llm`; None when the design names no models.
    #[getter]
    fn llm(&self) -> PyResult<Option<crate::llm::LlmClient>> {
        self.with_job(|job| job.llm().map(crate::llm::LlmClient))
    }

    /// The dataset's rows for `ctx.row`; None without a dataset.
    #[getter]
    fn dataset_rows<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.with_job(|job| job.dataset_rows().map(|rows| crate::to_python(py, &rows)))?
            .transpose()
    }

    /// A design without Python: `{system, user, rows, configs}` to render; else None.
    fn prompt_inputs<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.with_job(|job| job.prompt_inputs().map(|v| crate::to_python(py, &v)))?
            .transpose()
    }

    /// `[files naming the use case, all use-case files]`, each `{path, sys_path_entry, module}`.
    fn use_case_files<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let files = self.with_job(Job::use_case_files)?.map_err(to_py_err)?;
        crate::to_python(py, &files)
    }

    /// Ctrl-C: stop launching samples (a run's baselines are then marked `interrupted`).
    fn interrupt(&self) {
        self.cancel.cancel();
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Samples by calling `driver` (None when no sample will run).
    #[pyo3(signature = (driver, progress=false))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        driver: Option<Py<PyAny>>,
        progress: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let engine = |driver: Py<PyAny>| -> PyResult<_> {
            Ok(PySampleEngine {
                is_async: driver.bind(py).getattr("is_async")?.extract()?,
                driver: Callee::on_running_loop(py, driver)?,
            })
        };
        let engine = driver.map(engine).transpose()?;
        self.start(py, engine, progress)
    }

    /// Samples a design without Python: `prompts[config][row]` are the rendered messages;
    /// `check` (a `dbtest._experiment.PromptCheck`: a probabilistic test's function) sees
    /// each sample's result.
    #[pyo3(signature = (prompts, progress=false, check=None))]
    fn run_prompts<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = crate::from_python)] prompts: Prompts,
        progress: bool,
        check: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut engine = self
            .with_job(|job| job.prompt_engine(prompts))?
            .map_err(to_py_err)?;
        if let Some(check) = check {
            engine.check = Some(Arc::new(crate::check::PyCheck::new(py, check)?));
        }
        self.start(py, Some(engine), progress)
    }

    /// The same for a run without `python:` middleware, outside any event loop: blocks (the
    /// GIL released) until the run ends; returns its exit code.
    fn run_prompts_blocking(
        &self,
        py: Python<'_>,
        #[pyo3(from_py_with = crate::from_python)] prompts: Prompts,
    ) -> PyResult<i32> {
        let engine = self
            .with_job(|job| job.prompt_engine(prompts))?
            .map_err(to_py_err)?;
        let (job, cancel) = (self.take_job()?, self.cancel.clone());
        let runtime = pyo3_async_runtimes::tokio::get_runtime();
        match py.detach(|| {
            runtime.block_on(job.execute_watching_ctrl_c(engine, cancel, &yaml_of_json, false))
        }) {
            Finished::Exit(code) => Ok(code as i32),
            Finished::Verdict(_) => Err(crate::DbtestError::new_err(
                "a verification has no exit code",
            )),
        }
    }
}

/// One `dbtest experiment run`: the design is checked and the run folder chosen here.
#[pyclass(module = "dbtest._core", extends = Sampling)]
pub struct ExperimentRun {
    #[pyo3(get)]
    experiment: String,
    #[pyo3(get)]
    run_dir: String,
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
    ) -> PyResult<PyClassInitializer<Self>> {
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
        let run = ExperimentRun {
            experiment: p.design.experiment.clone(),
            run_dir: p.run_dir.display().to_string(),
            resumed_samples: p.resumed.len(),
        };
        Ok(
            PyClassInitializer::from(Sampling::new(Job::Run(Box::new(p)), loop_slot))
                .add_subclass(run),
        )
    }
}

fn already_ran() -> PyErr {
    crate::DbtestError::new_err("this run has already run")
}

/// `dbtest experiment approve`: `(spec_path, spec_json, warnings)`, or a usage error.
#[pyfunction]
pub fn approve_baseline(
    baseline_json: &str,
    baseline_file: &str,
    cwd: PathBuf,
    #[pyo3(from_py_with = crate::flags)] options: dbtest_experiment::spec::ApproveOptions,
) -> PyResult<(String, String, Vec<String>)> {
    let (target, spec, warnings) =
        verify::approve(baseline_json, baseline_file, &cwd, &options).map_err(to_py_err)?;
    Ok((target.display().to_string(), spec, warnings))
}

/// One `dbtest experiment verify` (or one probabilistic test run by `dbtest unit`).
#[pyclass(module = "dbtest._core", extends = Sampling)]
pub struct VerifyRun {
    #[pyo3(get)]
    spec_id: String,
    #[pyo3(get)]
    spec_path: String,
    #[pyo3(get)]
    warnings: Vec<String>,
}

#[pymethods]
impl VerifyRun {
    /// Finds and checks the spec. A missing or expired spec gives a run that ends
    /// INCONCLUSIVE without a sample; an invalid, unapproved or infeasible one raises
    /// UsageError.
    #[new]
    #[pyo3(signature = (spec_id, cwd, concurrency=None))]
    fn new(
        spec_id: &str,
        cwd: PathBuf,
        concurrency: Option<usize>,
    ) -> PyResult<PyClassInitializer<Self>> {
        let loop_slot = LoopSlot::default();
        let middleware = crate::middleware::import(loop_slot.clone());
        let opened = verify::open(spec_id, &cwd, concurrency, read_yaml_json, &middleware)
            .map_err(to_py_err)?;
        let run = VerifyRun {
            spec_id: opened.spec_id.clone(),
            spec_path: opened.spec_path.clone(),
            warnings: opened.warnings.clone(),
        };
        Ok(
            PyClassInitializer::from(Sampling::new(Job::Verify(Box::new(opened)), loop_slot))
                .add_subclass(run),
        )
    }
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
    py.detach(|| dbtest_experiment::shard::merge(&cwd, &run_dirs, out, &yaml_of_json))
        .map_err(to_py_err)
}
