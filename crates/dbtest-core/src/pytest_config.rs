//! pytest's own configuration, found and read as pytest 9 does (`_pytest/config/findpaths.py`
//! and `Config._getini`), so that `dbtest unit` selects and ends tests as `pytest` would in the
//! same project.
//!
//! In one folder the first of these files that holds pytest configuration is *the* file; the
//! others are not read: `pytest.toml`, `.pytest.toml` (`[pytest]`, native TOML; count even
//! when empty), `pytest.ini`, `.pytest.ini` (`[pytest]`; count even when empty),
//! `pyproject.toml` (`[tool.pytest]` in native TOML, or `[tool.pytest.ini_options]` as text),
//! `tox.ini` (`[pytest]`), `setup.cfg` (`[tool:pytest]`).
//!
//! Values keep pytest's two modes. Text ("ini" mode: INI files, `ini_options`, `-o`) is
//! converted by the setting's type: `args` and `paths` are split as `shlex.split` does,
//! `linelist` gives one entry per non-blank line, `bool` takes y/yes/t/true/on/1 and
//! n/no/f/false/off/0 in any case; a TOML array in `ini_options` is taken as the list it is.
//! Native TOML is checked strictly instead: a list setting needs an array of strings, a bool a
//! boolean. Every key, known or not, is also kept as text for `config.getini`.

mod addopts;
mod ini;
mod shlex;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use addopts::Addopts;

use crate::config::DebugSettings;
use crate::coverage::CoverageSettings;

/// What of addopts dbtest applies, as its warnings say (the Python side's too).
pub const ADDOPTS_APPLIED: &str =
    "dbtest applies -m, -k, -x, --maxfail, -p, -W, -o, --strict-markers, --strict-config, --junitxml, --import-mode, pytest-cov's, -n, --timeout, --reruns and the options of pytest plugins";

use crate::error::{Error, Result};

/// pytest's configuration files, in its order of precedence within one folder.
pub const CONFIG_FILES: [&str; 7] = [
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
];

/// pytest's default `python_files` (`_pytest/python.py`).
pub const DEFAULT_PYTHON_FILES: [&str; 2] = ["test_*.py", "*_test.py"];
/// pytest's `--doctest-glob` when none is given: its doctest plugin collects these text
/// files with or without `--doctest-modules`.
pub const DEFAULT_DOCTEST_GLOBS: [&str; 1] = ["test*.txt"];
/// pytest's default `python_classes`.
pub const DEFAULT_PYTHON_CLASSES: [&str; 1] = ["Test"];
/// pytest's default `python_functions`.
pub const DEFAULT_PYTHON_FUNCTIONS: [&str; 1] = ["test"];
/// pytest's default `norecursedirs` (`_pytest/main.py`).
pub const DEFAULT_NORECURSEDIRS: [&str; 9] = [
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

/// A value as the file holds it, before the setting's type is applied.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// "ini" mode: text.
    Text(String),
    /// "ini" mode: a TOML array in `[tool.pytest.ini_options]`.
    TextList(Vec<String>),
    /// "toml" mode: `[tool.pytest]` or a `pytest.toml`.
    Toml(toml::Value),
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    name: String,
    value: Value,
    /// Set by addopts (`-o`, `--strict-markers`), which wins over the file.
    overridden: bool,
}

/// `asyncio_mode` (pytest-asyncio): in `strict` mode only tests marked `asyncio` run on the
/// event loop; in `auto` every async test does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AsyncioMode {
    #[default]
    Strict,
    Auto,
}

impl AsyncioMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AsyncioMode::Strict => "strict",
            AsyncioMode::Auto => "auto",
        }
    }
}

/// pytest's default `--import-mode`.
pub const DEFAULT_IMPORT_MODE: &str = "prepend";

