//! `dbtest unit` as the CLI drives it: settings and discovery up front (so a bad flag or path
//! fails before anything is imported), then the run on the caller's event loop.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dbtest_core::config::{find_project, DEFAULT_JOBS, DEFAULT_PATTERN};
use dbtest_core::pytest_config::{PytestConfig, PythonSettings as Settings};
use dbtest_core::{
    exit_code, exit_code_with, Error, Event, ExitCode, Overlap, OverlapMode, Report, UnitConfig,
};
use dbtest_discovery::{
    dbtest_norecurse, discover_from, expand_testpaths, relative_id, search_paths, shard_files,
    OverlapRule, Pattern, Selector, Shard,
};
use dbtest_report::console::{Console, ConsoleOptions};
use dbtest_runner::workers::{PoolOptions, WorkerSpec};
use dbtest_runner::{CancellationToken, Engine, FileError, FileJob, Observer, RunOptions};
use pyo3::prelude::*;

use crate::engine::PyEngine;
use crate::to_py_err;
use crate::worker::WorkerSetup;

struct Prepared {
    config: UnitConfig,
    root: PathBuf,
    files: Vec<FileJob>,
    selector: Selector,
    /// `--lf`: only these ids (and files, for files that failed to import).
    last_failed: Option<HashSet<String>>,
    /// `--random-order`: the seed that replays this order.
    shuffle_seed: Option<u64>,
    /// From `path::name` arguments; workers need them to select the same tests.
    id_prefixes: Vec<String>,
    /// What the Python side applies: pytest's collection names, marks, warnings, asyncio.
    python: Settings,
    /// What the user should hear before the run starts (ignored addopts options, ...).
    warnings: Vec<String>,
}

fn prepare(flags_json: &str, cwd: &Path) -> Result<Prepared, Error> {
    let flags = UnitConfig::from_flags_json(flags_json)?;
    flags.validate("command line")?;
    let project = find_project(cwd)?;
    let root = project.root;
    let pytest = project.pytest.as_ref();
    let dbtest_root = project.dbtest.is_some();
    let flag_paths = flags.paths.clone();
    // Flags over [tool.dbtest] over pytest's configuration.
    let config = flags
        .over(project.dbtest.map(|(_, c)| c).unwrap_or_default())
        .with_pytest(pytest);
    let mut warnings = pytest
        .map(PytestConfig::ignored_addopts_warnings)
        .unwrap_or_default();
    let paths = unit_search_paths(
        &root,
        cwd,
        flag_paths.as_deref(),
        config.paths.as_deref(),
        dbtest_root,
        pytest,
        &mut warnings,
    );
    let (patterns, norecurse) = walk_rules(config.pattern.as_deref(), pytest);
    let found = discover_from(cwd, &root, &paths, &patterns, &norecurse)
        .map_err(|e| Error::Usage(e.to_string()))?;
    if found.files.is_empty() {
        warnings.extend(nothing_found_hint(
            cwd, &root, &paths, &patterns, &norecurse,
        ));
    }
    let id_prefixes = found.id_prefixes;
    let python = Settings::new(pytest, &root, config.tags.clone());
    let selector = Selector::new(
        config.match_.as_deref().unwrap_or_default(),
        config.tags.as_deref(),
        id_prefixes.clone(),
    )
    .map_err(|e| Error::Usage(e.to_string()))?
    .with_keyword(python.keyword.as_deref())
    .map_err(|e| match pytest {
        Some(p) => Error::Config {
            path: p.path.clone(),
            message: e.to_string(),
        },
        None => Error::Usage(e.to_string()),
    })?;
    let mut files: Vec<FileJob> = found
        .files
        .into_iter()
        .map(|path| FileJob {
            rel: relative_id(&root, &path),
            // Decided by the overlap setting below, once the files to run are known.
            exclusive: true,
            path,
        })
        .collect();
    let durations = dbtest_core::state::durations(&root);
    if let Some(spec) = &config.shard {
        let shard: Shard = spec.parse().map_err(Error::Usage)?;
        let rels: Vec<String> = files.iter().map(|f| f.rel.clone()).collect();
        let mine = shard_files(&rels, shard, &durations);
        files = files
            .into_iter()
            .zip(mine)
            .filter(|(_, m)| *m)
            .map(|(f, _)| f)
            .collect();
    }
    // With nothing recorded as failed, --lf runs everything (as pytest does).
    let last_failed = match config.last_failed {
        Some(true) => dbtest_core::state::last_failed(&root)
            .filter(|ids| !ids.is_empty())
            .map(|ids| ids.into_iter().collect::<HashSet<String>>()),
        _ => None,
    };
    if let Some(failed) = &last_failed {
        // Only files that hold a failed test are imported at all.
        files.retain(|f| {
            failed
                .iter()
                .any(|id| id == &f.rel || id.starts_with(&format!("{}::", f.rel)))
        });
    }
    let shuffle_seed = match (config.random_order, config.seed) {
        (Some(true), Some(seed)) => Some(seed),
        (Some(true), None) => Some(fastrand::u64(..) % 1_000_000),
        _ => None,
    };
    // Read once, here, before anything is imported.
    let overlap = overlap_rule(config.overlap.as_ref())?;
    for file in &mut files {
        file.exclusive = overlap.exclusive(&file.rel, &file.path);
    }
    if let Some(seed) = shuffle_seed {
        fastrand::Rng::with_seed(seed).shuffle(&mut files);
    } else {
        // Files that overlap go longest first: a slow file that starts last would stretch
        // the run's tail. Files that run alone keep pytest's order (the walk's), after them:
        // a suite written for pytest may depend on the order its files run in.
        files.sort_by(|a, b| match (a.exclusive, b.exclusive) {
            (false, false) => {
                let (da, db) = (
                    durations.get(&a.rel).unwrap_or(&0.0),
                    durations.get(&b.rel).unwrap_or(&0.0),
                );
                db.total_cmp(da)
            }
            (x, y) => x.cmp(&y),
        });
    }
    Ok(Prepared {
        config,
        root,
        files,
        selector,
        last_failed,
        shuffle_seed,
        id_prefixes,
        python,
        warnings,
    })
}

