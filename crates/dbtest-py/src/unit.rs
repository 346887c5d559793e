//! `dbtest unit` for Python: the run object the CLI drives and pytest's settings for the
//! driver. What a run does lives in dbtest-unit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use dbtest_core::coverage::CoverageSummary;
use dbtest_core::pytest_config::PythonSettings as Settings;
use dbtest_core::UnitConfig;
use dbtest_runner::CancellationToken;
use dbtest_unit::{execute, execute_without_driver, CoverageFinish, Executor, Prepared};
use pyo3::prelude::*;

use crate::engine::PyEngine;
use crate::{to_py_err, Callee, LoopSlot};

/// One `dbtest unit` invocation.
#[pyclass(module = "dbtest._core")]
pub struct UnitRun {
    prepared: Mutex<Option<Prepared>>,
    cancel: CancellationToken,
    abandoned: Arc<AtomicBool>,
    /// Kept beside `prepared`, which the run takes: the driver is built before it.
    python: Settings,
    /// Warnings to show before the run, one line each (the CLI prints them to stderr).
    #[pyo3(get)]
    warnings: Vec<String>,
    /// The project root: ids and configured paths are relative to it.
    #[pyo3(get)]
    root: String,
    /// How many test files discovery found; with none, `run_blocking` finishes the run
    /// without starting Python's event loop or importing the driver.
    #[pyo3(get)]
    file_count: usize,
    /// Whether this run happens in worker processes (it then needs no driver or event loop
    /// in this process).
    #[pyo3(get)]
    uses_workers: bool,
}

impl UnitRun {
    fn take_prepared(&self) -> PyResult<Prepared> {
        self.prepared
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| crate::DbtestError::new_err("this UnitRun has already run"))
    }
}

#[pymethods]
impl UnitRun {
    /// Reads settings and finds the test files; raises UsageError on bad input. `flags`:
    /// the command line's options by their setting names.
    #[new]
    fn new(#[pyo3(from_py_with = crate::flags)] flags: UnitConfig, cwd: PathBuf) -> PyResult<Self> {
        let prepared = dbtest_unit::prepare(flags, &cwd).map_err(to_py_err)?;
        Ok(UnitRun {
            python: prepared.python.clone(),
            warnings: prepared.warnings.clone(),
            root: prepared.root.display().to_string(),
            file_count: prepared.files.len(),
            uses_workers: prepared.uses_workers(),
            prepared: Mutex::new(Some(prepared)),
            cancel: CancellationToken::new(),
            abandoned: Arc::new(AtomicBool::new(false)),
        })
    }

    /// pytest's settings for the driver, as a dict of `dbtest._settings.PythonSettings`'s
    /// fields.
    #[getter]
    fn python_settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::to_python(py, &self.python)
    }

    /// What `--cov` measures (a dict of `dbtest_core::coverage::CoverageSettings`), or None.
    #[getter]
    fn coverage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::to_python(py, &self.python.coverage)
    }

    /// Ctrl-C: stop starting tests, write the partial report, exit 2.
    fn interrupt(&self) {
        self.cancel.cancel();
    }

    #[getter]
    fn interrupted(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// A sync test outlived its timeout and still runs on a thread: exit without waiting.
    #[getter]
    fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::SeqCst)
    }

    /// Runs without a Python driver, blocking: a run that found no test files, or one in
    /// worker processes (see `dbtest_unit::execute_without_driver`). `coverage`: what ends
    /// the measurement (its `finish_sync`), with `--cov`.
    #[pyo3(signature = (coverage=None))]
    fn run_blocking(&self, py: Python<'_>, coverage: Option<Py<PyAny>>) -> PyResult<i32> {
        let prepared = self.take_prepared()?;
        let python: PathBuf = py.import("sys")?.getattr("executable")?.extract()?;
        let cancel = self.cancel.clone();
        let abandoned = self.abandoned.clone();
        let coverage =
            coverage.map(|obj| finish_coverage(Callee::new(obj, LoopSlot::default()), false));
        let code = py.detach(|| {
            pyo3_async_runtimes::tokio::get_runtime().block_on(execute_without_driver(
                prepared, python, cancel, &abandoned, coverage,
            ))
        });
        Ok(code.map_err(to_py_err)? as i32)
    }

    /// Runs the tests with `driver`; must be awaited on the event loop the driver uses.
    /// Resolves to the process exit code. `coverage`: what ends the measurement (its
    /// `finish_async`, on this loop), with `--cov`.
    #[pyo3(signature = (driver, coverage=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        driver: Py<PyAny>,
        coverage: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let prepared = self.take_prepared()?;
        let executor = Executor::InProcess(PyEngine::new(py, driver, prepared.root.clone())?);
        let cancel = self.cancel.clone();
        let abandoned = self.abandoned.clone();
        let coverage = match coverage {
            Some(obj) => Some(finish_coverage(Callee::on_running_loop(py, obj)?, true)),
            None => None,
        };
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let code = execute(executor, prepared, cancel, &abandoned, coverage).await;
            Ok(code as i32)
        })
    }
}

fn finish_coverage(coverage: Callee, on_loop: bool) -> CoverageFinish {
    Box::pin(async move {
        coverage
            .call::<CoverageSummary>("finish", on_loop, ())
            .await
            .map_err(|e| e.to_string())
    })
}

/// The coverage section to print and whether the run fails for it (`--cov-fail-under`, else
/// coverage.py's `fail_under`): for `dbtest report merge --cov`, whose coverage Python
/// combines.
#[pyfunction]
#[pyo3(signature = (summary, fail_under=None))]
pub fn coverage_verdict(
    #[pyo3(from_py_with = crate::from_python)] summary: CoverageSummary,
    fail_under: Option<f64>,
) -> (String, bool) {
    summary.verdict(fail_under)
}

/// `dbtest report merge`: one report from the JSON reports of a run's shards.
#[pyfunction]
#[pyo3(signature = (inputs, json=None, junit_xml=None, markdown=None))]
pub fn merge_reports(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    json: Option<String>,
    junit_xml: Option<String>,
    markdown: Option<String>,
) -> PyResult<i32> {
    let code = py
        .detach(|| {
            dbtest_unit::merge_reports(
                &inputs,
                json.as_deref(),
                junit_xml.as_deref(),
                markdown.as_deref(),
            )
        })
        .map_err(to_py_err)?;
    Ok(code as i32)
}
