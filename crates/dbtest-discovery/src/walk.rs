//! Walking the user's paths to the list of test files.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use walkdir::{DirEntry, WalkDir};

use crate::fnmatch::Fnmatch;
use crate::paths::{absolutize, relative_id};

/// Directory names dbtest never descends into by its own rules (see [`dbtest_norecurse`]),
/// besides hidden directories (a name starting with `.`) and virtual environments (a
/// directory holding `pyvenv.cfg`). They hold installed or generated code whose `test_*.py`
/// files are not the project's tests, and they are often huge.
pub const SKIPPED_DIRS: &[&str] = &["__pycache__", "node_modules", "site-packages"];

/// The marker file of a virtual environment (PEP 405); checking for it catches
/// environments whatever they are named (`venv`, `env`, `.tox/py311`, ...).
const VENV_MARKER: &str = "pyvenv.cfg";
/// A conda environment without `pyvenv.cfg` (pytest checks it too).
const CONDA_MARKER: &str = "conda-meta/history";

/// A pattern on file or folder names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// dbtest's own `--pattern`: a glob on the file name (`{a,b}` groups, `\` escapes,
    /// no `/`).
    Glob(String),
    /// pytest's rules for `python_files` and `norecursedirs`: fnmatch on the name, or on the
    /// whole path when the pattern holds a `/` (pytest's `fnmatch_ex`).
    Fnmatch(String),
    /// pytest's `--doctest-glob`: as [`Pattern::Fnmatch`], on files of any kind (text files
    /// whose doctests run), where the other patterns take `.py` files only.
    Text(String),
}

impl Pattern {
    /// pytest patterns, each as [`Pattern::Fnmatch`].
    pub fn fnmatch_all<S: AsRef<str>>(patterns: &[S]) -> Vec<Pattern> {
        patterns
            .iter()
            .map(|p| Pattern::Fnmatch(p.as_ref().to_owned()))
            .collect()
    }
}

/// dbtest's own folders to skip, as patterns: hidden folders and [`SKIPPED_DIRS`]. A
/// project with a pytest configuration uses pytest's `norecursedirs` instead.
pub fn dbtest_norecurse() -> Vec<Pattern> {
    std::iter::once(".*")
        .chain(SKIPPED_DIRS.iter().copied())
        .map(|p| Pattern::Fnmatch(p.to_owned()))
        .collect()
}

enum Matcher {
    Glob(GlobMatcher),
    Fnmatch(Fnmatch),
    Text(Fnmatch),
}

impl Matcher {
    fn new(pattern: &Pattern) -> Result<Matcher, DiscoveryError> {
        Ok(match pattern {
            Pattern::Glob(glob) => Matcher::Glob(compile_pattern(glob)?),
            Pattern::Fnmatch(p) => Matcher::Fnmatch(Fnmatch::new(p)),
            Pattern::Text(p) => Matcher::Text(Fnmatch::new(p)),
        })
    }

    fn is_match(&self, path: &Path) -> bool {
        match self {
            Matcher::Glob(glob) => path.file_name().is_some_and(|name| glob.is_match(name)),
            Matcher::Fnmatch(p) | Matcher::Text(p) => p.matches_path(path),
        }
    }

    /// Whether the file at `path` is taken: a `.py` file, or any file for a text pattern.
    fn takes_file(&self, path: &Path) -> bool {
        (matches!(self, Matcher::Text(_)) || is_python_file(path)) && self.is_match(path)
    }
}

/// What the walk takes and where it goes, compiled once: matching runs for every entry.
struct Rules {
    files: Vec<Matcher>,
    norecurse: Vec<Matcher>,
}

/// Result of walking the requested paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Test files, absolute and lexically normalized (symlinks not resolved),
    /// in a deterministic order: sorted by path within each given path, the
    /// given paths in order; no duplicates.
    pub files: Vec<PathBuf>,
    /// Id filters from `path::name` arguments, as test-id prefixes relative to
    /// `root` with `/` separators, e.g. `tests/test_a.py::test_x`. Empty when
    /// no argument had `::`. When some arguments have `::` and others do not,
    /// every file found through the others gets its own prefix (its id path),
    /// so that `tests/test_a.py::test_x tests/test_b.py` still runs all of
    /// `test_b.py`.
    pub id_prefixes: Vec<String>,
}

