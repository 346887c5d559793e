//! `dbtest bench` as the CLI drives it: the Python engine behind dbtest-bench's policy.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use dbtest_bench::command::{self, Prepared};
use dbtest_bench::{BenchCase, BenchEngine, BenchError, RoundTimer, Settings, TimerInfo};
use dbtest_core::BenchConfig;
use dbtest_runner::{FileError, FileJob};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_async_runtimes::TaskLocals;

use crate::engine::{item, load_file, on_loop, opt, Lane};
use crate::to_py_err;

struct PyBenchEngine {
    driver: Arc<Py<PyAny>>,
    locals: Arc<TaskLocals>,
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

fn round_result(answer: &Bound<'_, PyAny>) -> Result<u64, BenchError> {
    if let Ok(ns) = answer.extract::<u64>() {
        return Ok(ns);
    }
    let failed = |e: PyErr| BenchError {
        message: format!("dbtest internal error while timing: {e}"),
        traceback: None,
    };
    let dict = answer.cast::<PyDict>().map_err(|e| failed(e.into()))?;
    Err(BenchError {
        message: item(dict, "error").map_err(failed)?,
        traceback: opt(dict, "traceback").map_err(failed)?,
    })
}

impl RoundTimer for PyRoundTimer<'_> {
    async fn round(&mut self, iterations: u64) -> Result<u64, BenchError> {
        let internal = |e: String| BenchError {
            message: format!("dbtest internal error while timing: {e}"),
            traceback: None,
        };
        if self.is_async {
            let answer = on_loop(
                &self.engine.driver,
                &self.engine.locals,
                "round_async",
                (self.key, iterations),
            )
            .await
            .map_err(|e| internal(e.to_string()))?;
            Python::attach(|py| round_result(answer.bind(py)))
        } else {
            let driver = self.engine.driver.clone();
            let key = self.key;
            self.engine
                .lane
                .submit(move |py| {
                    match driver
                        .bind(py)
                        .call_method1(intern!(py, "round"), (key, iterations))
                    {
                        Ok(answer) => round_result(&answer),
                        Err(e) => Err(internal(e.to_string())),
                    }
                })
                .await
                .map_err(|e| internal(e.to_string()))?
        }
    }
}

fn case_from_py(rel: &str, d: &Bound<'_, PyDict>) -> PyResult<BenchCase> {
    Ok(BenchCase {
        file: rel.to_string(),
        line: item(d, "line")?,
        group: item(d, "group")?,
        name: item(d, "name")?,
        params: opt(d, "params")?,
        baseline: item(d, "baseline")?,
        is_async: item(d, "is_async")?,
        key: item(d, "key")?,
    })
}

impl BenchEngine for PyBenchEngine {
    type Timer<'a> = PyRoundTimer<'a>;

    async fn collect(&self, file: FileJob) -> Result<Vec<BenchCase>, FileError> {
        let driver = self.driver.clone();
        let root = self.root.clone();
        self.lane
            .submit(move |py| {
                load_file(py, &driver, &root, &file, "benchmarks", |d| {
                    case_from_py(&file.rel, d)
                })
            })
            .await
            .unwrap_or_else(|e| {
                Err(FileError {
                    message: format!("dbtest internal error while loading: {e}"),
                    traceback: None,
                    skipped: false,
                })
            })
    }

    async fn clock(&self) -> Result<TimerInfo, BenchError> {
        let driver = self.driver.clone();
        let failed = |e: String| BenchError {
            message: format!("cannot measure the clock: {e}"),
            traceback: None,
        };
        self.lane
            .submit(move |py| -> PyResult<TimerInfo> {
                let answer = driver.bind(py).call_method0(intern!(py, "clock"))?;
                let d = answer.cast::<PyDict>()?;
                Ok(TimerInfo {
                    resolution_s: item(d, "resolution_s")?,
                    overhead_s: item(d, "overhead_s")?,
                })
            })
            .await
            .map_err(|e| failed(e.to_string()))?
            .map_err(|e| failed(e.to_string()))
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
}

#[pymethods]
impl BenchRun {
    /// `flags`: the command line's options (click's names); raises UsageError on bad input.
    #[new]
    fn new(flags: &Bound<'_, PyAny>, cwd: PathBuf) -> PyResult<Self> {
        let flags: BenchConfig = crate::flags(flags)?;
        let prepared = command::prepare(flags, &cwd).map_err(to_py_err)?;
        Ok(BenchRun {
            prepared: Mutex::new(Some(prepared)),
        })
    }

    #[getter]
    fn gc_disabled(&self) -> bool {
        self.prepared
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|p| p.config.disable_gc.unwrap_or(false))
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
        let environment = match crate::from_python::<serde_json::Value>(
            &driver.bind(py).call_method0("environment")?,
        )? {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
        let engine = PyBenchEngine {
            driver: Arc::new(driver),
            locals: Arc::new(locals),
            root: prepared.root.clone(),
            lane: Lane::start(),
        };
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let (code, report) = command::execute(&engine, prepared, environment).await;
            Ok((code as i32, report))
        })
    }
}

/// Times a callable from inside a test (pytest-benchmark's `benchmark` fixture) with dbtest
/// bench's policy. `round(iterations)` runs one timed round and returns its nanoseconds, or
/// raises; the answer is the `BenchResult` as JSON. Called on the test's own thread, which it
/// holds while timing: a benchmark is never measured beside other work.
#[pyfunction]
#[pyo3(signature = (round, name, resolution_s, overhead_s, warmup_rounds=None, min_rounds=None, max_time_s=None, min_round_time_s=None))]
#[allow(clippy::too_many_arguments)]
pub fn measure_callable(
    round: Py<PyAny>,
    name: String,
    resolution_s: f64,
    overhead_s: f64,
    warmup_rounds: Option<u32>,
    min_rounds: Option<u32>,
    max_time_s: Option<f64>,
    min_round_time_s: Option<f64>,
) -> PyResult<String> {
    let defaults = Settings::default();
    // pytest-benchmark's budget comes from the fixture; only the gc setting is dbtest's own.
    let settings = Settings {
        warmup_rounds: warmup_rounds.unwrap_or(defaults.warmup_rounds),
        min_rounds: min_rounds.unwrap_or(defaults.min_rounds),
        max_time_s: max_time_s.unwrap_or(defaults.max_time_s),
        min_round_time_s: min_round_time_s.unwrap_or(defaults.min_round_time_s),
        gc_disabled: false,
    };
    let case = BenchCase {
        file: String::new(),
        line: 0,
        group: String::new(),
        name,
        params: None,
        baseline: false,
        is_async: false,
        key: 0,
    };
    let clock = TimerInfo {
        resolution_s,
        overhead_s,
    };
    let mut timer = CallableTimer { round };
    let result = futures::executor::block_on(dbtest_bench::measure::measure(
        &case, &mut timer, &settings, &clock,
    ));
    serde_json::to_string(&result).map_err(|e| crate::DbtestError::new_err(e.to_string()))
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