/// The pytest configuration of a project: the file it came from and the settings dbtest
/// honours, typed and with addopts applied.
#[derive(Debug, Clone, PartialEq)]
pub struct PytestConfig {
    /// The configuration file (pytest's `config.inipath`).
    pub path: PathBuf,
    /// `testpaths`, as written (globs, relative to the rootdir).
    pub testpaths: Vec<String>,
    /// `python_files`; `None` when unset (then [`DEFAULT_PYTHON_FILES`]).
    pub python_files: Option<Vec<String>>,
    pub python_classes: Vec<String>,
    pub python_functions: Vec<String>,
    /// `norecursedirs`; `None` when unset (then [`DEFAULT_NORECURSEDIRS`]).
    pub norecursedirs: Option<Vec<String>>,
    /// `pythonpath`, resolved against the configuration file's folder.
    pub pythonpath: Vec<PathBuf>,
    /// `markers`, one line each (`slow: marks slow tests`).
    pub markers: Vec<String>,
    /// `strict_markers`, else `strict`.
    pub strict_markers: bool,
    /// `strict_xfail` (or its alias `xfail_strict`), else `strict`.
    pub xfail_strict: bool,
    /// `filterwarnings` in file order, then addopts' `-W` filters (pytest applies them in this
    /// order, so `-W` wins).
    pub filterwarnings: Vec<String>,
    /// `--asyncio-mode` in addopts, else `asyncio_mode`, else strict.
    pub asyncio_mode: AsyncioMode,
    /// What addopts asks for.
    pub addopts: Addopts,
    /// Every key as text (list values joined by newlines), for `config.getini`.
    pub ini: BTreeMap<String, String>,
    /// The keys the file itself sets (not addopts' `-o` or `--strict-*`): what pytest's
    /// `--strict-config` checks.
    pub file_keys: Vec<String>,
}

/// The settings the Python side applies (collection names, marks, warnings, asyncio), handed
/// over once per run and to every worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PythonSettings {
    pub python_classes: Vec<String>,
    pub python_functions: Vec<String>,
    /// Absolute folders to put on `sys.path`.
    pub pythonpath: Vec<String>,
    /// The registered marker names, without descriptions.
    pub markers: Vec<String>,
    pub strict_markers: bool,
    pub xfail_strict: bool,
    pub filterwarnings: Vec<String>,
    /// "strict" or "auto".
    pub asyncio_mode: String,
    pub disabled_plugins: Vec<String>,
    /// addopts' words, for pytest's plugins (`-p NAME`, their options).
    pub addopts: Vec<String>,
    /// addopts' options that pytest's core does not know: the plugins' (see `Addopts`).
    pub plugin_options: Vec<String>,
    /// The configuration file, absolute; `None` without one.
    pub ini_file: Option<String>,
    pub ini: BTreeMap<String, String>,
    /// The mark expression in effect (`-t`/`-m`, `[tool.dbtest] tags` or addopts' `-m`).
    pub markexpr: Option<String>,
    /// pytest's `-k` expression in effect (from addopts).
    pub keyword: Option<String>,
    pub rootdir: String,
    /// What coverage measures and reports, with `--cov`; set by the run's plan.
    pub coverage: Option<CoverageSettings>,
    /// The keys the configuration file sets, for `--strict-config`.
    pub ini_file_keys: Vec<String>,
    /// addopts' `--import-mode`: "prepend" (pytest's default), "append" or "importlib".
    pub import_mode: String,
    /// The walked paths, absolute (command line, `[tool.dbtest] paths`, `testpaths`):
    /// `collect_ignore` applies below them, as pytest's does.
    #[serde(default)]
    pub search_paths: Vec<String>,
    /// The test-file patterns of the walk (`python_files`, or `--pattern`): a file collected
    /// for its doctests only (`--doctest-modules`) is no test module unless it matches one.
    #[serde(default)]
    pub python_files: Vec<String>,
    /// Doctests of every `.py` file walked (`--doctest-modules`).
    #[serde(default)]
    pub doctest_modules: bool,
    /// Text files whose doctests run (`--doctest-glob`; pytest's default `test*.txt`).
    #[serde(default)]
    pub doctest_globs: Vec<String>,
    /// Capture and debuggers (`-s`, `--pdb`, `--trace`); set by the run's plan.
    #[serde(default)]
    pub debug: DebugSettings,
}

