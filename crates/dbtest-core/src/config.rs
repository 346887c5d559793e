//! `[tool.dbtest]` in pyproject.toml and the command-line flags, merged with flags winning;
//! pytest's own configuration (see [`crate::pytest_config`]) under both.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::coverage::CoverageArgs;
use crate::error::{Error, Result};
use crate::pytest_config::PytestConfig;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// The settings of `dbtest unit`. The same struct reads `[tool.dbtest]` and the flags the
/// CLI passed, so a key means one thing in both places. `None` means "not set here".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitConfig {
    pub paths: Option<Vec<String>>,
    pub pattern: Option<String>,
    #[serde(rename = "match")]
    pub match_: Option<Vec<String>>,
    pub tags: Option<String>,
    pub jobs: Option<u32>,
    /// Worker processes: a number (0 = in-process) or "auto" (one per core).
    pub workers: Option<Workers>,
    pub timeout: Option<f64>,
    /// Seconds a file's import may take before it is reported as an error and the run goes
    /// on without it; 0: no limit. See [`UnitConfig::collect_limit`].
    #[serde(alias = "collect-timeout")]
    pub collect_timeout: Option<f64>,
    pub exitfirst: Option<bool>,
    pub maxfail: Option<u32>,
    #[serde(alias = "last-failed")]
    pub last_failed: Option<bool>,
    pub retries: Option<u32>,
    /// `K/N`: run the K-th of N shards.
    pub shard: Option<String>,
    #[serde(alias = "random-order")]
    pub random_order: Option<bool>,
    pub seed: Option<u64>,
    pub verbosity: Option<i8>,
    pub color: Option<ColorChoice>,
    pub durations: Option<u32>,
    pub json: Option<String>,
    #[serde(alias = "junit-xml")]
    pub junit_xml: Option<String>,
    pub markdown: Option<String>,
    #[serde(alias = "inconclusive-ok")]
    pub inconclusive_ok: Option<bool>,
    /// Command-line only: list the test ids and stop.
    #[serde(alias = "collect-only")]
    pub collect_only: Option<bool>,
    /// Which files' tests may run beside each other in one process (DESIGN section 2).
    pub overlap: Option<Overlap>,
    /// pytest-cov's options (DESIGN section 4d); see [`UnitConfig::coverage_args`].
    pub cov: Option<Vec<String>>,
    #[serde(alias = "cov-report")]
    pub cov_report: Option<Vec<String>>,
    #[serde(alias = "cov-branch")]
    pub cov_branch: Option<bool>,
    #[serde(alias = "cov-fail-under")]
    pub cov_fail_under: Option<f64>,
    #[serde(alias = "cov-config")]
    pub cov_config: Option<String>,
    #[serde(alias = "cov-context")]
    pub cov_context: Option<String>,
    #[serde(alias = "cov-append")]
    pub cov_append: Option<bool>,
    #[serde(alias = "no-cov")]
    pub no_cov: Option<bool>,
    /// pytest's `--doctest-modules`: also run the doctests of every `.py` file walked.
    #[serde(alias = "doctest-modules")]
    pub doctest_modules: Option<bool>,
    /// pytest's `--doctest-glob`: the text files whose doctests run (default `test*.txt`).
    #[serde(alias = "doctest-glob")]
    pub doctest_glob: Option<Vec<String>>,
    /// `-s` / `--capture=no|sys|fd|tee-sys`: pytest's capture modes (DESIGN section 4f).
    pub capture: Option<CaptureMode>,
    /// `--pdb`: a post-mortem debugger at the first failure or error.
    pub pdb: Option<bool>,
    /// `--trace`: a debugger at the start of each test.
    pub trace: Option<bool>,
    /// `--tb=STYLE`: how a failure's traceback is shown.
    pub tb: Option<TbStyle>,
    /// `-l`: a failure shows the local variables of each frame.
    pub showlocals: Option<bool>,
    /// `[tool.dbtest.bench]`: the settings of `dbtest bench`.
    pub bench: Option<BenchConfig>,
    /// `[tool.dbtest.experiment]`: where `dbtest experiment` finds use cases and keeps specs
    /// and runs.
    pub experiment: Option<ExperimentConfig>,
}

