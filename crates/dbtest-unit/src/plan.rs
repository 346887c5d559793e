//! What a `dbtest unit` run will do, decided before anything is imported (so a bad flag,
//! path or setting fails first): the settings (flags over `[tool.dbtest]` over pytest's
//! configuration), the files (walked, sharded, `--lf`, in their order, each overlapping or
//! alone), the filters, and how worker processes are started.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dbtest_core::config::{find_project, DEFAULT_JOBS, DEFAULT_PATTERN};
use dbtest_core::coverage::CoverageSettings;
use dbtest_core::pytest_config::{PytestConfig, PythonSettings as Settings, DEFAULT_DOCTEST_GLOBS};
use dbtest_core::{Error, Overlap, OverlapMode, UnitConfig};
use dbtest_discovery::{
    dbtest_norecurse, discover_from, expand_testpaths, relative_id, search_paths, shard_files,
    OverlapRule, Pattern, Selector, Shard,
};
use dbtest_runner::workers::WorkerSpec;
use dbtest_runner::{FileJob, RunOptions};
use serde::{Deserialize, Serialize};

pub struct Prepared {
    pub config: UnitConfig,
    pub root: PathBuf,
    pub files: Vec<FileJob>,
    pub selector: Selector,
    /// `--lf`: only these ids (and files, for files that failed to import).
    pub last_failed: Option<HashSet<String>>,
    /// `--random-order`: the seed that replays this order.
    pub shuffle_seed: Option<u64>,
    /// From `path::name` arguments; workers need them to select the same tests.
    pub id_prefixes: Vec<String>,
    /// What the Python side applies: pytest's collection names, marks, warnings, asyncio.
    pub python: Settings,
    /// What the user should hear before the run starts (ignored addopts options, ...).
    pub warnings: Vec<String>,
}