/// Why discovery could not produce a file list. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "path \"{path}\" does not exist (looked in {}); pass a folder or file that exists, or set [tool.dbtest] paths",
        looked_in.display()
    )]
    NotFound {
        /// The path as the user gave it, without any `::name` suffix.
        path: String,
        /// The directory the path was resolved against.
        looked_in: PathBuf,
    },

    #[error("path \"{path}\" is not a Python file; pass a .py test file or a folder that holds test files")]
    NotPythonFile { path: String },

    #[error(
        "\"{arg}\" names a test inside a folder; \"::name\" only works after a .py file, e.g. tests/test_a.py::test_x"
    )]
    NameOnFolder { arg: String },

    #[error(
        "invalid file pattern \"{pattern}\": {reason}; use a glob on the file name such as \"test_*.py\" or \"*_test.py\""
    )]
    BadPattern { pattern: String, reason: String },

    #[error("cannot read {}: {message}; fix its permissions or pass paths that leave it out", path.display())]
    Io { path: PathBuf, message: String },
}

/// Walks `paths` (relative to the current directory, or absolute; each may end
/// in `::name`) and returns the `.py` files that match one of `patterns`, never
/// descending into a folder that matches one of `norecurse` (nor into `__pycache__`
/// or a virtual environment). Ids are relative to `root`.
pub fn discover(
    root: &Path,
    paths: &[String],
    patterns: &[Pattern],
    norecurse: &[Pattern],
) -> Result<Discovered, DiscoveryError> {
    let cwd = std::env::current_dir().map_err(|err| DiscoveryError::Io {
        path: PathBuf::from("."),
        message: format!("the current directory is not available ({err})"),
    })?;
    discover_from(&cwd, root, paths, patterns, norecurse)
}

/// [`discover`] with relative paths (and a relative `root`) resolved against
/// `cwd` instead of the process's current directory.
pub fn discover_from(
    cwd: &Path,
    root: &Path,
    paths: &[String],
    patterns: &[Pattern],
    norecurse: &[Pattern],
) -> Result<Discovered, DiscoveryError> {
    let rules = Rules {
        files: patterns
            .iter()
            .map(Matcher::new)
            .collect::<Result<_, _>>()?,
        norecurse: norecurse
            .iter()
            .map(Matcher::new)
            .collect::<Result<_, _>>()?,
    };
    let root = absolutize(cwd, root);
    let args: Vec<(&str, Option<&str>)> = paths.iter().map(|arg| split_arg(arg)).collect();
    let any_named = args.iter().any(|(_, name)| name.is_some());

    let mut files = Vec::new();
    let mut seen_files = HashSet::new();
    let mut id_prefixes = Vec::new();
    let mut seen_prefixes = HashSet::new();
    let mut add_prefix = |prefix: String| {
        if seen_prefixes.insert(prefix.clone()) {
            id_prefixes.push(prefix);
        }
    };

    for (arg, (path, name)) in paths.iter().zip(args) {
        let given = Path::new(path);
        let abs = absolutize(cwd, given);
        let metadata = fs::metadata(&abs).map_err(|err| match err.kind() {
            io::ErrorKind::NotFound => DiscoveryError::NotFound {
                path: path.to_owned(),
                looked_in: if given.is_absolute() {
                    abs.parent().map_or_else(|| abs.clone(), Path::to_path_buf)
                } else {
                    cwd.to_path_buf()
                },
            },
            _ => io_error(&abs, &err),
        })?;

        let found = if metadata.is_dir() {
            if name.is_some() {
                return Err(DiscoveryError::NameOnFolder { arg: arg.clone() });
            }
            walk(&abs, &rules)?
        } else if metadata.is_file() && is_python_file(&abs) {
            // An explicit file is the user's choice: the pattern and the pruning
            // rules do not apply to it, as in pytest.
            vec![abs]
        } else {
            return Err(DiscoveryError::NotPythonFile {
                path: path.to_owned(),
            });
        };

        match name {
            Some(name) => add_prefix(format!("{}::{name}", relative_id(&root, &found[0]))),
            None if any_named => found
                .iter()
                .for_each(|file| add_prefix(relative_id(&root, file))),
            None => {}
        }
        for file in found {
            if seen_files.insert(file.clone()) {
                files.push(file);
            }
        }
    }

    Ok(Discovered { files, id_prefixes })
}

/// Splits `tests/test_a.py::Suite::test_x` into the path and the name part.
/// An empty name (`tests/test_a.py::`) means the whole file.
fn split_arg(arg: &str) -> (&str, Option<&str>) {
    match arg.split_once("::") {
        Some((path, name)) if !name.is_empty() => (path, Some(name)),
        Some((path, _)) => (path, None),
        None => (arg, None),
    }
}

fn compile_pattern(pattern: &str) -> Result<GlobMatcher, DiscoveryError> {
    let bad = |reason: &str| DiscoveryError::BadPattern {
        pattern: pattern.to_owned(),
        reason: reason.to_owned(),
    };
    if pattern.trim().is_empty() {
        return Err(bad("the pattern is empty"));
    }
    if pattern.contains('/') {
        return Err(bad(
            "it contains \"/\" but it is matched against file names only",
        ));
    }
    let glob = GlobBuilder::new(pattern)
        // Backslash escapes on every platform, so a pattern means the same
        // thing in a Windows CI job as on a laptop.
        .backslash_escape(true)
        .build()
        .map_err(|err| bad(&err.kind().to_string()))?;
    Ok(glob.compile_matcher())
}