/// The settings of `dbtest experiment` (`[tool.dbtest.experiment]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Folders (or files) holding use cases; default: the project root.
    pub paths: Option<Vec<String>>,
    /// Use-case file pattern; default `usecase_*.py`.
    pub pattern: Option<String>,
    /// Where approved specs live, relative to the project root; default `specs`.
    #[serde(alias = "specs-dir")]
    pub specs_dir: Option<String>,
    /// Where runs are written, relative to the project root; default `experiments`.
    pub out: Option<String>,
    /// A YAML file of `models:` that designs share, relative to the project root.
    pub models: Option<String>,
}

pub const DEFAULT_USECASE_PATTERN: &str = "usecase_*.py";
pub const DEFAULT_SPECS_DIR: &str = "specs";
pub const DEFAULT_EXPERIMENTS_DIR: &str = "experiments";

/// The settings of `dbtest bench` (`[tool.dbtest.bench]` and the flags).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    pub paths: Option<Vec<String>>,
    pub pattern: Option<String>,
    #[serde(rename = "match")]
    pub match_: Option<Vec<String>>,
    pub warmup: Option<u32>,
    #[serde(alias = "min-rounds")]
    pub min_rounds: Option<u32>,
    #[serde(alias = "max-time")]
    pub max_time: Option<f64>,
    #[serde(alias = "min-round-time")]
    pub min_round_time: Option<f64>,
    #[serde(alias = "disable-gc")]
    pub disable_gc: Option<bool>,
    pub save: Option<String>,
    pub compare: Option<String>,
    #[serde(alias = "fail-on-regression")]
    pub fail_on_regression: Option<f64>,
    pub json: Option<String>,
    pub markdown: Option<String>,
    pub plot: Option<String>,
    pub color: Option<ColorChoice>,
}

pub const DEFAULT_BENCH_PATTERN: &str = "bench_*.py";

impl BenchConfig {
    pub fn over(self, file: BenchConfig) -> BenchConfig {
        macro_rules! pick {
            ($($f:ident),*) => { BenchConfig { $($f: self.$f.or(file.$f)),* } };
        }
        pick!(
            paths,
            pattern,
            match_,
            warmup,
            min_rounds,
            max_time,
            min_round_time,
            disable_gc,
            save,
            compare,
            fail_on_regression,
            json,
            markdown,
            plot,
            color
        )
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Usage(format!("{origin}: `{key}` {why}")));
        for (key, value) in [
            ("max_time", self.max_time),
            ("min_round_time", self.min_round_time),
        ] {
            if value.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                return bad(key, "must be a positive number of seconds");
            }
        }
        if self.min_rounds == Some(0) {
            return bad("min_rounds", "must be at least 1");
        }
        if self
            .fail_on_regression
            .is_some_and(|v| !(v.is_finite() && v >= 0.0))
        {
            return bad(
                "fail_on_regression",
                "must be a percentage of 0 or more, e.g. 5",
            );
        }
        if self.fail_on_regression.is_some() && self.compare.is_none() {
            return bad(
                "fail_on_regression",
                "needs --compare NAME: the saved run to compare with",
            );
        }
        Ok(())
    }
}

/// pytest's `--capture` modes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureMode {
    /// Nothing captured: a test's output reaches the terminal as it is written (`-s`).
    No,
    /// `sys.stdout` / `sys.stderr` only.
    Sys,
    /// Also file descriptors 1 and 2 (for tests that run alone).
    #[default]
    Fd,
    /// Captured, and also shown as it is written.
    TeeSys,
}

impl CaptureMode {
    /// `--capture`'s value as pytest spells it.
    pub fn parse(value: &str) -> Option<CaptureMode> {
        serde_json::from_value(serde_json::Value::String(value.to_owned())).ok()
    }
}

/// pytest's `--tb` styles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TbStyle {
    #[default]
    Auto,
    Long,
    Short,
    Line,
    Native,
    No,
}

impl TbStyle {
    pub fn parse(value: &str) -> Option<TbStyle> {
        serde_json::from_value(serde_json::Value::String(value.to_owned())).ok()
    }
}