pub fn prepare(flags: UnitConfig, cwd: &Path) -> Result<Prepared, Error> {
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
    let doctests = Doctests::of(&config);
    let found = discover_from(cwd, &root, &paths, &doctests.walked(&patterns), &norecurse)
        .map_err(|e| Error::Usage(e.to_string()))?;
    if found.files.is_empty() {
        warnings.extend(nothing_found_hint(
            cwd, &root, &paths, &patterns, &norecurse,
        ));
    }
    let id_prefixes = found.id_prefixes;
    let mut python = Settings {
        search_paths: paths
            .iter()
            .map(|p| cwd.join(p.split_once("::").map_or(p.as_str(), |(path, _)| path)))
            .map(|p| p.display().to_string())
            .collect(),
        python_files: patterns
            .iter()
            .map(|p| match p {
                Pattern::Glob(g) | Pattern::Fnmatch(g) | Pattern::Text(g) => g.clone(),
            })
            .collect(),
        doctest_modules: doctests.modules,
        doctest_globs: doctests.globs,
        ..Settings::new(pytest, &root, config.tags.clone())
    };
    let addopts_coverage = pytest.map(|p| p.addopts.coverage.clone());
    python.coverage = config
        .coverage_args()
        .over(addopts_coverage.unwrap_or_default())
        .settings()
        .map_err(Error::Usage)?
        .map(|coverage| CoverageSettings {
            shard: config.shard.clone(),
            ..coverage
        });
    python.debug = config.debug_settings();
    if config.workers.is_some_and(|w| w.count() > 0) {
        warnings.extend(python.debug.with_workers());
    }
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
    // Per-test coverage contexts name the one test running: nothing may run beside it.
    // A debugger at every test or failure talks to one test at a time.
    let one_at_a_time = python.coverage.as_ref().is_some_and(|c| c.per_test_context)
        || python.debug.one_at_a_time();
    for file in &mut files {
        file.exclusive = one_at_a_time || overlap.exclusive(&file.rel, &file.path);
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

/// pytest's doctest plugin: which files it collects besides test modules.
struct Doctests {
    /// `--doctest-modules`: every `.py` file walked.
    modules: bool,
    /// `--doctest-glob`, else pytest's `test*.txt`: text files, collected whatever
    /// `--doctest-modules` says.
    globs: Vec<String>,
}

impl Doctests {
    fn of(config: &UnitConfig) -> Doctests {
        Doctests {
            modules: config.doctest_modules == Some(true),
            globs: match &config.doctest_glob {
                Some(globs) if !globs.is_empty() => globs.clone(),
                _ => DEFAULT_DOCTEST_GLOBS.map(str::to_owned).to_vec(),
            },
        }
    }

    /// The walk's patterns: the test files', and the files collected for their doctests.
    fn walked(&self, patterns: &[Pattern]) -> Vec<Pattern> {
        let mut walked = patterns.to_vec();
        if self.modules {
            walked.push(Pattern::Fnmatch("*.py".to_owned()));
        }
        walked.extend(self.globs.iter().cloned().map(Pattern::Text));
        walked
    }
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
            Pattern::Glob(g) | Pattern::Fnmatch(g) | Pattern::Text(g) => g.as_str(),
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

/// Whether `case` runs: it matches the filters and, under `--lf`, failed last time (or its
/// file could not be collected last time).
pub fn selected(
    selector: &Selector,
    last_failed: Option<&HashSet<String>>,
    case: &dbtest_core::TestCase,
) -> bool {
    selector.matches(&case.id, &case.tags)
        && last_failed.is_none_or(|ids| ids.contains(&case.id) || ids.contains(&case.file))
}

/// The runner's options from the settings; `select` decides which collected tests run.
pub fn run_options(
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

/// What the parent tells each worker about the run (as JSON in `DBTEST_WORKER_SETUP`): the
/// same settings, filters and order as an in-process run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSetup {
    pub config: UnitConfig,
    pub root: PathBuf,
    pub id_prefixes: Vec<String>,
    pub last_failed: Option<Vec<String>>,
    pub shuffle_seed: Option<u64>,
    /// The same pytest settings as the parent's driver, and its `-k` keyword expression.
    pub python: Settings,
}

/// How to start this run's worker processes: this Python, `-m dbtest._worker`, and the run's
/// settings in the environment.
pub fn worker_spec(prepared: &Prepared, python: PathBuf) -> Result<WorkerSpec, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A project with `[tool.dbtest]` (plus `extra`) and these test files.
    fn project(extra: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            format!("[tool.dbtest]\n{extra}"),
        )
        .unwrap();
        for (rel, text) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn plan(dir: &Path, flags: UnitConfig) -> Prepared {
        prepare(flags, dir).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rels(p: &Prepared) -> Vec<(&str, bool)> {
        p.files
            .iter()
            .map(|f| (f.rel.as_str(), f.exclusive))
            .collect()
    }

    const NATIVE: &str = "import dbtest\n\n@dbtest.test\ndef test_x():\n    pass\n";
    const PLAIN: &str = "def test_x():\n    pass\n";

    #[test]
    fn files_that_import_dbtest_overlap_and_go_first() {
        let dir = project(
            "",
            &[
                ("tests/test_a.py", PLAIN),
                ("tests/test_b.py", NATIVE),
                ("tests/test_c.py", PLAIN),
            ],
        );
        let p = plan(dir.path(), UnitConfig::default());
        assert_eq!(
            rels(&p),
            [
                ("tests/test_b.py", false),
                ("tests/test_a.py", true),
                ("tests/test_c.py", true)
            ]
        );
    }

    #[test]
    fn overlap_all_lets_every_file_overlap() {
        let dir = project("overlap = \"all\"\n", &[("tests/test_a.py", PLAIN)]);
        let p = plan(dir.path(), UnitConfig::default());
        assert_eq!(rels(&p), [("tests/test_a.py", false)]);
    }

    #[test]
    fn last_failed_keeps_only_files_that_failed() {
        let dir = project(
            "",
            &[("tests/test_a.py", PLAIN), ("tests/test_b.py", PLAIN)],
        );
        dbtest_core::state::save_last_failed(dir.path(), &["tests/test_b.py::test_x".into()])
            .unwrap();
        let flags = UnitConfig {
            last_failed: Some(true),
            ..UnitConfig::default()
        };
        let p = plan(dir.path(), flags);
        assert_eq!(rels(&p), [("tests/test_b.py", true)]);
        let failed = p.last_failed.as_ref().unwrap();
        let case = |id: &str| dbtest_core::TestCase {
            id: id.into(),
            file: "tests/test_b.py".into(),
            line: 1,
            name: "test_x".into(),
            suite: None,
            params: None,
            tags: Vec::new(),
            skip: None,
            xfail: None,
            timeout_s: None,
            is_async: false,
            concurrent: false,
            retries: None,
            serial: None,
            exclusive: true,
            key: 0,
        };
        assert!(selected(
            &p.selector,
            Some(failed),
            &case("tests/test_b.py::test_x")
        ));
        assert!(!selected(
            &p.selector,
            Some(failed),
            &case("tests/test_b.py::test_y")
        ));
    }

    #[test]
    fn shards_split_the_files_between_them() {
        let files: Vec<(String, &str)> = (0..6)
            .map(|i| (format!("tests/test_{i}.py"), PLAIN))
            .collect();
        let borrowed: Vec<(&str, &str)> = files.iter().map(|(r, t)| (r.as_str(), *t)).collect();
        let dir = project("", &borrowed);
        let shard = |k: u32| {
            let flags = UnitConfig {
                shard: Some(format!("{k}/2")),
                ..UnitConfig::default()
            };
            plan(dir.path(), flags)
                .files
                .into_iter()
                .map(|f| f.rel)
                .collect::<Vec<_>>()
        };
        let (one, two) = (shard(1), shard(2));
        assert_eq!(one.len() + two.len(), 6);
        assert!(one.iter().all(|f| !two.contains(f)));
    }

    #[test]
    fn doctests_add_modules_and_text_files_to_the_walk() {
        let dir = project(
            "",
            &[
                ("tests/test_a.py", PLAIN),
                ("tests/helpers.py", PLAIN),
                ("tests/test_guide.txt", ">>> 1\n1\n"),
                ("tests/notes.txt", ">>> 1\n1\n"),
            ],
        );
        let files = |flags: UnitConfig| -> Vec<String> {
            let mut rels: Vec<String> = plan(dir.path(), flags)
                .files
                .into_iter()
                .map(|f| f.rel)
                .collect();
            rels.sort();
            rels
        };
        // pytest's default --doctest-glob, test*.txt, applies without --doctest-modules.
        assert_eq!(
            files(UnitConfig::default()),
            ["tests/test_a.py", "tests/test_guide.txt"]
        );
        let p = plan(
            dir.path(),
            UnitConfig {
                doctest_modules: Some(true),
                doctest_glob: Some(vec!["notes.txt".into()]),
                ..UnitConfig::default()
            },
        );
        assert!(p.python.doctest_modules);
        assert_eq!(p.python.doctest_globs, ["notes.txt"]);
        assert_eq!(p.python.python_files, ["test_*.py"]);
        assert_eq!(
            p.python.search_paths,
            [dir.path().join("tests").display().to_string()]
        );
        assert_eq!(
            files(UnitConfig {
                doctest_modules: Some(true),
                doctest_glob: Some(vec!["notes.txt".into()]),
                ..UnitConfig::default()
            }),
            ["tests/helpers.py", "tests/notes.txt", "tests/test_a.py"]
        );
    }

    #[test]
    fn a_walk_that_finds_nothing_says_which_files_were_left_out() {
        let dir = project("", &[("tests/checks_math.py", PLAIN)]);
        let p = plan(dir.path(), UnitConfig::default());
        assert!(p.files.is_empty());
        let hint = p.warnings.join("\n");
        assert!(hint.contains("tests/checks_math.py"), "{hint}");
    }

    #[test]
    fn a_bad_shard_or_overlap_is_a_usage_error() {
        let dir = project("", &[("tests/test_a.py", PLAIN)]);
        let flags = UnitConfig {
            shard: Some("3/2".into()),
            ..UnitConfig::default()
        };
        assert!(matches!(prepare(flags, dir.path()), Err(Error::Usage(_))));
        let dir = project("overlap = [\"[\"]\n", &[("tests/test_a.py", PLAIN)]);
        let err = prepare(UnitConfig::default(), dir.path()).err().unwrap();
        assert!(err.to_string().contains("overlap"), "{err}");
    }
}
