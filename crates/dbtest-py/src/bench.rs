//! `dbtest bench` as the CLI drives it: the Python engine behind dbtest-bench's policy.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dbtest_bench::{
    BenchCase, BenchEngine, BenchError, BenchReport, CompareOutcome, RoundTimer, Settings,
    TimerInfo, BENCH_SCHEMA,
};
use dbtest_core::config::{find_dbtest_project, DEFAULT_BENCH_PATTERN};
use dbtest_core::{BenchConfig, Error, ExitCode};
use dbtest_discovery::{
    dbtest_norecurse, discover_from, relative_id, search_paths, Pattern, Selector,
};
use dbtest_runner::{FileError, FileJob};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_async_runtimes::TaskLocals;

use crate::engine::{item, load_file, on_loop, opt, to_json, Lane};
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

struct Prepared {
    config: BenchConfig,
    root: PathBuf,
    files: Vec<FileJob>,
    selector: Selector,
    saved: Option<BenchReport>,
}

fn prepare(flags_json: &str, cwd: &Path) -> Result<Prepared, Error> {
    let flags: BenchConfig = serde_json::from_str(flags_json)
        .map_err(|e| Error::Usage(format!("invalid option: {e}")))?;
    let (root, file_config) = find_dbtest_project(cwd)?;
    let flag_paths = flags.paths.clone();
    let config = flags.over(file_config.and_then(|(_, c)| c.bench).unwrap_or_default());
    config.validate("dbtest bench")?;
    for name in [&config.save, &config.compare].into_iter().flatten() {
        dbtest_bench::check_name(name).map_err(Error::Usage)?;
    }
    // A missing or unreadable saved run is a usage error, found before anything is measured.
    let saved = match &config.compare {
        Some(name) => Some(dbtest_bench::load(&root, name).map_err(Error::Usage)?),
        None => None,
    };
    let paths = search_paths(
        &root,
        flag_paths.as_deref(),
        config.paths.as_deref(),
        Some("benches"),
    );
    let pattern = config.pattern.as_deref().unwrap_or(DEFAULT_BENCH_PATTERN);
    let found = discover_from(
        cwd,
        &root,
        &paths,
        &[Pattern::Glob(pattern.to_owned())],
        &dbtest_norecurse(),
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let selector = Selector::new(
        config.match_.as_deref().unwrap_or_default(),
        None,
        found.id_prefixes,
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let files = found
        .files
        .into_iter()
        .map(|path| FileJob {
            rel: relative_id(&root, &path),
            path,
            exclusive: false,
        })
        .collect();
    Ok(Prepared {
        config,
        root,
        files,
        selector,
        saved,
    })
}

/// One `dbtest bench` invocation.
#[pyclass(module = "dbtest._core")]
pub struct BenchRun {
    prepared: Mutex<Option<Prepared>>,
}

#[pymethods]
impl BenchRun {
    #[new]
    fn new(flags_json: &str, cwd: PathBuf) -> PyResult<Self> {
        let prepared = prepare(flags_json, &cwd).map_err(to_py_err)?;
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
        let environment = match to_json(&driver.bind(py).call_method0("environment")?)? {
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
            let (code, report) = execute(engine, prepared, environment).await;
            Ok((code as i32, report))
        })
    }
}

fn machine(root: &Path, env: &mut serde_json::Map<String, serde_json::Value>) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        });
    env.insert(
        "cpu".into(),
        cpu.map_or(serde_json::Value::Null, Into::into),
    );
    env.insert(
        "cpu_count".into(),
        std::thread::available_parallelism()
            .map_or(0, |n| n.get())
            .into(),
    );
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    env.insert(
        "commit".into(),
        git(&["rev-parse", "HEAD"]).map_or(serde_json::Value::Null, Into::into),
    );
    if let Some(status) = git(&["status", "--porcelain", "--untracked-files=no"]) {
        env.insert("dirty".into(), (!status.is_empty()).into());
    }
}