/// How a run captures output, opens debuggers and shows failures (DESIGN section 4f), for the
/// Python side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebugSettings {
    pub capture: CaptureMode,
    pub pdb: bool,
    pub trace: bool,
    pub tb: TbStyle,
    pub showlocals: bool,
}

impl DebugSettings {
    /// A debugger that opens at every test or failure talks to one test at a time, in this
    /// process (a worker has no terminal): tests never overlap and workers are not used.
    pub fn one_at_a_time(&self) -> bool {
        self.pdb || self.trace
    }

    /// A test's output written straight to the terminal would be torn by a live line redrawn
    /// over it: with `-s` (and tee-sys) there is none.
    pub fn live_display(&self) -> bool {
        matches!(self.capture, CaptureMode::Fd | CaptureMode::Sys)
    }

    /// What the user hears when these settings meet `--workers`: a worker has no terminal.
    pub fn with_workers(&self) -> Option<String> {
        if self.one_at_a_time() {
            Some(
                "--pdb and --trace open a debugger on this terminal: the tests run in this \
                 process, one at a time (--workers is not used)"
                    .to_owned(),
            )
        } else if self.capture != CaptureMode::Fd && self.capture != CaptureMode::Sys {
            Some(
                "-s / --capture=no|tee-sys: a worker has no terminal, so a test's output is \
                 captured and reported, not shown as it is written (use --workers 0 to see it)"
                    .to_owned(),
            )
        } else {
            None
        }
    }
}

