use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn found(dir: &Path) -> PytestConfig {
    PytestConfig::find_in(dir)
        .unwrap()
        .expect("a pytest configuration")
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn error(dir: &Path) -> String {
    let err = PytestConfig::find_in(dir).unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    err.to_string()
}

#[test]
fn pytest_ini_with_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "pytest.ini",
        "[pytest]\n\
         testpaths = tests integration\n\
         python_files = check_*.py *_spec.py\n\
         python_classes = Test Describe\n\
         python_functions = test_* it_*\n\
         norecursedirs = .git build 'with space'\n\
         pythonpath = src .\n\
         markers =\n    slow: marks slow tests\n    db(name): needs a database\n    fast\n\
         xfail_strict = True\n\
         filterwarnings =\n    error\n    ignore::DeprecationWarning\n\
         asyncio_mode = auto\n\
         addopts = -ra -q -m 'not slow' -W ignore::UserWarning\n\
         DJANGO_SETTINGS_MODULE = app.settings\n",
    );
    let c = found(dir.path());
    assert_eq!(c.path, path);
    assert_eq!(c.testpaths, ["tests", "integration"]);
    assert_eq!(c.python_files, Some(strings(&["check_*.py", "*_spec.py"])));
    assert_eq!(c.python_classes, ["Test", "Describe"]);
    assert_eq!(c.python_functions, ["test_*", "it_*"]);
    assert_eq!(
        c.norecursedirs,
        Some(strings(&[".git", "build", "with space"]))
    );
    assert_eq!(c.pythonpath, [dir.path().join("src"), dir.path().join(".")]);
    assert_eq!(c.marker_names(), ["slow", "db", "fast"]);
    assert!(c.xfail_strict);
    assert!(!c.strict_markers);
    assert_eq!(
        c.filterwarnings,
        ["error", "ignore::DeprecationWarning", "ignore::UserWarning"]
    );
    assert_eq!(c.asyncio_mode, AsyncioMode::Auto);
    assert_eq!(c.addopts.markexpr.as_deref(), Some("not slow"));
    assert!(c.addopts.ignored.is_empty());
    assert_eq!(c.ini["DJANGO_SETTINGS_MODULE"], "app.settings");
    assert_eq!(
        c.ini["markers"],
        "slow: marks slow tests\ndb(name): needs a database\nfast"
    );
}

#[test]
fn defaults_when_a_file_says_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // An empty pytest.ini is still the configuration (pytest's rule).
    write(dir.path(), "pytest.ini", "");
    let c = found(dir.path());
    assert!(c.testpaths.is_empty());
    assert_eq!(c.python_files, None);
    assert_eq!(c.python_files_or_default(), ["test_*.py", "*_test.py"]);
    assert_eq!(c.norecursedirs_or_default(), DEFAULT_NORECURSEDIRS);
    assert_eq!(c.python_classes, ["Test"]);
    assert_eq!(c.python_functions, ["test"]);
    assert_eq!(c.asyncio_mode, AsyncioMode::Strict);
    assert!(!c.xfail_strict && !c.strict_markers);
    assert!(c.ini.is_empty());
    let s = PythonSettings::new(Some(&c), dir.path(), None);
    assert_eq!(
        s.ini_file,
        Some(dir.path().join("pytest.ini").display().to_string())
    );
    assert_eq!(s.asyncio_mode, "strict");
    let none = PythonSettings::new(None, dir.path(), Some("db".into()));
    assert_eq!(none.python_classes, ["Test"]);
    assert_eq!(none.ini_file, None);
    assert_eq!(none.markexpr.as_deref(), Some("db"));
}