/// Where `dbtest unit` looks. Paths on the command line, else `[tool.dbtest] paths` (relative
/// to the root wherever the user stands), as always. Else, in a project without `[tool.dbtest]`
/// started below its root, where the user stands, as pytest does (its invocation dir); the
/// root is only where ids start. Else pytest's `testpaths` (globs), else the contract's
/// default: `tests/` if it exists, else the whole project.
fn unit_search_paths(
    root: &Path,
    cwd: &Path,
    from_flags: Option<&[String]>,
    configured: Option<&[String]>,
    dbtest_root: bool,
    pytest: Option<&PytestConfig>,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let given = |p: Option<&[String]>| p.is_some_and(|p| !p.is_empty());
    if given(from_flags) || given(configured) {
        return search_paths(root, from_flags, configured, Some("tests"));
    }
    if !dbtest_root && cwd != root {
        return match pytest {
            Some(_) => vec![cwd.display().to_string()],
            // No configuration at all: the root came from pytest's fallbacks (a pyproject.toml
            // or setup.py above); look as dbtest did before it knew them.
            None => search_paths(cwd, None, None, Some("tests")),
        };
    }
    if let Some(p) = pytest.filter(|p| !p.testpaths.is_empty()) {
        let found = expand_testpaths(root, &p.testpaths);
        if !found.is_empty() {
            return search_paths(root, None, Some(&found), None);
        }
        warnings.push(format!(
            "{}: testpaths matches no folder or file; looking in the whole project, as pytest does",
            p.path.display()
        ));
        return vec![root.display().to_string()];
    }
    // The contract's default is tests/; a project that keeps tests at its top still works.
    search_paths(root, None, None, Some("tests"))
}

/// The file patterns and the folders never walked: dbtest's `pattern` if set, else pytest's
/// `python_files` (its default when a pytest configuration sets none), else `test_*.py`;
/// pytest's `norecursedirs` in a pytest project, else dbtest's own skips.
fn walk_rules(
    pattern: Option<&str>,
    pytest: Option<&PytestConfig>,
) -> (Vec<Pattern>, Vec<Pattern>) {
    let patterns = match (pattern, pytest) {
        (Some(p), _) => vec![Pattern::Glob(p.to_owned())],
        (None, Some(p)) => Pattern::fnmatch_all(&p.python_files_or_default()),
        (None, None) => vec![Pattern::Glob(DEFAULT_PATTERN.to_owned())],
    };
    let norecurse = match pytest {
        Some(p) => Pattern::fnmatch_all(&p.norecursedirs_or_default()),
        None => dbtest_norecurse(),
    };
    (patterns, norecurse)
}