/// `--overlap native|all|none`, or in `[tool.dbtest]` also a list of path globs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Overlap {
    Mode(OverlapMode),
    /// Files whose root-relative path (or a folder of it) matches one of these globs may
    /// overlap; the others run one test at a time.
    Paths(Vec<String>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverlapMode {
    /// Files written for dbtest (they import it) may overlap; pytest and unittest files, which
    /// were never written to share a process with other tests, do not.
    #[default]
    Native,
    All,
    None,
}

impl Default for Overlap {
    fn default() -> Self {
        Overlap::Mode(OverlapMode::Native)
    }
}

// By hand, so that a wrong value says what the right ones are (an untagged enum only says
// that no variant matched).
impl<'de> Deserialize<'de> for Overlap {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        const EXPECTED: &str = "\"native\", \"all\", \"none\" or a list of path globs";
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Overlap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(EXPECTED)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Overlap, E> {
                match v {
                    "native" => Ok(Overlap::Mode(OverlapMode::Native)),
                    "all" => Ok(Overlap::Mode(OverlapMode::All)),
                    "none" => Ok(Overlap::Mode(OverlapMode::None)),
                    other => Err(E::custom(format!(
                        "unknown overlap \"{other}\"; use {EXPECTED}"
                    ))),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Overlap, A::Error> {
                let mut globs = Vec::new();
                while let Some(glob) = seq.next_element::<String>()? {
                    globs.push(glob);
                }
                Ok(Overlap::Paths(globs))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `--workers N|auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Workers {
    Count(u32),
    Auto(AutoWord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoWord {
    Auto,
}

impl Workers {
    /// How many worker processes to start; 0 runs in-process.
    pub fn count(self) -> usize {
        match self {
            Workers::Count(n) => n as usize,
            Workers::Auto(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The part of pyproject.toml dbtest reads.
#[derive(Debug, Default, Deserialize)]
struct PyProject {
    tool: Option<Tool>,
}

#[derive(Debug, Default, Deserialize)]
struct Tool {
    dbtest: Option<UnitConfig>,
}

pub const DEFAULT_PATTERN: &str = "test_*.py";
pub const DEFAULT_JOBS: u32 = 32;
/// Generous for an import that loads a large stack (a machine learning framework on a slow
/// CI runner takes tens of seconds), and still ends a hung run long before a CI job's limit.
pub const DEFAULT_COLLECT_TIMEOUT: f64 = 120.0;

impl UnitConfig {
    /// `[tool.dbtest]` of the pyproject.toml at `path`; `Ok(None)` when it has no such table.
    pub fn from_pyproject(path: &Path) -> Result<Option<UnitConfig>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if let Err(e) = toml::from_str::<toml::Table>(&text) {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: format!(
                    "is not valid TOML; fix the syntax: {}",
                    e.to_string().trim_end()
                ),
            });
        }
        let doc: PyProject = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!(
                "invalid [tool.dbtest] settings: {}",
                e.to_string().trim_end()
            ),
        })?;
        Ok(doc.tool.and_then(|t| t.dbtest))
    }

    /// Flags as JSON (the CLI's encoding); keys are those of `[tool.dbtest]`.
    pub fn from_flags_json(json: &str) -> Result<UnitConfig> {
        serde_json::from_str(json).map_err(|e| Error::Usage(format!("invalid option: {e}")))
    }

    /// `self` (the flags) over `file` (pyproject.toml).
    pub fn over(self, file: UnitConfig) -> UnitConfig {
        macro_rules! pick {
            ($($f:ident),*) => { UnitConfig { $($f: self.$f.or(file.$f)),* } };
        }
        pick!(
            paths,
            pattern,
            match_,
            tags,
            jobs,
            workers,
            timeout,
            collect_timeout,
            exitfirst,
            maxfail,
            last_failed,
            retries,
            shard,
            random_order,
            seed,
            verbosity,
            color,
            durations,
            json,
            junit_xml,
            markdown,
            inconclusive_ok,
            collect_only,
            cov,
            cov_report,
            cov_branch,
            cov_fail_under,
            cov_config,
            cov_context,
            cov_append,
            no_cov,
            capture,
            pdb,
            trace,
            tb,
            showlocals,
            overlap,
            doctest_modules,
            doctest_glob,
            bench,
            experiment
        )
    }

    /// Fills in what pytest's configuration says where neither the flags nor `[tool.dbtest]`
    /// (already merged into `self`) speak: addopts' `-m` as the tag expression (pytest's
    /// custom marks are tags), its `-x` / `--maxfail` and `--junitxml`. Paths and file patterns are
    /// resolved by discovery, which knows how pytest spells them.
    pub fn with_pytest(mut self, pytest: Option<&PytestConfig>) -> UnitConfig {
        let Some(pytest) = pytest else {
            return self;
        };
        if self.tags.is_none() {
            self.tags.clone_from(&pytest.addopts.markexpr);
        }
        if self.exitfirst.is_none() && self.maxfail.is_none() {
            self.maxfail = pytest.addopts.maxfail;
        }
        // Plugins the engine serves (DESIGN 4c): pytest-xdist's `-n`, pytest-timeout's
        // `--timeout` and `timeout` setting (0: none), pytest-rerunfailures' `--reruns`.
        if self.workers.is_none() {
            self.workers = pytest.addopts.numprocesses.map(|n| match n {
                Some(count) => Workers::Count(count),
                None => Workers::Auto(AutoWord::Auto),
            });
        }
        if self.timeout.is_none() {
            let setting = pytest
                .ini
                .get("timeout")
                .and_then(|t| t.trim().parse::<f64>().ok());
            self.timeout = pytest.addopts.timeout.or(setting).filter(|t| *t > 0.0);
        }
        if self.retries.is_none() {
            self.retries = pytest.addopts.reruns;
        }
        if self.junit_xml.is_none() {
            self.junit_xml.clone_from(&pytest.addopts.junitxml);
        }
        // pytest adds the command line's words to addopts': a flag set in either is set, and
        // the globs of both apply.
        if pytest.addopts.doctest_modules {
            self.doctest_modules = Some(true);
        }
        if !pytest.addopts.doctest_globs.is_empty() {
            let mut globs = pytest.addopts.doctest_globs.clone();
            globs.extend(self.doctest_glob.take().unwrap_or_default());
            self.doctest_glob = Some(globs);
        }
        let debug = &pytest.addopts.debug;
        self.capture = self.capture.or(debug.capture);
        self.pdb = self.pdb.or(debug.pdb.then_some(true));
        self.trace = self.trace.or(debug.trace.then_some(true));
        self.tb = self.tb.or(debug.tb);
        self.showlocals = self.showlocals.or(debug.showlocals);
        self
    }

    /// What the Python side needs to know of capture and debuggers.
    pub fn debug_settings(&self) -> DebugSettings {
        DebugSettings {
            capture: self.capture.unwrap_or_default(),
            pdb: self.pdb.unwrap_or(false),
            trace: self.trace.unwrap_or(false),
            tb: self.tb.unwrap_or_default(),
            showlocals: self.showlocals.unwrap_or(false),
        }
    }

    /// The coverage options given here (flags or `[tool.dbtest]`).
    pub fn coverage_args(&self) -> CoverageArgs {
        CoverageArgs {
            cov: self.cov.clone(),
            cov_report: self.cov_report.clone(),
            cov_branch: self.cov_branch,
            cov_fail_under: self.cov_fail_under,
            cov_config: self.cov_config.clone(),
            cov_context: self.cov_context.clone(),
            cov_append: self.cov_append,
            no_cov: self.no_cov,
        }
    }

    /// Checks values that the types alone allow but that make no sense.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Usage(format!("{origin}: `{key}` {why}")));
        if self.jobs == Some(0) {
            return bad("jobs", "must be at least 1");
        }
        if let Some(t) = self.timeout {
            if !(t.is_finite() && t > 0.0) {
                return bad("timeout", "must be a positive number of seconds");
            }
        }
        if let Some(t) = self.collect_timeout {
            if !(t.is_finite() && t >= 0.0) {
                return bad(
                    "collect_timeout",
                    "must be a number of seconds (0 for no limit)",
                );
            }
        }
        if self.maxfail == Some(0) {
            return bad(
                "maxfail",
                "must be at least 1 (leave it out to never stop early)",
            );
        }
        if let Some(p) = &self.pattern {
            if p.trim().is_empty() {
                return bad("pattern", "must not be empty (the default is test_*.py)");
            }
        }
        if let Some(Overlap::Paths(globs)) = &self.overlap {
            if globs.iter().any(|g| g.trim().is_empty()) {
                return bad(
                    "overlap",
                    "holds an empty glob; list path globs such as \"tests/async/**\", or use \"native\", \"all\" or \"none\"",
                );
            }
        }
        if let Some(bench) = &self.bench {
            bench.validate(&format!("{origin} [bench]"))?;
        }
        Ok(())
    }

    /// How long a file's collection may take, if it is limited: the setting, else
    /// [`DEFAULT_COLLECT_TIMEOUT`].
    pub fn collect_limit(&self) -> Option<f64> {
        let limit = self.collect_timeout.unwrap_or(DEFAULT_COLLECT_TIMEOUT);
        (limit > 0.0).then_some(limit)
    }

    /// How many failing tests stop the run, if any.
    pub fn stop_after(&self) -> Option<u32> {
        match (self.exitfirst, self.maxfail) {
            (Some(true), _) => Some(1),
            (_, m) => m,
        }
    }
}

/// Where a project lives and what configures it.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// Ids and configured paths are relative to it: pytest's rootdir, so that ids equal
    /// pytest's node ids.
    pub root: PathBuf,
    /// `[tool.dbtest]` and the pyproject.toml holding it, if it is in `root`.
    pub dbtest: Option<(PathBuf, UnitConfig)>,
    /// pytest's configuration in `root`, if any.
    pub pytest: Option<PytestConfig>,
}

/// Finds the project of `start` (an absolute folder): the first folder, from `start` up, that
/// holds a pyproject.toml with `[tool.dbtest]` or a pytest configuration file (pytest.ini,
/// pyproject.toml with `[tool.pytest...]`, tox.ini `[pytest]`, setup.cfg `[tool:pytest]`;
/// [`crate::pytest_config::CONFIG_FILES`]). Without one, pytest's fallbacks for its rootdir:
/// the first folder with a pyproject.toml, else with a setup.py, else `start`.
pub fn find_project(start: &Path) -> Result<Project> {
    let mut first_pyproject = None;
    for dir in start.ancestors() {
        let candidate = dir.join("pyproject.toml");
        let mut dbtest = None;
        if candidate.is_file() {
            first_pyproject.get_or_insert(dir);
            if let Some(cfg) = UnitConfig::from_pyproject(&candidate)? {
                cfg.validate(&format!("{} [tool.dbtest]", candidate.display()))?;
                dbtest = Some((candidate, cfg));
            }
        }
        let pytest = PytestConfig::find_in(dir)?;
        if dbtest.is_some() || pytest.is_some() {
            return Ok(Project {
                root: dir.to_path_buf(),
                dbtest,
                pytest,
            });
        }
    }
    let root = first_pyproject
        .or_else(|| start.ancestors().find(|d| d.join("setup.py").is_file()))
        .unwrap_or(start);
    Ok(Project {
        root: root.to_path_buf(),
        dbtest: None,
        pytest: None,
    })
}

/// The root of `dbtest bench` and `dbtest experiment`: the first folder from `start` up with
/// a pyproject.toml holding `[tool.dbtest]`, else `start`. They keep their runs and specs
/// there, and a pytest configuration says nothing about them, so pytest's rootdir rules
/// (which can put the root above a benchmark project that has no configuration of its own)
/// do not apply.
pub fn find_dbtest_project(start: &Path) -> Result<(PathBuf, Option<(PathBuf, UnitConfig)>)> {
    for dir in start.ancestors() {
        let candidate = dir.join("pyproject.toml");
        if candidate.is_file() {
            if let Some(cfg) = UnitConfig::from_pyproject(&candidate)? {
                cfg.validate(&format!("{} [tool.dbtest]", candidate.display()))?;
                return Ok((dir.to_path_buf(), Some((candidate, cfg))));
            }
        }
    }
    Ok((start.to_path_buf(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debuggers_run_one_test_at_a_time_and_s_has_no_live_line() {
        let flags: UnitConfig =
            serde_json::from_value(serde_json::json!({"pdb": true, "capture": "no"})).unwrap();
        let debug = flags.debug_settings();
        assert!(debug.one_at_a_time() && !debug.live_display());
        assert_eq!(debug.capture, CaptureMode::No);
        let plain = UnitConfig::default().debug_settings();
        assert!(!plain.one_at_a_time() && plain.live_display());
        assert_eq!(plain.capture, CaptureMode::Fd);
        let trace = UnitConfig {
            trace: Some(true),
            capture: Some(CaptureMode::TeeSys),
            ..UnitConfig::default()
        };
        assert!(trace.debug_settings().one_at_a_time() && !trace.debug_settings().live_display());
        assert!(trace
            .debug_settings()
            .with_workers()
            .unwrap()
            .contains("--workers is not used"));
        assert!(debug.with_workers().is_some() && plain.with_workers().is_none());
        let s = DebugSettings {
            capture: CaptureMode::No,
            ..DebugSettings::default()
        };
        assert!(s
            .with_workers()
            .unwrap()
            .contains("a worker has no terminal"));
        assert_eq!(CaptureMode::parse("tee-sys"), Some(CaptureMode::TeeSys));
        assert_eq!(CaptureMode::parse("everything"), None);
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join("pyproject.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_tool_table_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "[project]\nname='x'\n[tool.dbtest]\npaths=['t']\njobs=4\njunit-xml='j.xml'\n",
        );
        let project = find_project(&dir.path().join("sub")).unwrap();
        assert_eq!(project.root, dir.path());
        assert_eq!(project.pytest, None);
        let (_, file) = project.dbtest.unwrap();
        assert_eq!(file.jobs, Some(4));
        assert_eq!(file.junit_xml.as_deref(), Some("j.xml"));
        let flags = UnitConfig::from_flags_json(r#"{"jobs": 2, "match": ["*a*"]}"#).unwrap();
        let merged = flags.over(file);
        assert_eq!(merged.jobs, Some(2));
        assert_eq!(merged.paths, Some(vec!["t".to_string()]));
        assert_eq!(merged.match_, Some(vec!["*a*".to_string()]));
    }

    #[test]
    fn unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "[tool.dbtest]\njbos = 3\n");
        let err = UnitConfig::from_pyproject(&p).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("jbos"), "{msg}");
        assert!(msg.contains("pyproject.toml"), "{msg}");
        assert_eq!(err.exit_code(), 4);
    }

    #[test]
    fn bad_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "[tool.dbtest]\njobs = 0\n");
        let msg = find_project(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("`jobs` must be at least 1"), "{msg}");
        write(dir.path(), "[tool.dbtest]\njobs = 'many'\n");
        let msg = find_project(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("jobs"), "{msg}");
    }

    #[test]
    fn workers_are_a_number_or_auto() {
        let c = UnitConfig::from_flags_json(r#"{"workers": "auto"}"#).unwrap();
        assert!(c.workers.unwrap().count() >= 1);
        let c = UnitConfig::from_flags_json(r#"{"workers": 3}"#).unwrap();
        assert_eq!(c.workers.unwrap().count(), 3);
        assert!(UnitConfig::from_flags_json(r#"{"workers": "many"}"#).is_err());
    }

    #[test]
    fn a_pytest_configuration_makes_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        write(top, "[tool.dbtest]\njobs = 3\n");
        let inner = top.join("inner");
        std::fs::create_dir_all(inner.join("tests")).unwrap();
        std::fs::write(inner.join("tox.ini"), "[pytest]\naddopts = -m slow\n").unwrap();
        // The nearer folder wins, whichever kind of file it holds.
        let project = find_project(&inner.join("tests")).unwrap();
        assert_eq!(project.root, inner);
        assert_eq!(project.dbtest, None);
        assert_eq!(project.pytest.unwrap().path, inner.join("tox.ini"));
        // A tox.ini without [pytest] is not a configuration: the walk goes on.
        std::fs::write(inner.join("tox.ini"), "[tox]\n").unwrap();
        let project = find_project(&inner).unwrap();
        assert_eq!(project.root, top);
        assert_eq!(project.dbtest.unwrap().1.jobs, Some(3));
        // Both in one folder: both are read.
        std::fs::write(top.join("pytest.ini"), "[pytest]\ntestpaths = t\n").unwrap();
        let project = find_project(&inner).unwrap();
        assert_eq!(project.root, top);
        assert!(project.dbtest.is_some());
        assert_eq!(project.pytest.unwrap().testpaths, ["t"]);
    }

    #[test]
    fn without_configuration_the_root_is_pytests_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        let deep = top.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_project(&deep).unwrap().root, deep);
        std::fs::write(top.join("setup.py"), "").unwrap();
        assert_eq!(find_project(&deep).unwrap().root, top);
        // A plain pyproject.toml comes before a setup.py, even above it.
        std::fs::write(top.join("a/pyproject.toml"), "[project]\nname = 'x'\n").unwrap();
        let project = find_project(&deep).unwrap();
        assert_eq!(project.root, top.join("a"));
        assert_eq!((project.dbtest, project.pytest), (None, None));
    }

    #[test]
    fn bench_and_experiment_keep_the_dbtest_root() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        std::fs::write(top.join("pytest.ini"), "[pytest]\n").unwrap();
        let inner = top.join("examples/bench");
        std::fs::create_dir_all(&inner).unwrap();
        assert_eq!(find_project(&inner).unwrap().root, top);
        assert_eq!(find_dbtest_project(&inner).unwrap(), (inner.clone(), None));
        write(top, "[tool.dbtest]\njobs = 2\n");
        let (root, found) = find_dbtest_project(&inner).unwrap();
        assert_eq!(root, top);
        assert_eq!(found.unwrap().1.jobs, Some(2));
    }

    #[test]
    fn a_malformed_pyproject_says_to_fix_the_syntax() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "[tool.dbtest\njobs = 1\n");
        let err = find_project(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("pyproject.toml: is not valid TOML; fix the syntax"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 4);
    }

    #[test]
    fn pytest_addopts_fill_in_only_what_dbtest_leaves_unset() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pytest.ini"),
            "[pytest]\naddopts = -m 'not slow' --maxfail 2 --junitxml=junit.xml\n",
        )
        .unwrap();
        let pytest = find_project(dir.path()).unwrap().pytest;
        let merged = UnitConfig::default().with_pytest(pytest.as_ref());
        assert_eq!(merged.tags.as_deref(), Some("not slow"));
        assert_eq!(merged.stop_after(), Some(2));
        assert_eq!(merged.junit_xml.as_deref(), Some("junit.xml"));
        let own = UnitConfig {
            tags: Some("db".into()),
            exitfirst: Some(false),
            junit_xml: Some("mine.xml".into()),
            ..Default::default()
        };
        let merged = own.with_pytest(pytest.as_ref());
        assert_eq!(merged.tags.as_deref(), Some("db"));
        assert_eq!(merged.stop_after(), None);
        assert_eq!(merged.junit_xml.as_deref(), Some("mine.xml"));
        assert_eq!(
            UnitConfig::default().with_pytest(None),
            UnitConfig::default()
        );
    }

    #[test]
    fn served_plugins_options_fill_in_workers_timeout_and_retries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pytest.ini"),
            "[pytest]\naddopts = -n 3 --reruns 2\ntimeout = 20\n",
        )
        .unwrap();
        let pytest = find_project(dir.path()).unwrap().pytest;
        let merged = UnitConfig::default().with_pytest(pytest.as_ref());
        assert_eq!(merged.workers, Some(Workers::Count(3)));
        assert_eq!(merged.timeout, Some(20.0));
        assert_eq!(merged.retries, Some(2));
        let own = UnitConfig {
            workers: Some(Workers::Count(0)),
            timeout: Some(5.0),
            retries: Some(0),
            ..Default::default()
        };
        let merged = own.with_pytest(pytest.as_ref());
        assert_eq!(merged.workers, Some(Workers::Count(0)));
        assert_eq!(merged.timeout, Some(5.0));
        assert_eq!(merged.retries, Some(0));
        std::fs::write(
            dir.path().join("pytest.ini"),
            "[pytest]\naddopts = --timeout 0\ntimeout = 20\n",
        )
        .unwrap();
        let pytest = find_project(dir.path()).unwrap().pytest;
        assert_eq!(
            UnitConfig::default().with_pytest(pytest.as_ref()).timeout,
            None
        );
    }

    #[test]
    fn overlap_is_a_mode_or_a_list_of_globs() {
        let c = UnitConfig::from_flags_json(r#"{"overlap": "all"}"#).unwrap();
        assert_eq!(c.overlap, Some(Overlap::Mode(OverlapMode::All)));
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[tool.dbtest]\noverlap = ['tests/async/**', 'tests/test_db.py']\n",
        );
        assert_eq!(
            UnitConfig::from_pyproject(&p).unwrap().unwrap().overlap,
            Some(Overlap::Paths(vec![
                "tests/async/**".into(),
                "tests/test_db.py".into()
            ]))
        );
        let p = write(dir.path(), "[tool.dbtest]\noverlap = 'sometimes'\n");
        let msg = UnitConfig::from_pyproject(&p).unwrap_err().to_string();
        assert!(msg.contains("unknown overlap \"sometimes\"; use \"native\", \"all\", \"none\" or a list of path globs"), "{msg}");
        write(dir.path(), "[tool.dbtest]\noverlap = ['']\n");
        let msg = find_project(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("`overlap` holds an empty glob"), "{msg}");
        assert_eq!(Overlap::default(), Overlap::Mode(OverlapMode::Native));
        // Flags win over [tool.dbtest].
        let flags = UnitConfig {
            overlap: Some(Overlap::Mode(OverlapMode::None)),
            ..Default::default()
        };
        let file = UnitConfig {
            overlap: Some(Overlap::Mode(OverlapMode::All)),
            ..Default::default()
        };
        assert_eq!(
            flags.over(file).overlap,
            Some(Overlap::Mode(OverlapMode::None))
        );
    }

    #[test]
    fn exitfirst_means_stop_after_one() {
        let c = UnitConfig {
            exitfirst: Some(true),
            maxfail: Some(5),
            ..Default::default()
        };
        assert_eq!(c.stop_after(), Some(1));
    }

    #[test]
    fn the_collection_timeout_has_a_default_and_0_lifts_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            UnitConfig::default().collect_limit(),
            Some(DEFAULT_COLLECT_TIMEOUT)
        );
        write(dir.path(), "[tool.dbtest]\ncollect_timeout = 0\n");
        let project = find_project(dir.path()).unwrap();
        let (_, file) = project.dbtest.unwrap();
        assert_eq!(file.collect_limit(), None);
        // The flag (the CLI's spelling) wins over the file.
        let flags = UnitConfig::from_flags_json(r#"{"collect-timeout": 2.5}"#).unwrap();
        assert_eq!(flags.over(file).collect_limit(), Some(2.5));
        write(dir.path(), "[tool.dbtest]\ncollect_timeout = -1\n");
        let msg = find_project(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("`collect_timeout` must be a number of seconds (0 for no limit)"),
            "{msg}"
        );
    }
}