#[test]
fn dot_pytest_ini_and_pytest_toml() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".pytest.ini", "[pytest]\ntestpaths = a\n");
    assert_eq!(found(dir.path()).testpaths, ["a"]);
    write(
        dir.path(),
        "pytest.toml",
        "[pytest]\ntestpaths = [\"t\"]\nxfail_strict = true\naddopts = [\"-m\", \"not slow\"]\nmarkers = [\"slow: slow\"]\n",
    );
    let c = found(dir.path());
    assert_eq!(c.path, dir.path().join("pytest.toml"));
    assert_eq!(c.testpaths, ["t"]);
    assert!(c.xfail_strict);
    assert_eq!(c.addopts.markexpr.as_deref(), Some("not slow"));
    assert_eq!(c.ini["xfail_strict"], "True");
    assert_eq!(c.ini["addopts"], "-m\nnot slow");
}

#[test]
fn pyproject_ini_options_are_text_or_lists() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = 'x'\n[tool.pytest.ini_options]\n\
         testpaths = ['tests']\n\
         python_files = 'test_*.py check_*.py'\n\
         xfail_strict = true\n\
         addopts = '-x --strict-markers'\n\
         markers = ['slow: slow ones', 'db']\n\
         minversion = 8.0\n\
         timeout = 5\n",
    );
    let c = found(dir.path());
    assert_eq!(c.testpaths, ["tests"]);
    assert_eq!(c.python_files, Some(strings(&["test_*.py", "check_*.py"])));
    assert!(c.xfail_strict);
    assert!(c.strict_markers);
    assert_eq!(c.addopts.maxfail, Some(1));
    assert_eq!(c.marker_names(), ["slow", "db"]);
    // Scalars become their Python str(), as pytest makes them.
    assert_eq!(c.ini["xfail_strict"], "True");
    assert_eq!(c.ini["minversion"], "8.0");
    assert_eq!(c.ini["timeout"], "5");
    // The override from --strict-markers is what config.getini sees too.
    assert_eq!(c.ini["strict_markers"], "true");
}

#[test]
fn pyproject_native_tool_pytest_is_typed_strictly() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[tool.pytest]\ntestpaths = ['tests']\naddopts = ['-m', 'db and not slow', '-p', 'no:cacheprovider']\nstrict = true\nasyncio_mode = 'auto'\n",
    );
    let c = found(dir.path());
    assert_eq!(c.testpaths, ["tests"]);
    assert_eq!(c.addopts.markexpr.as_deref(), Some("db and not slow"));
    assert_eq!(c.addopts.disabled_plugins, ["cacheprovider"]);
    // `strict` turns on strict markers and strict xfail (pytest 9).
    assert!(c.strict_markers && c.xfail_strict);
    assert_eq!(c.asyncio_mode, AsyncioMode::Auto);

    for (table, needle) in [
        ("testpaths = 'tests'", "config option 'testpaths' expects a list for type 'args', got string 'tests': write testpaths = [\"...\"]"),
        ("addopts = '-x'", "config option 'addopts' expects a list"),
        ("markers = [1]", "config option 'markers' expects a list of strings, got integer 1"),
        ("xfail_strict = 'yes'", "config option 'xfail_strict' expects a bool, got string 'yes': write xfail_strict = true"),
        ("asyncio_mode = 1", "config option 'asyncio_mode' expects a string"),
    ] {
        write(dir.path(), "pyproject.toml", &format!("[tool.pytest]\n{table}\n"));
        let msg = error(dir.path());
        assert!(msg.contains(needle), "{table}: {msg}");
        assert!(msg.contains("pyproject.toml"), "{msg}");
    }
}

#[test]
fn pyproject_without_pytest_tables_is_not_a_configuration() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[project]\nname = 'x'\n[tool.dbtest]\njobs = 2\n[tool.pytest]\n",
    );
    assert_eq!(PytestConfig::find_in(dir.path()).unwrap(), None);
    // An empty ini_options table is one (pytest's rule).
    write(dir.path(), "pyproject.toml", "[tool.pytest.ini_options]\n");
    assert!(PytestConfig::find_in(dir.path()).unwrap().is_some());
    write(
        dir.path(),
        "pyproject.toml",
        "[tool.pytest]\nx = 1\n[tool.pytest.ini_options]\ny = 2\n",
    );
    assert!(error(dir.path()).contains("Cannot use both [tool.pytest]"));
}