/// The overlap setting (default `native`) as discovery's rule.
fn overlap_rule(setting: Option<&Overlap>) -> Result<OverlapRule, Error> {
    Ok(match setting.cloned().unwrap_or_default() {
        Overlap::Mode(OverlapMode::Native) => OverlapRule::Native,
        Overlap::Mode(OverlapMode::All) => OverlapRule::All,
        Overlap::Mode(OverlapMode::None) => OverlapRule::None,
        Overlap::Paths(globs) => OverlapRule::paths(&globs)
            .map_err(|e| Error::Usage(format!("[tool.dbtest] overlap: {e}")))?,
    })
}

/// pytest's settings for the Python side of a run (`dbtest._core.PythonSettings`): what the
/// collector, the marks and `config.getini` need. Read-only.
#[pyclass(module = "dbtest._core", frozen, get_all)]
pub struct PythonSettings {
    /// `python_classes` (pytest's default `["Test"]`).
    python_classes: Vec<String>,
    /// `python_functions` (pytest's default `["test"]`).
    python_functions: Vec<String>,
    /// Absolute folders to put on `sys.path`.
    pythonpath: Vec<String>,
    /// The registered marker names.
    markers: Vec<String>,
    strict_markers: bool,
    xfail_strict: bool,
    /// In file order, then addopts' `-W` filters.
    filterwarnings: Vec<String>,
    /// "strict" or "auto".
    asyncio_mode: String,
    /// `-p no:NAME` in addopts.
    disabled_plugins: Vec<String>,
    /// The pytest configuration file, absolute.
    ini_file: Option<String>,
    /// Every key of the configuration file as text, for `config.getini`.
    ini: std::collections::BTreeMap<String, String>,
    /// The mark expression in effect (`-m`/`-t`, `[tool.dbtest] tags`, addopts' `-m`).
    markexpr: Option<String>,
    /// pytest's `-k` expression in effect (addopts).
    keyword: Option<String>,
    rootdir: String,
}

impl From<Settings> for PythonSettings {
    fn from(s: Settings) -> Self {
        PythonSettings {
            python_classes: s.python_classes,
            python_functions: s.python_functions,
            pythonpath: s.pythonpath,
            markers: s.markers,
            strict_markers: s.strict_markers,
            xfail_strict: s.xfail_strict,
            filterwarnings: s.filterwarnings,
            asyncio_mode: s.asyncio_mode,
            disabled_plugins: s.disabled_plugins,
            ini_file: s.ini_file,
            ini: s.ini,
            markexpr: s.markexpr,
            keyword: s.keyword,
            rootdir: s.rootdir,
        }
    }
}

/// One `dbtest unit` invocation.
#[pyclass(module = "dbtest._core")]
pub struct UnitRun {
    prepared: Mutex<Option<Prepared>>,
    cancel: CancellationToken,
    abandoned: Arc<AtomicBool>,
    /// Kept beside `prepared`, which the run takes: the driver is built before it.
    python: Settings,
    warnings: Vec<String>,
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
    /// Reads settings and finds the test files; raises UsageError on bad input.
    #[new]
    fn new(flags_json: &str, cwd: PathBuf) -> PyResult<Self> {
        let prepared = prepare(flags_json, &cwd).map_err(to_py_err)?;
        Ok(UnitRun {
            python: prepared.python.clone(),
            warnings: prepared.warnings.clone(),
            prepared: Mutex::new(Some(prepared)),
            cancel: CancellationToken::new(),
            abandoned: Arc::new(AtomicBool::new(false)),
        })
    }

    /// pytest's settings for the driver (`Driver(loop, run.root, run.python_settings)`).
    #[getter]
    fn python_settings(&self) -> PythonSettings {
        self.python.clone().into()
    }

    /// Warnings to show before the run, one line each (the CLI prints them to stderr).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Ctrl-C: stop starting tests, write the partial report, exit 2.
    fn interrupt(&self) {
        self.cancel.cancel();
    }