fn walk(dir: &Path, rules: &Rules) -> Result<Vec<PathBuf>, DiscoveryError> {
    let mut files = Vec::new();
    let walker = WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        // The walk's own root is exempt: passing `.` or `.hidden/tests` is an
        // explicit request.
        .filter_entry(|entry| entry.depth() == 0 || !is_pruned(entry, rules));
    for entry in walker {
        let entry = entry.map_err(|err| {
            let path = err.path().unwrap_or(dir).to_path_buf();
            match err.io_error() {
                Some(io_err) => io_error(&path, io_err),
                None => DiscoveryError::Io {
                    path,
                    message: err.to_string(),
                },
            }
        })?;
        // `file_type` comes from the directory listing, so no stat per file.
        if entry.file_type().is_file() && rules.files.iter().any(|m| m.takes_file(entry.path())) {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

fn is_pruned(entry: &DirEntry, rules: &Rules) -> bool {
    if !entry.file_type().is_dir() {
        return false;
    }
    // pytest skips these whatever norecursedirs says.
    if entry.file_name() == "__pycache__" {
        return true;
    }
    if rules.norecurse.iter().any(|m| m.is_match(entry.path())) {
        return true;
    }
    // The stats per directory that the walk cannot avoid.
    let path = entry.path();
    path.join(VENV_MARKER).exists() || path.join(CONDA_MARKER).is_file()
}

/// Only `.py` files are ever importable as test modules, whatever the pattern
/// says (pytest applies `python_files` to `.py` files only, too).
fn is_python_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.as_encoded_bytes().ends_with(b".py"))
}

fn io_error(path: &Path, err: &io::Error) -> DiscoveryError {
    DiscoveryError::Io {
        path: path.to_path_buf(),
        message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tree;
    use std::time::Instant;
    use tempfile::TempDir;

    fn args(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| (*p).to_owned()).collect()
    }

    /// [`discover_from`] with dbtest's own rules and `pattern`.
    fn discover_from(
        cwd: &Path,
        root: &Path,
        paths: &[String],
        pattern: &str,
    ) -> Result<Discovered, DiscoveryError> {
        super::discover_from(
            cwd,
            root,
            paths,
            &[Pattern::Glob(pattern.to_owned())],
            &dbtest_norecurse(),
        )
    }

    /// Discovers from inside `dir` (as if run there) and returns ids.
    fn ids(dir: &TempDir, paths: &[&str], pattern: &str) -> Vec<String> {
        let found = discover_from(dir.path(), dir.path(), &args(paths), pattern).unwrap();
        found
            .files
            .iter()
            .map(|f| relative_id(dir.path(), f))
            .collect()
    }

    /// Discovers from inside `dir` with pytest's rules.
    fn pytest_ids(
        dir: &TempDir,
        paths: &[&str],
        files: &[&str],
        norecurse: &[&str],
    ) -> Vec<String> {
        let found = super::discover_from(
            dir.path(),
            dir.path(),
            &args(paths),
            &Pattern::fnmatch_all(files),
            &Pattern::fnmatch_all(norecurse),
        )
        .unwrap();
        found
            .files
            .iter()
            .map(|f| relative_id(dir.path(), f))
            .collect()
    }

    fn err(dir: &TempDir, paths: &[&str], pattern: &str) -> DiscoveryError {
        discover_from(dir.path(), dir.path(), &args(paths), pattern).unwrap_err()
    }

    /// pytest's defaults (crates/dbtest-core/src/pytest_config.rs).
    const PYTEST_FILES: &[&str] = &["test_*.py", "*_test.py"];
    const PYTEST_NORECURSE: &[&str] = &[
        "*.egg",
        ".*",
        "_darcs",
        "build",
        "CVS",
        "dist",
        "node_modules",
        "venv",
        "{arch}",
    ];

    #[test]
    fn several_patterns_any_of_which_may_match() {
        let dir = tree(&[
            "tests/test_a.py",
            "tests/b_test.py",
            "tests/check_c.py",
            "tests/helper.py",
        ]);
        assert_eq!(
            pytest_ids(&dir, &["tests"], PYTEST_FILES, PYTEST_NORECURSE),
            ["tests/b_test.py", "tests/test_a.py"]
        );
        assert_eq!(
            pytest_ids(
                &dir,
                &["tests"],
                &["check_*.py", "test_*.py"],
                PYTEST_NORECURSE
            ),
            ["tests/check_c.py", "tests/test_a.py"]
        );
        // dbtest's glob and pytest's fnmatch side by side.
        let found = super::discover_from(
            dir.path(),
            dir.path(),
            &args(&["tests"]),
            &[
                Pattern::Glob("{check,helper}*.py".into()),
                Pattern::Fnmatch("*_test.py".into()),
            ],
            &dbtest_norecurse(),
        )
        .unwrap();
        assert_eq!(found.files.len(), 3);
        // No pattern: only explicit files are taken.
        assert!(pytest_ids(&dir, &["tests"], &[], PYTEST_NORECURSE).is_empty());
        assert_eq!(
            pytest_ids(&dir, &["tests/helper.py"], &[], &[]),
            ["tests/helper.py"]
        );
    }

    #[test]
    fn text_patterns_take_files_of_any_kind() {
        let dir = tree(&[
            "tests/test_a.py",
            "tests/test_guide.txt",
            "tests/notes.txt",
            "tests/test_data.json",
        ]);
        let found = super::discover_from(
            dir.path(),
            dir.path(),
            &args(&["tests"]),
            &[
                Pattern::Fnmatch("test_*".into()),
                Pattern::Text("test*.txt".into()),
            ],
            &[],
        )
        .unwrap();
        let rels: Vec<String> = found
            .files
            .iter()
            .map(|f| relative_id(dir.path(), f))
            .collect();
        // Only a text pattern takes a file that is not `.py`.
        assert_eq!(rels, ["tests/test_a.py", "tests/test_guide.txt"]);
    }

    #[test]
    fn pytest_file_patterns_are_fnmatch_and_may_name_folders() {
        let dir = tree(&["tests/unit/a_spec.py", "other/b_spec.py", "tests/{x}.py"]);
        assert_eq!(
            pytest_ids(&dir, &["."], &["tests/*_spec.py"], PYTEST_NORECURSE),
            ["tests/unit/a_spec.py"]
        );
        // Braces are literal in fnmatch.
        assert_eq!(pytest_ids(&dir, &["."], &["{x}.py"], &[]), ["tests/{x}.py"]);
    }

    #[test]
    fn norecursedirs_replace_dbtests_own_skips() {
        let dir = tree(&[
            "tests/test_a.py",
            "build/test_b.py",
            "pkg.egg/test_c.py",
            ".hidden/test_d.py",
            "site-packages/test_e.py",
            "tests/__pycache__/test_f.py",
            "tests/data/test_g.py",
            "venvs/conda/conda-meta/history",
            "venvs/conda/test_h.py",
            "env/pyvenv.cfg",
            "env/test_i.py",
        ]);
        // pytest's defaults: build and *.egg and hidden folders go, site-packages stays.
        assert_eq!(
            pytest_ids(&dir, &["."], PYTEST_FILES, PYTEST_NORECURSE),
            [
                "site-packages/test_e.py",
                "tests/data/test_g.py",
                "tests/test_a.py"
            ]
        );
        // A project's own list replaces them: hidden folders are walked now, as in pytest;
        // __pycache__ and environments never are.
        assert_eq!(
            pytest_ids(
                &dir,
                &["."],
                PYTEST_FILES,
                &["data", "site-*", "build", "*.egg"]
            ),
            [".hidden/test_d.py", "tests/test_a.py"]
        );
        // A pattern with a slash matches the folder's whole path.
        assert_eq!(
            pytest_ids(&dir, &["tests"], PYTEST_FILES, &["tests/data"]),
            ["tests/test_a.py"]
        );
        // dbtest's own rules as before.
        assert_eq!(
            ids(&dir, &["."], "test_*.py"),
            [
                "build/test_b.py",
                "pkg.egg/test_c.py",
                "tests/data/test_g.py",
                "tests/test_a.py"
            ]
        );
    }

    #[test]
    fn testpaths_expand_like_python_glob() {
        let dir = tree(&[
            "tests/unit/test_a.py",
            "tests/integration/test_b.py",
            "tests/.hidden/test_c.py",
            "pkg/sub/tests/test_d.py",
            "pkg/other/test_e.py",
            "docs/readme.md",
        ]);
        let expand = |paths: &[&str]| expand_testpaths(dir.path(), &args(paths));
        assert_eq!(expand(&["tests"]), ["tests"]);
        assert_eq!(expand(&["missing", "docs"]), ["docs"]);
        assert_eq!(expand(&["tests/*"]), ["tests/integration", "tests/unit"]);
        assert_eq!(expand(&["tests/.*"]), ["tests/.hidden"]);
        assert_eq!(expand(&["pkg/**/tests"]), ["pkg/sub/tests"]);
        assert_eq!(
            expand(&["pkg/**"]),
            [
                "pkg/",
                "pkg/other",
                "pkg/other/test_e.py",
                "pkg/sub",
                "pkg/sub/tests",
                "pkg/sub/tests/test_d.py"
            ]
        );
        assert_eq!(
            expand(&["tests/u?it", "tests/[i]*"]),
            ["tests/unit", "tests/integration"]
        );
        let abs = dir.path().join("docs").display().to_string();
        assert_eq!(
            expand_testpaths(dir.path(), std::slice::from_ref(&abs)),
            std::slice::from_ref(&abs)
        );
    }

    #[test]
    fn walks_sorted_and_matches_the_file_name_only() {
        let dir = tree(&[
            "tests/test_b.py",
            "tests/test_a.py",
            "tests/sub/test_c.py",
            "tests/helper.py",
            "tests/test_data.txt",
            "tests/test_notes.py.bak",
            "tests/a_test.py",
        ]);
        assert_eq!(
            ids(&dir, &["tests"], "test_*.py"),
            ["tests/sub/test_c.py", "tests/test_a.py", "tests/test_b.py"]
        );
        assert_eq!(ids(&dir, &["tests"], "*_test.py"), ["tests/a_test.py"]);
    }

    #[test]
    fn files_are_absolute_and_normalized() {
        let dir = tree(&["tests/test_a.py"]);
        let found = discover_from(
            dir.path(),
            dir.path(),
            &args(&["./tests/../tests"]),
            "test_*.py",
        )
        .unwrap();
        assert_eq!(found.files, [dir.path().join("tests/test_a.py")]);
        assert!(found.id_prefixes.is_empty());
    }

    #[test]
    fn prunes_hidden_generated_and_installed_folders() {
        let dir = tree(&[
            "tests/test_ok.py",
            "tests/.hidden/test_h.py",
            "tests/__pycache__/test_p.py",
            "tests/node_modules/pkg/test_n.py",
            "tests/lib/site-packages/test_s.py",
            ".git/test_g.py",
            ".venv/lib/test_v.py",
        ]);
        assert_eq!(ids(&dir, &["."], "test_*.py"), ["tests/test_ok.py"]);
        // Hidden files are not pruned, only hidden folders; the pattern decides.
        let dir = tree(&["tests/.test_hidden_file.py", "tests/test_a.py"]);
        assert_eq!(
            ids(&dir, &["tests"], "*test_*.py"),
            ["tests/.test_hidden_file.py", "tests/test_a.py"]
        );
    }

    #[test]
    fn skips_virtual_environments_by_their_marker_file() {
        let dir = tree(&[
            "env/pyvenv.cfg",
            "env/lib/python3.12/test_in_venv.py",
            "myenv/test_top_level.py",
            "myenv/pyvenv.cfg",
            "pyvenv_not_a_venv/test_kept.py",
            "tests/test_a.py",
        ]);
        assert_eq!(
            ids(&dir, &["."], "test_*.py"),
            ["pyvenv_not_a_venv/test_kept.py", "tests/test_a.py"]
        );
    }

    #[test]
    fn the_walk_root_is_never_pruned() {
        let dir = tree(&[
            ".hidden/test_a.py",
            ".hidden/.deeper/test_b.py",
            "venv/pyvenv.cfg",
            "venv/test_v.py",
            "node_modules/test_n.py",
        ]);
        assert_eq!(ids(&dir, &[".hidden"], "test_*.py"), [".hidden/test_a.py"]);
        assert_eq!(ids(&dir, &["venv"], "test_*.py"), ["venv/test_v.py"]);
        assert_eq!(
            ids(&dir, &["node_modules"], "test_*.py"),
            ["node_modules/test_n.py"]
        );
        // `.` as the cwd's own name is not "hidden".
        let found = discover_from(
            &dir.path().join(".hidden"),
            dir.path(),
            &args(&["."]),
            "test_*.py",
        )
        .unwrap();
        assert_eq!(found.files, [dir.path().join(".hidden/test_a.py")]);
    }

    #[test]
    fn skipped_dirs_lists_the_fixed_names() {
        for name in ["__pycache__", "node_modules", "site-packages"] {
            assert!(SKIPPED_DIRS.contains(&name), "{name}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn does_not_follow_symlinks_and_takes_regular_files_only() {
        let dir = tree(&["real/test_r.py", "tests/test_a.py"]);
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("tests/linked_dir"))
            .unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("real/test_r.py"),
            dir.path().join("tests/test_link.py"),
        )
        .unwrap();
        fs::create_dir(dir.path().join("tests/test_dir.py")).unwrap();
        assert_eq!(ids(&dir, &["tests"], "test_*.py"), ["tests/test_a.py"]);
    }

    #[test]
    fn explicit_files_skip_the_pattern_but_must_be_python() {
        let dir = tree(&[
            "tests/helper_check.py",
            "tests/data.txt",
            ".hidden/test_h.py",
        ]);
        assert_eq!(
            ids(&dir, &["tests/helper_check.py"], "test_*.py"),
            ["tests/helper_check.py"]
        );
        assert_eq!(
            ids(&dir, &[".hidden/test_h.py"], "test_*.py"),
            [".hidden/test_h.py"]
        );
        let e = err(&dir, &["tests/data.txt"], "test_*.py");
        assert!(
            matches!(e, DiscoveryError::NotPythonFile { ref path } if path == "tests/data.txt")
        );
        assert_eq!(
            e.to_string(),
            "path \"tests/data.txt\" is not a Python file; pass a .py test file or a folder that holds test files"
        );
    }

    #[test]
    fn a_pattern_never_selects_non_python_files() {
        let dir = tree(&["tests/test_a.py", "tests/test_b.txt", "tests/test_c.pyc"]);
        assert_eq!(ids(&dir, &["tests"], "test_*"), ["tests/test_a.py"]);
    }

    #[test]
    fn absolute_paths_work_from_any_cwd() {
        let dir = tree(&["tests/test_a.py"]);
        let elsewhere = tempfile::tempdir().unwrap();
        let abs = dir.path().join("tests").to_string_lossy().into_owned();
        let found = discover_from(elsewhere.path(), dir.path(), &[abs], "test_*.py").unwrap();
        assert_eq!(found.files, [dir.path().join("tests/test_a.py")]);
    }

    #[test]
    fn relative_paths_resolve_against_cwd_and_ids_against_root() {
        let dir = tree(&["proj/tests/test_a.py"]);
        let root = dir.path().join("proj");
        let cwd = root.join("tests");
        let found = discover_from(&cwd, &root, &args(&["test_a.py::test_x"]), "test_*.py").unwrap();
        assert_eq!(found.files, [root.join("tests/test_a.py")]);
        assert_eq!(found.id_prefixes, ["tests/test_a.py::test_x"]);
    }

    #[test]
    fn name_suffixes_become_id_prefixes() {
        let dir = tree(&["tests/test_a.py", "tests/test_b.py"]);
        let found = discover_from(
            dir.path(),
            dir.path(),
            &args(&[
                "tests/test_a.py::test_x",
                "tests/test_a.py::Suite::test_y",
                "tests/test_a.py::test_x",
                "tests/test_a.py::test_p[big-1]",
            ]),
            "test_*.py",
        )
        .unwrap();
        assert_eq!(found.files, [dir.path().join("tests/test_a.py")]);
        assert_eq!(
            found.id_prefixes,
            [
                "tests/test_a.py::test_x",
                "tests/test_a.py::Suite::test_y",
                "tests/test_a.py::test_p[big-1]"
            ]
        );
    }

    #[test]
    fn mixing_named_and_plain_paths_keeps_the_plain_ones_whole() {
        let dir = tree(&["tests/test_a.py", "tests/test_b.py", "more/test_c.py"]);
        let found = discover_from(
            dir.path(),
            dir.path(),
            &args(&["more", "tests/test_a.py::test_x", "tests/test_b.py"]),
            "test_*.py",
        )
        .unwrap();
        let files: Vec<_> = found
            .files
            .iter()
            .map(|f| relative_id(dir.path(), f))
            .collect();
        assert_eq!(
            files,
            ["more/test_c.py", "tests/test_a.py", "tests/test_b.py"]
        );
        assert_eq!(
            found.id_prefixes,
            [
                "more/test_c.py",
                "tests/test_a.py::test_x",
                "tests/test_b.py"
            ]
        );
    }

    #[test]
    fn an_empty_name_suffix_means_the_whole_file() {
        let dir = tree(&["tests/test_a.py"]);
        let found = discover_from(
            dir.path(),
            dir.path(),
            &args(&["tests/test_a.py::"]),
            "test_*.py",
        )
        .unwrap();
        assert_eq!(found.files.len(), 1);
        assert!(found.id_prefixes.is_empty());
    }

    #[test]
    fn a_name_after_a_folder_is_an_error() {
        let dir = tree(&["tests/test_a.py"]);
        let e = err(&dir, &["tests::test_x"], "test_*.py");
        assert!(matches!(e, DiscoveryError::NameOnFolder { ref arg } if arg == "tests::test_x"));
        assert!(e.to_string().contains("only works after a .py file"), "{e}");
    }

    #[test]
    fn a_missing_path_says_where_it_looked_and_what_to_do() {
        let dir = tree(&["tests/test_a.py"]);
        let e = err(&dir, &["tests", "tests/nope"], "test_*.py");
        assert!(matches!(e, DiscoveryError::NotFound { ref path, .. } if path == "tests/nope"));
        assert_eq!(
            e.to_string(),
            format!(
                "path \"tests/nope\" does not exist (looked in {}); pass a folder or file that exists, or set [tool.dbtest] paths",
                dir.path().display()
            )
        );
        // The `::name` part is not part of the path the user is told about.
        let e = err(&dir, &["tests/test_zz.py::test_x"], "test_*.py");
        assert!(
            e.to_string()
                .starts_with("path \"tests/test_zz.py\" does not exist"),
            "{e}"
        );
        // An absolute path was looked for in its own parent folder.
        let abs = dir.path().join("gone/test_q.py");
        let e = discover_from(
            dir.path(),
            dir.path(),
            &[abs.to_string_lossy().into_owned()],
            "test_*.py",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains(&format!(
                "(looked in {})",
                dir.path().join("gone").display()
            )),
            "{e}"
        );
    }

    #[test]
    fn overlapping_paths_are_deduplicated_in_first_seen_order() {
        let dir = tree(&["tests/test_a.py", "tests/sub/test_b.py", "tests/test_c.py"]);
        assert_eq!(
            ids(
                &dir,
                &["tests/test_c.py", "tests", "tests/sub", "./tests/test_a.py"],
                "test_*.py"
            ),
            ["tests/test_c.py", "tests/sub/test_b.py", "tests/test_a.py"]
        );
    }

    #[test]
    fn no_paths_finds_nothing() {
        let dir = tree(&["tests/test_a.py"]);
        assert_eq!(
            discover_from(dir.path(), dir.path(), &[], "test_*.py").unwrap(),
            Discovered::default()
        );
    }

    #[test]
    fn bad_patterns_are_reported_with_a_fix() {
        let dir = tree(&["tests/test_a.py"]);
        for (pattern, reason) in [
            ("test_[a.py", "unclosed character class"),
            ("{test_*.py", "unclosed alternate group"),
            ("", "empty"),
            ("tests/test_*.py", "file names only"),
        ] {
            let e = err(&dir, &["tests"], pattern);
            assert!(
                matches!(e, DiscoveryError::BadPattern { .. }),
                "{pattern}: {e:?}"
            );
            let text = e.to_string();
            assert!(text.contains(reason), "{text}");
            assert!(text.contains("such as \"test_*.py\""), "{text}");
        }
    }

    #[test]
    fn pattern_features_work_on_names() {
        let dir = tree(&["t/test_a.py", "t/check_b.py", "t/test_c.py", "t/other.py"]);
        assert_eq!(
            ids(&dir, &["t"], "{test,check}_*.py"),
            ["t/check_b.py", "t/test_a.py", "t/test_c.py"]
        );
        assert_eq!(ids(&dir, &["t"], "test_[ab].py"), ["t/test_a.py"]);
        assert_eq!(
            ids(&dir, &["t"], "test_?.py"),
            ["t/test_a.py", "t/test_c.py"]
        );
    }

    #[test]
    fn walks_a_big_tree_quickly() {
        let dir = tempfile::tempdir().unwrap();
        for d in 0..1000 {
            let sub = dir.path().join(format!("pkg{:02}/mod{d:04}", d % 50));
            fs::create_dir_all(&sub).unwrap();
            for f in 0..10 {
                let name = if f % 2 == 0 {
                    format!("test_{f}.py")
                } else {
                    format!("helper_{f}.py")
                };
                fs::write(sub.join(name), "").unwrap();
            }
        }
        let start = Instant::now();
        let found = discover_from(dir.path(), dir.path(), &args(&["."]), "test_*.py").unwrap();
        let elapsed = start.elapsed();
        eprintln!("walked 10,000 files in 1,050 folders in {elapsed:?}");
        assert_eq!(found.files.len(), 5000);
        // The release target is < 50 ms; this bound is loose for debug builds
        // and busy CI machines while still catching accidental quadratic work.
        assert!(elapsed.as_millis() < 1000, "walk took {elapsed:?}");
    }
}

/// Where a command looks: paths given on the command line as they are (relative to where the
/// user stands); configured paths relative to the project `root`, wherever the user stands;
/// else `root/<default_folder>` if it exists, else the whole project.
pub fn search_paths(
    root: &Path,
    from_flags: Option<&[String]>,
    configured: Option<&[String]>,
    default_folder: Option<&str>,
) -> Vec<String> {
    if let Some(paths) = from_flags.filter(|p| !p.is_empty()) {
        return paths.to_vec();
    }
    if let Some(paths) = configured.filter(|p| !p.is_empty()) {
        return paths
            .iter()
            .map(|p| root.join(p).display().to_string())
            .collect();
    }
    match default_folder.map(|f| root.join(f)) {
        Some(folder) if folder.is_dir() => vec![folder.display().to_string()],
        _ => vec![root.display().to_string()],
    }
}

/// pytest's `testpaths`: each entry expanded as `glob.iglob(entry, recursive=True)` in the
/// rootdir (`*`, `?`, `[...]` within a name, `**` across folders, hidden names only for a
/// pattern that starts with `.`), sorted per entry; an entry that matches nothing is dropped,
/// as pytest drops it. Results are as Python spells them: relative to `root` unless the entry
/// was absolute.
pub fn expand_testpaths(root: &Path, testpaths: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in testpaths {
        let mut found = iglob(root, entry, false);
        found.sort();
        out.extend(found);
    }
    out
}

fn has_magic(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `os.path.split`.
fn split_path(path: &str) -> (&str, &str) {
    let at = path.rfind('/').map_or(0, |i| i + 1);
    let (head, tail) = path.split_at(at);
    let trimmed = head.trim_end_matches('/');
    (if trimmed.is_empty() { head } else { trimmed }, tail)
}

/// `os.path.join` of two parts.
fn join_path(a: &str, b: &str) -> String {
    if a.is_empty() || b.starts_with('/') {
        b.to_owned()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// The names in `dir` (only folders when `dironly`), unsorted as `os.scandir` gives them.
fn list_dir(dir: &Path, dironly: bool) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        // `is_dir` follows symbolic links, as Python's `DirEntry.is_dir()` does.
        .filter(|e| !dironly || e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect()
}

/// Python's `glob._iglob` with `recursive=True`, paths resolved against `root`.
fn iglob(root: &Path, pattern: &str, dironly: bool) -> Vec<String> {
    let at = |p: &str| {
        if p.is_empty() {
            root.to_path_buf()
        } else {
            root.join(p)
        }
    };
    let (dirname, basename) = split_path(pattern);
    if !has_magic(pattern) {
        let exists = if basename.is_empty() {
            at(dirname).is_dir()
        } else {
            fs::symlink_metadata(at(pattern)).is_ok()
        };
        return if exists {
            vec![pattern.to_owned()]
        } else {
            Vec::new()
        };
    }
    let dirs = if dirname.is_empty() {
        vec![String::new()]
    } else if dirname != pattern && has_magic(dirname) {
        iglob(root, dirname, true)
    } else {
        vec![dirname.to_owned()]
    };
    let mut out = Vec::new();
    for dir in dirs {
        let names = if basename == "**" {
            glob2(&at(&dir), dir.is_empty(), dironly)
        } else if has_magic(basename) {
            let pattern = Fnmatch::new(basename);
            list_dir(&at(&dir), dironly)
                .into_iter()
                .filter(|n| basename.starts_with('.') || !n.starts_with('.'))
                .filter(|n| pattern.is_match(n))
                .collect()
        } else {
            let exists = if basename.is_empty() {
                at(&dir).is_dir()
            } else {
                fs::symlink_metadata(at(&dir).join(basename)).is_ok()
            };
            if exists {
                vec![basename.to_owned()]
            } else {
                Vec::new()
            }
        };
        out.extend(names.into_iter().map(|n| join_path(&dir, &n)));
    }
    out
}

/// `**`: the folder itself (as "") and everything below it that is not hidden.
fn glob2(dir: &Path, is_cwd: bool, dironly: bool) -> Vec<String> {
    let mut out = Vec::new();
    if is_cwd || dir.is_dir() {
        out.push(String::new());
    }
    rlistdir(dir, "", dironly, &mut out);
    out
}

fn rlistdir(dir: &Path, prefix: &str, dironly: bool, out: &mut Vec<String>) {
    for name in list_dir(dir, dironly) {
        if name.starts_with('.') {
            continue;
        }
        let rel = join_path(prefix, &name);
        out.push(rel.clone());
        rlistdir(&dir.join(&name), &rel, dironly, out);
    }
}

#[cfg(test)]
mod search_path_tests {
    use super::*;

    #[test]
    fn flags_then_configuration_then_the_default_folder() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let given = vec!["a".to_string()];
        let configured = vec!["checks".to_string()];
        assert_eq!(
            search_paths(root, Some(&given), Some(&configured), Some("tests")),
            given
        );
        assert_eq!(
            search_paths(root, None, Some(&configured), Some("tests")),
            vec![root.join("checks").display().to_string()]
        );
        assert_eq!(
            search_paths(root, None, None, Some("tests")),
            vec![root.display().to_string()]
        );
        std::fs::create_dir(root.join("tests")).unwrap();
        assert_eq!(
            search_paths(root, None, None, Some("tests")),
            vec![root.join("tests").display().to_string()]
        );
    }
}