#[test]
fn tox_ini_and_setup_cfg_need_their_section() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tox.ini", "[tox]\nenvlist = py311\n");
    write(dir.path(), "setup.cfg", "[metadata]\nname = x\n");
    assert_eq!(PytestConfig::find_in(dir.path()).unwrap(), None);
    write(
        dir.path(),
        "setup.cfg",
        "[metadata]\nname = x\n[tool:pytest]\ntestpaths = from_cfg\n",
    );
    assert_eq!(found(dir.path()).testpaths, ["from_cfg"]);
    write(
        dir.path(),
        "tox.ini",
        "[tox]\n[pytest]\ntestpaths = from_tox\n",
    );
    assert_eq!(found(dir.path()).testpaths, ["from_tox"]);
    std::fs::remove_file(dir.path().join("tox.ini")).unwrap();
    write(dir.path(), "setup.cfg", "[pytest]\ntestpaths = x\n");
    assert!(error(dir.path()).contains("change to [tool:pytest] instead"));
}

#[test]
fn precedence_within_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "setup.cfg", "[tool:pytest]\ntestpaths = cfg\n");
    write(d, "tox.ini", "[pytest]\ntestpaths = tox\n");
    assert_eq!(found(d).testpaths, ["tox"]);
    write(
        d,
        "pyproject.toml",
        "[tool.pytest.ini_options]\ntestpaths = ['pyproject']\n",
    );
    assert_eq!(found(d).testpaths, ["pyproject"]);
    // pytest.ini wins even without a [pytest] section.
    write(d, "pytest.ini", "[other]\nx = 1\n");
    let c = found(d);
    assert_eq!(c.path, d.join("pytest.ini"));
    assert!(c.testpaths.is_empty());
    write(d, ".pytest.ini", "[pytest]\ntestpaths = hidden\n");
    assert_eq!(found(d).path, d.join("pytest.ini"));
    write(d, "pytest.toml", "");
    assert_eq!(found(d).path, d.join("pytest.toml"));
}

#[test]
fn overrides_from_addopts_win_over_the_file_and_aliases_resolve() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pytest.ini",
        "[pytest]\nstrict_xfail = false\nxfail_strict = true\naddopts = -o markers=only\n    --asyncio-mode=auto\nmarkers = a\n    b\nasyncio_mode = strict\n",
    );
    let c = found(dir.path());
    // The canonical name beats its alias.
    assert!(!c.xfail_strict);
    assert_eq!(c.marker_names(), ["only"]);
    assert_eq!(c.asyncio_mode, AsyncioMode::Auto);
    write(
        dir.path(),
        "pytest.ini",
        "[pytest]\nstrict_xfail = false\naddopts = -o xfail_strict=1\n",
    );
    // An override beats the file, even under the alias.
    assert!(found(dir.path()).xfail_strict);
}

#[test]
fn bool_values_as_pytest_parses_them() {
    let dir = tempfile::tempdir().unwrap();
    for (text, want) in [
        ("yes", true),
        ("ON", true),
        ("1", true),
        ("t", true),
        ("No", false),
        ("off", false),
        ("0", false),
        ("f", false),
    ] {
        write(
            dir.path(),
            "pytest.ini",
            &format!("[pytest]\nxfail_strict = {text}\n"),
        );
        assert_eq!(found(dir.path()).xfail_strict, want, "{text}");
    }
    write(dir.path(), "pytest.ini", "[pytest]\nxfail_strict = maybe\n");
    let msg = error(dir.path());
    assert!(msg.contains("invalid truth value 'maybe'"), "{msg}");
    assert!(msg.contains("pytest.ini"), "{msg}");
}