    /// The project root: ids and configured paths are relative to it.
    #[getter]
    fn root(&self) -> PyResult<String> {
        let prepared = self.prepared.lock().unwrap();
        let p = prepared
            .as_ref()
            .ok_or_else(|| crate::DbtestError::new_err("this UnitRun has already run"))?;
        Ok(p.root.display().to_string())
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

    /// How many test files discovery found; with none, `run_without_files` finishes the run
    /// without starting Python's event loop or importing the driver.
    #[getter]
    fn file_count(&self) -> usize {
        self.prepared
            .lock()
            .unwrap()
            .as_ref()
            .map_or(0, |p| p.files.len())
    }

    /// Whether this run happens in worker processes (it then needs no driver or event loop
    /// in this process).
    #[getter]
    fn uses_workers(&self) -> bool {
        self.prepared.lock().unwrap().as_ref().is_some_and(|p| {
            p.config.workers.is_some_and(|w| w.count() > 0)
                && !p.config.collect_only.unwrap_or(false)
        })
    }

    /// Runs without a Python driver, blocking: a run that found no test files (reports and
    /// exit code 5), or one in worker processes. Ctrl-C interrupts it (exit 2, partial
    /// report); a second Ctrl-C ends the process.
    fn run_blocking(&self, py: Python<'_>) -> PyResult<i32> {
        let workers = self.uses_workers();
        let prepared = self.take_prepared()?;
        let executor = if prepared.files.is_empty() || !workers {
            if !prepared.files.is_empty() {
                return Err(crate::DbtestError::new_err(
                    "an in-process run needs a driver: use run()",
                ));
            }
            Executor::InProcess(NoFiles)
        } else {
            let python: PathBuf = py.import("sys")?.getattr("executable")?.extract()?;
            let count = prepared.config.workers.map_or(0, |w| w.count());
            Executor::Workers(
                worker_spec(&prepared, python).map_err(crate::DbtestError::new_err)?,
                count,
            )
        };
        let cancel = self.cancel.clone();
        let abandoned = self.abandoned.clone();
        let code = py.detach(|| {
            pyo3_async_runtimes::tokio::get_runtime().block_on(async {
                let interrupt = cancel.clone();
                let watcher = tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        interrupt.cancel();
                        if tokio::signal::ctrl_c().await.is_ok() {
                            std::process::exit(ExitCode::Interrupted as i32);
                        }
                    }
                });
                let code = execute(executor, prepared, cancel, &abandoned).await;
                watcher.abort();
                code
            })
        });
        Ok(code as i32)
    }

    /// Runs the tests with `driver`; must be awaited on the event loop the driver uses.
    /// Resolves to the process exit code.
    fn run<'py>(&self, py: Python<'py>, driver: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let prepared = self.take_prepared()?;
        let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
        let executor = Executor::InProcess(PyEngine::new(driver, locals, prepared.root.clone()));
        let cancel = self.cancel.clone();
        let abandoned = self.abandoned.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let code = execute(executor, prepared, cancel, &abandoned).await;
            Ok(code as i32)
        })
    }
}

/// Under GitHub Actions: annotate the first failures and add the Markdown report to the
/// job's summary, so a plain `dbtest unit` step needs no extra configuration.
fn github_actions(report: &Report) {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    print!(
        "{}",
        dbtest_report::github::annotations(report, dbtest_report::github::ANNOTATION_LIMIT)
    );
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let markdown = dbtest_report::markdown::render(report);
        if let Err(e) = dbtest_report::github::append_step_summary(Path::new(&path), &markdown) {
            eprintln!("dbtest: cannot write the GitHub step summary: {e}");
        }
    }
}

/// Writes `report` to every format asked for; false when one could not be written.
fn write_reports(
    report: &Report,
    json: Option<&str>,
    junit: Option<&str>,
    markdown: Option<&str>,
) -> bool {
    let mut ok = true;
    for (path, write) in [
        (
            json,
            dbtest_report::json::write as fn(&Report, &Path) -> std::io::Result<()>,
        ),
        (junit, dbtest_report::junit::write),
        (markdown, dbtest_report::markdown::write),
    ] {
        if let Some(path) = path {
            if let Err(e) = write(report, Path::new(path)) {
                eprintln!("dbtest: cannot write report {path}: {e}");
                ok = false;
            }
        }
    }
    ok
}