impl PythonSettings {
    /// The settings of a run rooted at `root`, with pytest's defaults where `pytest` is
    /// `None` or silent.
    pub fn new(pytest: Option<&PytestConfig>, root: &Path, markexpr: Option<String>) -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        match pytest {
            None => PythonSettings {
                python_classes: owned(&DEFAULT_PYTHON_CLASSES),
                python_functions: owned(&DEFAULT_PYTHON_FUNCTIONS),
                pythonpath: Vec::new(),
                markers: Vec::new(),
                strict_markers: false,
                xfail_strict: false,
                filterwarnings: Vec::new(),
                asyncio_mode: AsyncioMode::default().as_str().to_owned(),
                disabled_plugins: Vec::new(),
                addopts: Vec::new(),
                plugin_options: Vec::new(),
                ini_file: None,
                ini: BTreeMap::new(),
                markexpr,
                keyword: None,
                rootdir: root.display().to_string(),
                coverage: None,
                ini_file_keys: Vec::new(),
                import_mode: DEFAULT_IMPORT_MODE.to_owned(),
                search_paths: Vec::new(),
                python_files: owned(&DEFAULT_PYTHON_FILES),
                doctest_modules: false,
                doctest_globs: owned(&DEFAULT_DOCTEST_GLOBS),
                debug: DebugSettings::default(),
            },
            Some(p) => PythonSettings {
                python_classes: p.python_classes.clone(),
                python_functions: p.python_functions.clone(),
                pythonpath: p
                    .pythonpath
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect(),
                markers: p.marker_names(),
                strict_markers: p.strict_markers,
                xfail_strict: p.xfail_strict,
                filterwarnings: p.filterwarnings.clone(),
                asyncio_mode: p.asyncio_mode.as_str().to_owned(),
                disabled_plugins: p.addopts.disabled_plugins.clone(),
                addopts: p.addopts.words.clone(),
                plugin_options: p.addopts.plugin_options.clone(),
                ini_file: Some(p.path.display().to_string()),
                ini: p.ini.clone(),
                markexpr,
                keyword: p.addopts.keyword.clone(),
                rootdir: root.display().to_string(),
                coverage: None,
                ini_file_keys: p.file_keys.clone(),
                import_mode: p
                    .addopts
                    .import_mode
                    .clone()
                    .unwrap_or_else(|| DEFAULT_IMPORT_MODE.to_owned()),
                search_paths: Vec::new(),
                python_files: p.python_files_or_default(),
                doctest_modules: p.addopts.doctest_modules,
                doctest_globs: if p.addopts.doctest_globs.is_empty() {
                    owned(&DEFAULT_DOCTEST_GLOBS)
                } else {
                    p.addopts.doctest_globs.clone()
                },
                debug: DebugSettings::default(),
            },
        }
    }
}

impl PytestConfig {
    /// The configuration pytest takes from `dir`: the first of [`CONFIG_FILES`] there that
    /// holds pytest configuration, or `None`.
    pub fn find_in(dir: &Path) -> Result<Option<PytestConfig>> {
        for name in CONFIG_FILES {
            let path = dir.join(name);
            if path.is_file() {
                if let Some(config) = PytestConfig::from_file(&path)? {
                    return Ok(Some(config));
                }
            }
        }
        Ok(None)
    }