async fn execute(
    engine: PyBenchEngine,
    prepared: Prepared,
    mut environment: serde_json::Map<String, serde_json::Value>,
) -> (ExitCode, String) {
    let Prepared {
        config,
        root,
        files,
        selector,
        saved,
    } = prepared;
    let settings = Settings {
        warmup_rounds: config.warmup.unwrap_or(3),
        min_rounds: config.min_rounds.unwrap_or(5),
        max_time_s: config.max_time.unwrap_or(1.0),
        min_round_time_s: config.min_round_time.unwrap_or(0.01),
        gc_disabled: config.disable_gc.unwrap_or(false),
    };
    machine(&root, &mut environment);
    let color = dbtest_report::color_enabled(config.color.unwrap_or_default());
    let progress = std::io::stderr().is_terminal();
    let started_at = jiff::Timestamp::now();
    let clock = std::time::Instant::now();
    let measured = dbtest_bench::run(
        &engine,
        files,
        &settings,
        |case| selector.matches(&case.id(), &[]),
        |case, i, total| {
            if progress {
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2K  measuring {}/{total} {}::{}",
                    i + 1,
                    case.group,
                    case.label()
                );
                let _ = err.flush();
            }
        },
        |_| {},
    )
    .await;
    if progress {
        eprint!("\r\x1b[2K");
    }
    let measured = match measured {
        Ok(m) => m,
        Err(e) => {
            eprintln!("dbtest: {}", e.message);
            return (ExitCode::Internal, String::new());
        }
    };
    let report = BenchReport {
        schema: BENCH_SCHEMA.to_string(),
        started_at: started_at.to_string(),
        duration_s: clock.elapsed().as_secs_f64(),
        environment,
        settings,
        timer: measured.timer,
        benchmarks: measured.benchmarks,
        errors: measured.errors,
    };
    let mut out = dbtest_bench::render::console(&report, color);
    let compared: Option<CompareOutcome> = saved
        .as_ref()
        .map(|old| dbtest_bench::compare(old, &report, config.fail_on_regression));
    if let (Some(outcome), Some(name)) = (&compared, &config.compare) {
        out.push_str(&dbtest_bench::render::comparison(outcome, name, color));
    }
    let mut code = ExitCode::Ok;
    let failures = report.errors.len()
        + report
            .benchmarks
            .iter()
            .filter(|b| b.error.is_some())
            .count();
    if report.benchmarks.is_empty() && report.errors.is_empty() {
        out.push_str("no benchmarks found\n");
        code = ExitCode::NoTests;
    }
    if failures > 0 {
        code = ExitCode::TestsFailed;
    }
    if let Some(outcome) = &compared {
        let regressions = outcome.regressions();
        if regressions > 0 {
            out.push_str(&format!(
                "\n{regressions} regression(s) beyond --fail-on-regression {}%\n",
                config.fail_on_regression.unwrap_or_default()
            ));
            code = ExitCode::TestsFailed;
        }
    }
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    let mut writes: Vec<(String, Vec<u8>)> = Vec::new();
    if let Some(path) = &config.json {
        writes.push((path.clone(), json.clone().into_bytes()));
    }
    if let Some(path) = &config.markdown {
        let md = dbtest_bench::render::markdown(
            &report,
            config.compare.as_deref().zip(compared.as_ref()),
        );
        writes.push((path.clone(), md.into_bytes()));
    }
    for (path, bytes) in writes {
        if let Err(e) = dbtest_report::write_atomic(Path::new(&path), &bytes) {
            out.push_str(&format!("dbtest: {e}\n"));
            code = ExitCode::Internal;
        }
    }
    if let Some(name) = &config.save {
        match dbtest_bench::save(&root, name, &report) {
            Ok(path) => out.push_str(&format!("\nsaved as {name:?} ({})\n", path.display())),
            Err(e) => {
                out.push_str(&format!("dbtest: cannot save run {name:?}: {e}\n"));
                code = ExitCode::Internal;
            }
        }
    }
    let benchmarks = report.benchmarks.len();
    out.push_str(&format!(
        "\n{benchmarks} benchmark{}, {failures} failed, in {:.1}s\n",
        if benchmarks == 1 { "" } else { "s" },
        report.duration_s
    ));
    print!("{out}");
    let _ = std::io::stdout().flush();
    (code, json)
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