/// `dbtest report merge`: one report from the JSON reports of a run's shards.
#[pyfunction]
#[pyo3(signature = (inputs, json=None, junit_xml=None, markdown=None))]
pub fn merge_reports(
    inputs: Vec<PathBuf>,
    json: Option<String>,
    junit_xml: Option<String>,
    markdown: Option<String>,
) -> PyResult<i32> {
    let mut parts = Vec::new();
    for path in &inputs {
        let text = std::fs::read_to_string(path).map_err(|e| {
            crate::UsageError::new_err(format!("cannot read report {}: {e}", path.display()))
        })?;
        let report: Report = serde_json::from_str(&text).map_err(|e| {
            crate::UsageError::new_err(format!(
                "{} is not a dbtest.report/1 JSON report ({e}); pass the files written by `dbtest unit --json`",
                path.display()
            ))
        })?;
        parts.push(report);
    }
    let merged = Report::merge(parts);
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(project) = dbtest_core::config::find_project(&cwd) {
            remember(&project.root, &merged, false, false);
        }
    }
    let console = Console::new(ConsoleOptions::default());
    print!("{}", console.render_summary(&merged, false));
    github_actions(&merged);
    if !write_reports(
        &merged,
        json.as_deref(),
        junit_xml.as_deref(),
        markdown.as_deref(),
    ) {
        return Ok(ExitCode::Internal as i32);
    }
    Ok(exit_code(&merged.summary, false) as i32)
}

/// Leaves what failed and how long each file took for `--lf`, sharding and scheduling.
/// An interrupted run knows too little to replace what an earlier one recorded as failed.
/// A shard records no durations: every shard of a run must plan with the same ones, and a
/// shard that ran first would change them for the next. `dbtest report merge` records the
/// whole run's instead.
fn remember(root: &Path, report: &Report, interrupted: bool, sharded: bool) {
    let mut problems = Vec::new();
    if !sharded {
        let mut per_file: HashMap<String, f64> = HashMap::new();
        for t in &report.tests {
            *per_file.entry(t.file.clone()).or_default() += t.duration_s;
        }
        if let Err(e) = dbtest_core::state::save_durations(root, &per_file) {
            problems.push(e);
        }
    }
    if !interrupted {
        let failed: Vec<String> = report
            .tests
            .iter()
            .filter(|t| t.outcome.fails_run())
            .map(|t| t.id.clone())
            .collect();
        if let Err(e) = dbtest_core::state::save_last_failed(root, &failed) {
            problems.push(e);
        }
    }
    for e in problems {
        eprintln!(
            "dbtest: cannot record run state under {}: {e}",
            root.join(".dbtest").display()
        );
    }
}

/// Reads simple files' tests from their source (dbtest_discovery::static_tests) so that a
/// file is imported only when one of its tests will run: `--collect-only` and filters on
/// large trees import little or nothing. Everything else goes to the real engine.
struct StaticFirst<E> {
    inner: E,
    collect_only: bool,
    select: Arc<dyn Fn(&dbtest_core::TestCase) -> bool + Send + Sync>,
    /// The source reader knows pytest's default naming rules only.
    enabled: bool,
}

/// Why a walk found no test file, when files that hold tests are there but no pattern matches
/// them (a suite of `*_tests.py` files, unittest modules named `checks.py`, ...).
fn nothing_found_hint(
    cwd: &Path,
    root: &Path,
    paths: &[String],
    patterns: &[Pattern],
    norecurse: &[Pattern],
) -> Option<String> {
    let left_out = dbtest_discovery::unmatched_test_files(cwd, root, paths, norecurse);
    if left_out.is_empty() {
        return None;
    }
    let shown: Vec<String> = left_out
        .iter()
        .take(3)
        .map(|p| relative_id(root, p))
        .collect();
    let names: Vec<&str> = patterns
        .iter()
        .map(|p| match p {
            Pattern::Glob(g) | Pattern::Fnmatch(g) => g.as_str(),
        })
        .collect();
    Some(format!(
        "no file name matches the test file patterns ({}), but {} file(s) hold tests: {}{}; \
         rename them, or set python_files in the pytest configuration (or --pattern)",
        names.join(" "),
        left_out.len(),
        shown.join(", "),
        if left_out.len() > shown.len() {
            ", ..."
        } else {
            ""
        },
    ))
}

