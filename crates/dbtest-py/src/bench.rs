//! `dbtest bench` as the CLI drives it: the Python engine behind dbtest-bench's policy.

use std::path::PathBuf;
use std::sync::Mutex;

use dbtest_bench::command::{self, Prepared};
use dbtest_bench::measure::Budget;
use dbtest_bench::{BenchCase, BenchEngine, BenchError, RoundAnswer, RoundTimer, TimerInfo};
use dbtest_core::BenchConfig;
use dbtest_runner::{FileError, FileJob};
use pyo3::intern;
use pyo3::prelude::*;

use crate::engine::{load_file, Lane};
use crate::{to_py_err, Callee};

struct PyBenchEngine {
    driver: Callee,
    root: PathBuf,
    /// Loading and every sync round happen on this one thread: benchmarks often hold objects
    /// that mind their thread (sqlite3 connections from a setup).
    lane: Lane,
}

struct PyRoundTimer<'a> {
    engine: &'a PyBenchEngine,
    key: u64,
    is_async: bool,
}

fn round_result(answer: PyResult<RoundAnswer>) -> Result<u64, BenchError> {
    answer
        .map_err(|e| BenchError::internal("timing", e))?
        .into()
}

impl RoundTimer for PyRoundTimer<'_> {
    async fn round(&mut self, iterations: u64) -> Result<u64, BenchError> {
        let driver = &self.engine.driver;
        if self.is_async {
            round_result(driver.call("round", true, (self.key, iterations)).await)
        } else {
            let driver = driver.obj.clone();
            let args = (self.key, iterations);
            let round = move |py: Python<'_>| {
                let answer = driver
                    .bind(py)
                    .call_method1(intern!(py, "round_sync"), args)?;
                crate::from_python(&answer)
            };
            let answer = self.engine.lane.submit(move |py| round_result(round(py)));
            answer
                .await
                .map_err(|e| BenchError::internal("timing", e))?
        }
    }
}

impl BenchEngine for PyBenchEngine {
    type Timer<'a> = PyRoundTimer<'a>;

    async fn collect(&self, file: FileJob) -> Result<Vec<BenchCase>, FileError> {
        let driver = self.driver.obj.clone();
        let root = self.root.clone();
        self.lane
            .submit(move |py| {
                let cases: Vec<BenchCase> = load_file(py, &driver, &root, &file, "benchmarks")?;
                Ok(cases
                    .into_iter()
                    .map(|case| BenchCase {
                        file: file.rel.clone(),
                        ..case
                    })
                    .collect())
            })
            .await
            .unwrap_or_else(|e| Err(FileError::internal("loading", e)))
    }

    async fn clock(&self) -> Result<TimerInfo, BenchError> {
        let driver = self.driver.obj.clone();
        let failed = |e: &dyn std::fmt::Display| BenchError::internal("measuring the clock", e);
        self.lane
            .submit(move |py| {
                crate::from_python(&driver.bind(py).call_method0(intern!(py, "clock"))?)
            })
            .await
            .map_err(|e| failed(&e))?
            .map_err(|e: PyErr| failed(&e))
    }

    fn timer<'a>(&'a self, case: &BenchCase) -> PyRoundTimer<'a> {
        PyRoundTimer {
            engine: self,
            key: case.key,
            is_async: case.is_async,
        }
    }
}

/// One `dbtest bench` invocation.
#[pyclass(module = "dbtest._core")]
pub struct BenchRun {
    prepared: Mutex<Option<Prepared>>,
    /// `--disable-gc`: the driver turns the collector off around timed rounds.
    #[pyo3(get)]
    gc_disabled: bool,
}

#[pymethods]
impl BenchRun {
    /// `flags`: the command line's options (click's names); raises UsageError on bad input.
    #[new]
    fn new(
        #[pyo3(from_py_with = crate::flags)] flags: BenchConfig,
        cwd: PathBuf,
    ) -> PyResult<Self> {
        let prepared = command::prepare(flags, &cwd).map_err(to_py_err)?;
        Ok(BenchRun {
            gc_disabled: prepared.config.disable_gc.unwrap_or(false),
            prepared: Mutex::new(Some(prepared)),
        })
    }

    /// Measures with `driver` (a `dbtest._bench.BenchDriver`) on the running event loop.
    /// Resolves to `(exit_code, report_json)`.
    fn run<'py>(&self, py: Python<'py>, driver: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let prepared = self
            .prepared
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| crate::DbtestError::new_err("this BenchRun has already run"))?;
        let environment = crate::from_python(&driver.bind(py).call_method0("environment")?)?;
        let engine = PyBenchEngine {
            driver: Callee::on_running_loop(py, driver)?,
            root: prepared.root.clone(),
            lane: Lane::start(),
        };
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let (code, report) = command::execute(&engine, prepared, environment).await;
            Ok((code as i32, report))
        })
    }
}

/// Times a callable from inside a test (pytest-benchmark's `benchmark` fixture): `round(n)`
/// runs one timed round of `n` calls and returns its nanoseconds, or raises. `clock` and
/// `budget` are `TimerInfo` and `Budget`'s fields; the answer is the `BenchResult`.
#[pyfunction]
pub fn measure_callable<'py>(
    py: Python<'py>,
    round: Py<PyAny>,
    name: &str,
    #[pyo3(from_py_with = crate::from_python)] clock: TimerInfo,
    #[pyo3(from_py_with = crate::flags)] budget: Budget,
) -> PyResult<Bound<'py, PyAny>> {
    let result = dbtest_bench::measure::measure_callable(
        name,
        &mut CallableTimer { round },
        &budget,
        &clock,
    );
    crate::to_python(py, &result)
}

struct CallableTimer {
    round: Py<PyAny>,
}

impl RoundTimer for CallableTimer {
    async fn round(&mut self, iterations: u64) -> Result<u64, BenchError> {
        Python::attach(|py| {
            self.round
                .bind(py)
                .call1((iterations,))
                .and_then(|ns| ns.extract::<u64>())
                .map_err(|e| BenchError {
                    message: e.to_string(),
                    traceback: None,
                })
        })
    }
}