    /// The pytest configuration in `path` (one of [`CONFIG_FILES`], by its name), or `None`
    /// when the file holds none.
    pub fn from_file(path: &Path) -> Result<Option<PytestConfig>> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let entries = match name {
            "pytest.toml" | ".pytest.toml" => Some(pytest_toml(path)?),
            "pytest.ini" | ".pytest.ini" => Some(ini_section(path, "pytest")?.unwrap_or_default()),
            "pyproject.toml" => pyproject(path)?,
            "tox.ini" => ini_section(path, "pytest")?,
            "setup.cfg" => setup_cfg(path)?,
            _ => {
                return Err(config_error(
                    path,
                    "is not a pytest configuration file (pytest reads pytest.toml, pytest.ini, pyproject.toml, tox.ini and setup.cfg)",
                ))
            }
        };
        entries
            .map(|entries| PytestConfig::from_entries(path, entries))
            .transpose()
    }

    /// The registered marker names: `slow(reason): ...` gives `slow`, as pytest splits them.
    pub fn marker_names(&self) -> Vec<String> {
        self.markers
            .iter()
            .map(|line| {
                let signature = line.split(':').next().unwrap_or("");
                signature.split('(').next().unwrap_or("").trim().to_owned()
            })
            .collect()
    }

    /// One warning per addopts option of pytest's core that dbtest does not apply, naming the
    /// file (the plugins' options are the Python side's: `PythonSettings::plugin_options`).
    pub fn ignored_addopts_warnings(&self) -> Vec<String> {
        self.addopts
            .ignored
            .iter()
            .map(|option| {
                format!(
                    "{}: addopts option {option} is ignored ({ADDOPTS_APPLIED})",
                    self.path.display()
                )
            })
            .collect()
    }

    /// `python_files`, or pytest's default when unset.
    pub fn python_files_or_default(&self) -> Vec<String> {
        self.python_files
            .clone()
            .unwrap_or_else(|| DEFAULT_PYTHON_FILES.map(str::to_owned).to_vec())
    }

    /// `norecursedirs`, or pytest's default when unset.
    pub fn norecursedirs_or_default(&self) -> Vec<String> {
        self.norecursedirs
            .clone()
            .unwrap_or_else(|| DEFAULT_NORECURSEDIRS.map(str::to_owned).to_vec())
    }

    fn from_entries(path: &Path, entries: Vec<Entry>) -> Result<PytestConfig> {
        let mut reader = Reader { path, entries };
        let words = reader.args("addopts")?.unwrap_or_default();
        let addopts = Addopts::parse(&words).map_err(|m| reader.error(format!("addopts: {m}")))?;
        let file_keys = reader.entries.iter().map(|e| e.name.clone()).collect();
        for (name, value) in &addopts.overrides {
            reader.set_override(name, value);
        }
        let strict = reader.bool("strict")?.unwrap_or(false);
        let asyncio = match &addopts.asyncio_mode {
            Some(mode) => Some(mode.clone()),
            None => reader.string("asyncio_mode")?,
        };
        let asyncio_mode = match asyncio.as_deref() {
            None | Some("strict") => AsyncioMode::Strict,
            Some("auto") => AsyncioMode::Auto,
            Some(other) => {
                return Err(reader.error(format!(
                    "'{other}' is not a valid asyncio_mode; use \"strict\" or \"auto\""
                )))
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut filterwarnings = reader.linelist("filterwarnings")?.unwrap_or_default();
        filterwarnings.extend(addopts.pythonwarnings.iter().cloned());
        let defaults = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Ok(PytestConfig {
            path: path.to_path_buf(),
            testpaths: reader.args("testpaths")?.unwrap_or_default(),
            python_files: reader.args("python_files")?,
            python_classes: reader
                .args("python_classes")?
                .unwrap_or_else(|| defaults(&DEFAULT_PYTHON_CLASSES)),
            python_functions: reader
                .args("python_functions")?
                .unwrap_or_else(|| defaults(&DEFAULT_PYTHON_FUNCTIONS)),
            norecursedirs: reader.args("norecursedirs")?,
            pythonpath: reader
                .args_typed("pythonpath", "paths")?
                .unwrap_or_default()
                .into_iter()
                .map(|p| base.join(p))
                .collect(),
            markers: reader.linelist("markers")?.unwrap_or_default(),
            strict_markers: reader.bool("strict_markers")?.unwrap_or(strict),
            xfail_strict: reader.bool("strict_xfail")?.unwrap_or(strict),
            filterwarnings,
            asyncio_mode,
            ini: reader
                .entries
                .iter()
                .map(|e| (e.name.clone(), raw_text(&e.value)))
                .collect(),
            addopts,
            file_keys,
        })
    }
}

/// Names pytest reads under another name too: `xfail_strict` is `strict_xfail`'s alias.
const ALIASES: &[(&str, &str)] = &[("xfail_strict", "strict_xfail")];

/// Reads typed values out of a file's entries, as `Config.getini` does.
struct Reader<'a> {
    path: &'a Path,
    entries: Vec<Entry>,
}