/// Whether reading tests from source gives what collection would: not when the project's
/// pytest configuration names tests its own way.
fn static_reading_holds(python: &Settings) -> bool {
    use dbtest_core::pytest_config::{DEFAULT_PYTHON_CLASSES, DEFAULT_PYTHON_FUNCTIONS};
    python.python_classes == DEFAULT_PYTHON_CLASSES
        && python.python_functions == DEFAULT_PYTHON_FUNCTIONS
}

fn static_cases(file: &FileJob) -> Option<Vec<dbtest_core::TestCase>> {
    let source = std::fs::read_to_string(&file.path).ok()?;
    let tests = dbtest_discovery::static_tests(&source)?;
    Some(
        tests
            .into_iter()
            .map(|t| dbtest_core::TestCase {
                id: dbtest_core::test_id(&file.rel, t.suite.as_deref(), &t.name, None),
                file: file.rel.clone(),
                line: t.line,
                name: t.name,
                suite: t.suite,
                params: None,
                tags: t.tags,
                skip: None,
                xfail: None,
                timeout_s: None,
                is_async: false,
                concurrent: false,
                retries: None,
                serial: None,
                exclusive: false,
                key: u64::MAX,
            })
            .collect(),
    )
}

impl<E: Engine> Engine for StaticFirst<E> {
    async fn collect(&self, file: FileJob) -> Result<Vec<dbtest_core::TestCase>, FileError> {
        if let Some(cases) = self.enabled.then(|| static_cases(&file)).flatten() {
            if self.collect_only || !cases.iter().any(|c| (self.select)(c)) {
                return Ok(cases);
            }
        }
        self.inner.collect(file).await
    }
    async fn run(
        &self,
        case: dbtest_core::TestCase,
        timeout: Option<Duration>,
    ) -> dbtest_core::RawResult {
        self.inner.run(case, timeout).await
    }
    async fn run_pipeline(&self, pipeline: dbtest_runner::Pipeline) {
        self.inner.run_pipeline(pipeline).await
    }
    async fn partial_output(&self, case: &dbtest_core::TestCase) -> (String, String) {
        self.inner.partial_output(case).await
    }
    fn forget_file(&self, file: &FileJob) {
        self.inner.forget_file(file)
    }
    async fn finish_file(&self, file: FileJob) -> Vec<dbtest_core::TestResult> {
        self.inner.finish_file(file).await
    }
    async fn finish_session(&self) -> Vec<dbtest_core::TestResult> {
        self.inner.finish_session().await
    }
}

/// The engine of a run that found no test files: nothing to import, so no Python driver.
struct NoFiles;

impl Engine for NoFiles {
    async fn collect(&self, _: FileJob) -> Result<Vec<dbtest_core::TestCase>, FileError> {
        Ok(Vec::new())
    }
    async fn run(&self, _: dbtest_core::TestCase, _: Option<Duration>) -> dbtest_core::RawResult {
        unreachable!("a run without files runs no test")
    }
    async fn finish_file(&self, _: FileJob) -> Vec<dbtest_core::TestResult> {
        Vec::new()
    }
    async fn finish_session(&self) -> Vec<dbtest_core::TestResult> {
        Vec::new()
    }
}

/// Where the tests run: in this process, or in worker processes.
enum Executor<E> {
    InProcess(E),
    Workers(WorkerSpec, usize),
}

/// Whether `case` runs: it matches the filters and, under `--lf`, failed last time (or its
/// file could not be collected last time).
pub(crate) fn selected(
    selector: &Selector,
    last_failed: Option<&HashSet<String>>,
    case: &dbtest_core::TestCase,
) -> bool {
    selector.matches(&case.id, &case.tags)
        && last_failed.is_none_or(|ids| ids.contains(&case.id) || ids.contains(&case.file))
}

/// The runner's options from the settings; `select` decides which collected tests run.
pub(crate) fn run_options(
    config: &UnitConfig,
    shuffle_seed: Option<u64>,
    select: impl Fn(&dbtest_core::TestCase) -> bool + Send + Sync + 'static,
) -> RunOptions {
    RunOptions {
        jobs: config.jobs.unwrap_or(DEFAULT_JOBS) as usize,
        timeout: config.timeout.map(Duration::from_secs_f64),
        stop_after: config.stop_after(),
        retries: config.retries.unwrap_or(0),
        collect_only: config.collect_only.unwrap_or(false),
        finish_session: true,
        shuffle_seed,
        collect_timeout: config.collect_limit().map(Duration::from_secs_f64),
        serial_locks: None,
        select: Arc::new(select),
    }
}