#[test]
fn unknown_addopts_are_kept_for_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tox.ini",
        "[pytest]\naddopts = --cov-precision=1 -v --tb=short -p no:randomly -k 'not slow and add' --foo\n",
    );
    let c = found(dir.path());
    // Options pytest's core does not know are the plugins': the Python side names those
    // no plugin defines.
    assert_eq!(c.addopts.ignored, ["--cov-precision 1"]);
    assert_eq!(c.addopts.plugin_options, ["--foo"]);
    assert_eq!(c.addopts.keyword.as_deref(), Some("not slow and add"));
    assert_eq!(c.addopts.disabled_plugins, ["randomly"]);
    let warnings = c.ignored_addopts_warnings();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with(&format!(
            "{}: addopts option --cov-precision 1 is ignored",
            dir.path().join("tox.ini").display()
        )),
        "{warnings:?}"
    );
    let s = PythonSettings::new(Some(&c), dir.path(), None);
    assert_eq!(s.keyword.as_deref(), Some("not slow and add"));
    assert_eq!(s.disabled_plugins, ["randomly"]);
    assert_eq!(s.import_mode, "prepend");
    assert_eq!(s.plugin_options, ["--foo"]);
    assert_eq!(s.addopts[0], "--cov-precision=1");
}

#[test]
fn import_mode_and_junitxml_from_addopts() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pytest.ini",
        "[pytest]\naddopts = --import-mode=importlib --junitxml junit.xml --strict-config -o foo=1\ncolour = no\n",
    );
    let c = found(dir.path());
    // What --strict-config checks: the file's own keys, not those the options set.
    assert_eq!(c.file_keys, ["addopts", "colour"]);
    assert!(c.addopts.ignored.is_empty(), "{:?}", c.addopts.ignored);
    assert_eq!(c.addopts.junitxml.as_deref(), Some("junit.xml"));
    assert_eq!(c.ini["strict_config"], "true");
    let s = PythonSettings::new(Some(&c), dir.path(), None);
    assert_eq!(s.import_mode, "importlib");
    assert_eq!(s.ini["strict_config"], "true");
    assert_eq!(s.ini_file_keys, ["addopts", "colour"]);
}

#[test]
fn errors_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pyproject.toml",
        "[tool.pytest.ini_options\ntestpaths = 1\n",
    );
    let msg = error(dir.path());
    assert!(
        msg.starts_with(&dir.path().join("pyproject.toml").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("is not valid TOML; fix the syntax"), "{msg}");
    std::fs::remove_file(dir.path().join("pyproject.toml")).unwrap();

    write(dir.path(), "pytest.ini", "[pytest]\naddopts -x\n");
    let msg = error(dir.path());
    assert!(
        msg.contains("pytest.ini: line 2: unexpected line: 'addopts -x'"),
        "{msg}"
    );

    write(
        dir.path(),
        "pytest.ini",
        "[pytest]\naddopts = -m 'not slow\n",
    );
    let msg = error(dir.path());
    assert!(
        msg.contains("'addopts' cannot be split into words (No closing quotation)"),
        "{msg}"
    );

    write(
        dir.path(),
        "pytest.ini",
        "[pytest]\naddopts = --maxfail=lots\n",
    );
    assert!(error(dir.path()).contains("addopts: --maxfail needs a whole number"));

    write(
        dir.path(),
        "pytest.ini",
        "[pytest]\nasyncio_mode = sometimes\n",
    );
    assert!(error(dir.path()).contains("'sometimes' is not a valid asyncio_mode"));

    std::fs::write(dir.path().join("pytest.ini"), b"[pytest]\nx = \xff\n").unwrap();
    assert!(error(dir.path()).contains("is not UTF-8 text"));

    std::fs::remove_file(dir.path().join("pytest.ini")).unwrap();
    write(dir.path(), "pytest.toml", "testpaths = ['x']\n");
    assert!(error(dir.path())
        .contains("must be under a [pytest] table (found top-level options: testpaths)"));
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_a_configuration_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "pytest.ini", "[pytest]\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&path).is_ok() {
        return; // running as root: permissions do not stop reading
    }
    assert!(error(dir.path()).contains("cannot be read"));
}