impl Reader<'_> {
    fn error(&self, message: String) -> Error {
        Error::Config {
            path: self.path.to_path_buf(),
            message,
        }
    }

    /// pytest's `inicfg.update(overrides)`: the override replaces the file's value.
    fn set_override(&mut self, name: &str, value: &str) {
        let entry = Entry {
            name: name.to_owned(),
            value: Value::Text(value.to_owned()),
            overridden: true,
        };
        match self.entries.iter_mut().find(|e| e.name == name) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// The value of `name` or an alias of it (an override first, then the canonical name),
    /// with the name it was written under, for messages.
    fn get(&self, name: &str) -> Option<(&str, &Value)> {
        self.entries
            .iter()
            .filter_map(|e| {
                let canonical = e.name == name;
                let alias = ALIASES.iter().any(|&(a, c)| c == name && a == e.name);
                (canonical || alias).then_some((e, canonical))
            })
            .max_by_key(|(e, canonical)| (e.overridden, *canonical))
            .map(|(e, _)| (e.name.as_str(), &e.value))
    }

    fn expects(&self, name: &str, what: &str, value: &toml::Value, fix: &str) -> Error {
        self.error(format!(
            "config option '{name}' expects {what}, got {} {}: {fix}",
            value.type_str(),
            toml_repr(value)
        ))
    }

    fn args(&self, name: &str) -> Result<Option<Vec<String>>> {
        self.args_typed(name, "args")
    }

    /// An `args` or `paths` value: words.
    fn args_typed(&self, name: &str, kind: &str) -> Result<Option<Vec<String>>> {
        let Some((name, value)) = self.get(name) else {
            return Ok(None);
        };
        match value {
            Value::Text(text) => shlex::split(text).map(Some).map_err(|e| {
                self.error(format!(
                    "config option '{name}' cannot be split into words ({}): {text:?}; balance its quotes",
                    e.0
                ))
            }),
            Value::TextList(list) => Ok(Some(list.clone())),
            Value::Toml(value) => self.string_array(name, kind, value).map(Some),
        }
    }

    fn string_array(&self, name: &str, kind: &str, value: &toml::Value) -> Result<Vec<String>> {
        let example = format!("write {name} = [\"...\"]");
        let toml::Value::Array(items) = value else {
            return Err(self.expects(name, &format!("a list for type '{kind}'"), value, &example));
        };
        items
            .iter()
            .map(|item| match item {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(self.expects(name, "a list of strings", other, &example)),
            })
            .collect()
    }

    fn linelist(&self, name: &str) -> Result<Option<Vec<String>>> {
        let Some((name, value)) = self.get(name) else {
            return Ok(None);
        };
        match value {
            Value::Text(text) => Ok(Some(
                text.split('\n')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            Value::TextList(list) => Ok(Some(list.clone())),
            Value::Toml(value) => self.string_array(name, "linelist", value).map(Some),
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>> {
        let Some((name, value)) = self.get(name) else {
            return Ok(None);
        };
        let text = match value {
            Value::Toml(toml::Value::Boolean(b)) => return Ok(Some(*b)),
            Value::Toml(other) => {
                return Err(self.expects(name, "a bool", other, &format!("write {name} = true")))
            }
            Value::Text(text) => text.trim().to_owned(),
            Value::TextList(list) => python_list_repr(list),
        };
        match text.to_lowercase().as_str() {
            "y" | "yes" | "t" | "true" | "on" | "1" => Ok(Some(true)),
            "n" | "no" | "f" | "false" | "off" | "0" => Ok(Some(false)),
            _ => Err(self.error(format!(
                "config option '{name}' is not true or false: invalid truth value '{text}'; write {name} = true (or false)"
            ))),
        }
    }

    fn string(&self, name: &str) -> Result<Option<String>> {
        let Some((name, value)) = self.get(name) else {
            return Ok(None);
        };
        match value {
            Value::Text(text) => Ok(Some(text.clone())),
            Value::TextList(list) => Ok(Some(list.join("\n"))),
            Value::Toml(toml::Value::String(s)) => Ok(Some(s.clone())),
            Value::Toml(other) => {
                Err(self.expects(name, "a string", other, &format!("write {name} = \"...\"")))
            }
        }
    }
}

fn config_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Config {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::InvalidData {
            "is not UTF-8 text; save it as UTF-8 (pytest reads it so too)".to_owned()
        } else {
            format!("cannot be read ({e}); fix its permissions or remove it")
        };
        config_error(path, message)
    })
}

fn parse_toml(path: &Path) -> Result<toml::Table> {
    let text = read_text(path)?;
    toml::from_str(&text).map_err(|e| {
        config_error(
            path,
            format!(
                "is not valid TOML; fix the syntax (pytest cannot read it either): {}",
                e.to_string().trim_end()
            ),
        )
    })
}

fn parse_ini(path: &Path) -> Result<ini::Ini> {
    let text = read_text(path)?;
    ini::parse(&text).map_err(|e| {
        config_error(
            path,
            format!(
                "line {}: {}; fix the line (pytest cannot read this file either)",
                e.line, e.message
            ),
        )
    })
}

fn text_entries(pairs: impl IntoIterator<Item = (String, Value)>) -> Vec<Entry> {
    pairs
        .into_iter()
        .map(|(name, value)| Entry {
            name,
            value,
            overridden: false,
        })
        .collect()
}

fn ini_section(path: &Path, section: &str) -> Result<Option<Vec<Entry>>> {
    let ini = parse_ini(path)?;
    Ok(ini.sections.get(section).map(|s| {
        text_entries(
            s.entries
                .iter()
                .map(|(k, v)| (k.clone(), Value::Text(v.clone()))),
        )
    }))
}

fn setup_cfg(path: &Path) -> Result<Option<Vec<Entry>>> {
    let ini = parse_ini(path)?;
    if ini.sections.contains_key("tool:pytest") {
        return ini_section(path, "tool:pytest");
    }
    if ini.sections.contains_key("pytest") {
        // pytest stops here too (#3086).
        return Err(config_error(
            path,
            "[pytest] section in setup.cfg files is no longer supported, change to [tool:pytest] instead",
        ));
    }
    Ok(None)
}

fn toml_entries(table: &toml::Table) -> Vec<Entry> {
    text_entries(
        table
            .iter()
            .map(|(k, v)| (k.clone(), Value::Toml(v.clone()))),
    )
}

fn pytest_toml(path: &Path) -> Result<Vec<Entry>> {
    let doc = parse_toml(path)?;
    match doc.get("pytest") {
        Some(toml::Value::Table(table)) => Ok(toml_entries(table)),
        Some(_) => Err(config_error(
            path,
            "`pytest` must be a table: write [pytest] above the options",
        )),
        None => {
            let top: Vec<&str> = doc
                .iter()
                .filter(|(_, v)| !v.is_table())
                .map(|(k, _)| k.as_str())
                .collect();
            if top.is_empty() {
                Ok(Vec::new())
            } else {
                Err(config_error(
                    path,
                    format!(
                        "pytest configuration must be under a [pytest] table (found top-level options: {})",
                        top.join(", ")
                    ),
                ))
            }
        }
    }
}

fn pyproject(path: &Path) -> Result<Option<Vec<Entry>>> {
    let doc = parse_toml(path)?;
    let Some(tool_pytest) = doc.get("tool").and_then(|t| t.get("pytest")) else {
        return Ok(None);
    };
    let Some(tool_pytest) = tool_pytest.as_table() else {
        return Err(config_error(path, "`tool.pytest` must be a table: write [tool.pytest] or [tool.pytest.ini_options] above the options"));
    };
    let native: toml::Table = tool_pytest
        .iter()
        .filter(|(k, _)| k.as_str() != "ini_options")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let ini_options = tool_pytest.get("ini_options");
    match (native.is_empty(), ini_options) {
        (false, Some(_)) => Err(config_error(
            path,
            "Cannot use both [tool.pytest] (native TOML types) and [tool.pytest.ini_options] (string-based INI format) simultaneously; keep one of them (pytest refuses both)",
        )),
        (false, None) => Ok(Some(toml_entries(&native))),
        (true, Some(toml::Value::Table(options))) => Ok(Some(text_entries(options.iter().map(
            |(k, v)| {
                // pytest's `make_scalar`: lists stay lists, anything else becomes its str().
                let value = match v {
                    toml::Value::Array(items) => Value::TextList(items.iter().map(python_str).collect()),
                    other => Value::Text(python_str(other)),
                };
                (k.clone(), value)
            },
        )))),
        (true, Some(_)) => Err(config_error(path, "`tool.pytest.ini_options` must be a table: write [tool.pytest.ini_options] above the options")),
        (true, None) => Ok(None),
    }
}

/// Python's `str()` of the value `tomllib` gives: what pytest makes of a scalar in
/// `[tool.pytest.ini_options]` (`true` becomes "True").
fn python_str(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => toml_repr(other),
    }
}

/// Python's `repr()` of the value `tomllib` gives.
fn toml_repr(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("'{s}'"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) if f.is_nan() => "nan".into(),
        toml::Value::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.into(),
        toml::Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(true) => "True".into(),
        toml::Value::Boolean(false) => "False".into(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(toml_repr).collect::<Vec<_>>().join(", ")
            )
        }
        toml::Value::Table(t) => format!(
            "{{{}}}",
            t.iter()
                .map(|(k, v)| format!("'{k}': {}", toml_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_list_repr(list: &[String]) -> String {
    format!(
        "[{}]",
        list.iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A value as text for `config.getini`: lists one item per line.
fn raw_text(value: &Value) -> String {
    match value {
        Value::Text(text) => text.clone(),
        Value::TextList(list) => list.join("\n"),
        Value::Toml(toml::Value::Array(items)) => {
            items.iter().map(python_str).collect::<Vec<_>>().join("\n")
        }
        Value::Toml(other) => python_str(other),
    }
}

#[cfg(test)]
mod tests;