/// How to start this run's worker processes: this Python, `-m dbtest._worker`, and the run's
/// settings in the environment.
fn worker_spec(prepared: &Prepared, python: PathBuf) -> Result<WorkerSpec, String> {
    let setup = WorkerSetup {
        config: prepared.config.clone(),
        root: prepared.root.clone(),
        id_prefixes: prepared.id_prefixes.clone(),
        last_failed: prepared
            .last_failed
            .as_ref()
            .map(|ids| ids.iter().cloned().collect()),
        shuffle_seed: prepared.shuffle_seed,
        python: prepared.python.clone(),
    };
    Ok(WorkerSpec {
        program: python,
        args: vec!["-m".into(), "dbtest._worker".into()],
        env: vec![(
            "DBTEST_WORKER_SETUP".into(),
            serde_json::to_string(&setup).map_err(|e| e.to_string())?,
        )],
        cwd: std::env::current_dir().map_err(|e| e.to_string())?,
    })
}

async fn execute(
    executor: Executor<impl Engine>,
    prepared: Prepared,
    cancel: CancellationToken,
    abandoned: &AtomicBool,
) -> ExitCode {
    let Prepared {
        config,
        root,
        files,
        selector,
        last_failed,
        shuffle_seed,
        python,
        ..
    } = prepared;
    if let Some(seed) = shuffle_seed {
        println!("random order: replay it with --random-order --seed {seed}");
    }
    let collect_only = config.collect_only.unwrap_or(false);
    let console = Arc::new(Mutex::new(Console::new(ConsoleOptions {
        color: config.color.unwrap_or_default(),
        verbosity: config.verbosity.unwrap_or(0),
        durations: config.durations,
        progress: if collect_only { Some(false) } else { None },
    })));
    let sink = console.clone();
    let observer: Observer = Arc::new(Mutex::new(move |e: &Event| sink.lock().unwrap().handle(e)));
    let select =
        move |case: &dbtest_core::TestCase| selected(&selector, last_failed.as_ref(), case);
    let opts = run_options(&config, shuffle_seed, select);
    // Keeps the elapsed time on the progress line moving while a long test runs.
    let ticker = console.lock().unwrap().progress_enabled().then(|| {
        let console = console.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                console.lock().unwrap().tick();
            }
        })
    });
    let started_at = jiff::Timestamp::now();
    let out = match executor {
        Executor::InProcess(engine) => {
            let engine = StaticFirst {
                inner: engine,
                collect_only: opts.collect_only,
                select: opts.select.clone(),
                enabled: static_reading_holds(&python),
            };
            dbtest_runner::run(engine, files, opts, observer, cancel).await
        }
        Executor::Workers(spec, workers) => {
            let pool = PoolOptions {
                workers,
                stop_after: opts.stop_after,
                collect_timeout: opts.collect_timeout,
                ..PoolOptions::default()
            };
            dbtest_runner::workers::run_pool(spec, files, pool, observer, cancel).await
        }
    };
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    abandoned.store(out.abandoned, Ordering::SeqCst);
    let mut console = console.lock().unwrap();
    if collect_only {
        print!("{}", console.render_collect_only(&out.selected));
        // Files that failed to import during collection are shown, and fail the listing.
        let report = Report::new("unit", started_at, out.duration.as_secs_f64(), out.results);
        if report.summary.total > 0 {
            console.finish(&report, out.interrupted);
            return ExitCode::TestsFailed;
        }
        return if out.selected.is_empty() {
            ExitCode::NoTests
        } else {
            ExitCode::Ok
        };
    }
    let report = Report::new("unit", started_at, out.duration.as_secs_f64(), out.results);
    remember(&root, &report, out.interrupted, config.shard.is_some());
    let written = write_reports(
        &report,
        config.json.as_deref(),
        config.junit_xml.as_deref(),
        config.markdown.as_deref(),
    );
    console.finish(&report, out.interrupted);
    github_actions(&report);
    match exit_code_with(
        &report.summary,
        out.interrupted,
        config.inconclusive_ok.unwrap_or(false),
    ) {
        ExitCode::Ok | ExitCode::NoTests if !written => ExitCode::Internal,
        code => code,
    }
}
