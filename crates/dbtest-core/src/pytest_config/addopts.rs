//! pytest's `addopts`: the command-line options a project always passes. dbtest takes the
//! ones that change which tests run or how they end, ignores the ones that only change what
//! pytest prints, and lists the rest so the user is told they have no effect.
//!
//! The words are read as pytest's argparse parser reads them: `-mEXPR`, `-m EXPR` and
//! `-m=EXPR`; clusters of short flags (`-vx`, `-ra`); `--name=value` and `--name value`; no
//! abbreviated long options (pytest turns them off); a later `-m`, `-k` or `--maxfail` wins.

use crate::config::{CaptureMode, TbStyle};
use crate::coverage::CoverageArgs;

/// What `addopts` asks for that dbtest honours. An empty `-m` or `-k` is no filter, as in
/// pytest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Addopts {
    /// Every word, as split: pytest's plugins read their own options (and `-p`) from them.
    pub words: Vec<String>,
    /// `-m EXPR`: the mark expression.
    pub markexpr: Option<String>,
    /// `-k EXPR`: pytest's keyword expression.
    pub keyword: Option<String>,
    /// `-x` (1) or `--maxfail N`; `--maxfail 0` is no limit.
    pub maxfail: Option<u32>,
    /// `-p no:NAME`: the plugins turned off.
    pub disabled_plugins: Vec<String>,
    /// Options pytest's core does not know, each as written with its value (`--cov src`):
    /// the plugins' (and conftests'). The Python side hands them to the plugins that define
    /// them and names those none does, once it knows them all.
    pub plugin_options: Vec<String>,
    /// `-W FILTER`, in order.
    pub pythonwarnings: Vec<String>,
    /// `--asyncio-mode MODE` (pytest-asyncio's flag; it wins over the `asyncio_mode` setting).
    pub asyncio_mode: Option<String>,
    /// pytest-xdist's `-n N|auto|logical`: a number of workers, or `None` for as many as cores.
    pub numprocesses: Option<Option<u32>>,
    /// pytest-timeout's `--timeout SECONDS` (0: none).
    pub timeout: Option<f64>,
    /// pytest-rerunfailures' `--reruns N`.
    pub reruns: Option<u32>,
    /// `--junitxml PATH`: where pytest writes its JUnit XML report (dbtest writes its own there).
    pub junitxml: Option<String>,
    /// `--import-mode MODE`: `prepend` (pytest's default), `append` or `importlib`.
    pub import_mode: Option<String>,
    /// `--doctest-modules`: the doctests of every `.py` file walked.
    pub doctest_modules: bool,
    /// `--doctest-glob PATTERN`, each: the text files whose doctests run.
    pub doctest_globs: Vec<String>,
    /// Settings the options set, as pytest applies them over the file's: `-o NAME=VALUE`,
    /// and `--strict-markers`, `--strict`, `--strict-config` (`strict_markers=true`, ...).
    pub overrides: Vec<(String, String)>,
    /// pytest-cov's options (`--cov src`, `--cov-report=xml`, ...).
    pub coverage: CoverageArgs,
    /// `-s`, `--capture`, `--pdb`, `--trace`, `--tb`, `-l`.
    pub debug: AddoptsDebug,
    /// Options dbtest does not apply, each as written with its value
    /// (`--import-mode=append`), for a warning.
    pub ignored: Vec<String>,
}

/// The debugging options of addopts (DESIGN section 4f).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AddoptsDebug {
    pub capture: Option<CaptureMode>,
    pub pdb: bool,
    pub trace: bool,
    pub tb: Option<TbStyle>,
    pub showlocals: Option<bool>,
}

/// How dbtest treats an option of pytest's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Keyword,
    Markexpr,
    Exitfirst,
    Maxfail,
    Warning,
    Plugin,
    Override,
    AsyncioMode,
    /// Options of plugins the engine serves (DESIGN 4c): `-n`, `--timeout`, `--reruns`.
    Numprocesses,
    Timeout,
    Reruns,
    JunitXml,
    ImportMode,
    DoctestModules,
    DoctestGlob,
    /// `--strict-markers` & co: the setting it turns on.
    SetTrue(&'static str),
    /// pytest-cov's options, each by what it sets.
    Cov(CovOption),
    /// `-s`: `--capture=no`.
    NoCapture,
    Capture,
    Pdb,
    Trace,
    Tb,
    ShowLocals(bool),
    /// Only changes pytest's output: dropped without a word.
    Display,
    /// A pytest option dbtest does not apply: warned about.
    Unsupported,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CovOption {
    /// `--cov[=SOURCE]`: its value is optional.
    Source,
    /// `--cov-reset`: forget the sources given so far.
    Reset,
    Report,
    Branch,
    FailUnder,
    Config,
    Context,
    Append,
    Off,
}

use Effect::*;

/// pytest 9's options (from its argparse parser, builtin plugins included) and
/// pytest-asyncio's `--asyncio-mode`: the names, whether it takes a value, and its effect.
const OPTIONS: &[(&[&str], bool, Effect)] = &[
    (&["-k"], true, Keyword),
    (&["-m"], true, Markexpr),
    (&["-x", "--exitfirst"], false, Exitfirst),
    (&["--maxfail"], true, Maxfail),
    (&["-W", "--pythonwarnings"], true, Warning),
    (&["-p"], true, Plugin),
    (&["-o", "--override-ini"], true, Override),
    (&["--asyncio-mode"], true, AsyncioMode),
    // pytest-cov's (`--cov` alone is handled where options are read: its value is optional).
    (&["--cov-reset"], false, Cov(CovOption::Reset)),
    (&["--cov-report"], true, Cov(CovOption::Report)),
    (&["--cov-branch"], false, Cov(CovOption::Branch)),
    (&["--cov-fail-under"], true, Cov(CovOption::FailUnder)),
    (&["--cov-config"], true, Cov(CovOption::Config)),
    (&["--cov-context"], true, Cov(CovOption::Context)),
    (&["--cov-append"], false, Cov(CovOption::Append)),
    (&["--no-cov"], false, Cov(CovOption::Off)),
    (&["--no-cov-on-fail"], false, Unsupported),
    (&["--cov-precision"], true, Unsupported),
    (&["-n", "--numprocesses"], true, Numprocesses),
    (&["--timeout"], true, Timeout),
    (&["--reruns"], true, Reruns),
    (&["--strict-markers"], false, SetTrue("strict_markers")),
    (&["--strict"], false, SetTrue("strict")),
    (&["--strict-config"], false, SetTrue("strict_config")),
    (&["-v", "--verbose"], false, Display),
    (&["-q", "--quiet"], false, Display),
    (&["--verbosity"], true, Display),
    (&["-r", "--report-chars"], true, Display),
    (&["--tb"], true, Tb),
    (&["--color"], true, Display),
    (&["--code-highlight"], true, Display),
    (&["--no-header"], false, Display),
    (&["--no-summary"], false, Display),
    (&["--no-fold-skipped"], false, Display),
    (&["--force-short-summary"], false, Display),
    (
        &["--disable-warnings", "--disable-pytest-warnings"],
        false,
        Display,
    ),
    (&["-l", "--showlocals"], false, ShowLocals(true)),
    (&["--no-showlocals"], false, ShowLocals(false)),
    (&["--xfail-tb"], false, Display),
    (&["--show-capture"], true, Display),
    (&["--fulltrace", "--full-trace"], false, Display),
    (&["--durations"], true, Display),
    (&["--durations-min"], true, Display),
    (&["-s"], false, NoCapture),
    (&["--capture"], true, Capture),
    (&["--setupshow", "--setup-show"], false, Display),
    (&["--log-format"], true, Display),
    (&["--log-date-format"], true, Display),
    (&["--log-cli-level"], true, Display),
    (&["--log-cli-format"], true, Display),
    (&["--log-cli-date-format"], true, Display),
    (&["--log-file"], true, Display),
    (&["--log-file-mode"], true, Display),
    (&["--log-file-level"], true, Display),
    (&["--log-file-format"], true, Display),
    (&["--log-file-date-format"], true, Display),
    (&["--log-auto-indent"], true, Display),
    (&["--markers"], false, Unsupported),
    (&["--fixtures", "--funcargs"], false, Unsupported),
    (&["--fixtures-per-test"], false, Unsupported),
    (&["--pdb"], false, Pdb),
    (&["--pdbcls"], true, Unsupported),
    (&["--trace"], false, Trace),
    (&["--runxfail"], false, Unsupported),
    (&["--lf", "--last-failed"], false, Unsupported),
    (&["--ff", "--failed-first"], false, Unsupported),
    (&["--nf", "--new-first"], false, Unsupported),
    (&["--cache-show"], true, Unsupported),
    (&["--cache-clear"], false, Unsupported),
    (&["--lfnf", "--last-failed-no-failures"], true, Unsupported),
    (&["--sw", "--stepwise"], false, Unsupported),
    (&["--sw-skip", "--stepwise-skip"], false, Unsupported),
    (&["--sw-reset", "--stepwise-reset"], false, Unsupported),
    (&["--pastebin"], true, Unsupported),
    (&["--junitxml", "--junit-xml"], true, JunitXml),
    (&["--junitprefix", "--junit-prefix"], true, Unsupported),
    (&["--max-warnings"], true, Unsupported),
    (
        &["--collectonly", "--collect-only", "--co"],
        false,
        Unsupported,
    ),
    (&["--pyargs"], false, Unsupported),
    (&["--ignore"], true, Unsupported),
    (&["--ignore-glob"], true, Unsupported),
    (&["--deselect"], true, Unsupported),
    (&["--confcutdir"], true, Unsupported),
    (&["--noconftest"], false, Unsupported),
    (
        &["--keepduplicates", "--keep-duplicates"],
        false,
        Unsupported,
    ),
    (&["--collect-in-virtualenv"], false, Unsupported),
    (&["--continue-on-collection-errors"], false, Unsupported),
    (&["--import-mode"], true, ImportMode),
    (&["--doctest-modules"], false, DoctestModules),
    (&["--doctest-report"], true, Unsupported),
    (&["--doctest-glob"], true, DoctestGlob),
    (&["--doctest-ignore-import-errors"], false, Unsupported),
    (&["--doctest-continue-on-failure"], false, Unsupported),
    (&["-c", "--config-file"], true, Unsupported),
    (&["--rootdir"], true, Unsupported),
    (&["--basetemp"], true, Unsupported),
    (&["-V", "--version"], false, Unsupported),
    (&["-h", "--help"], false, Unsupported),
    (&["--disable-plugin-autoload"], false, Unsupported),
    (&["--traceconfig", "--trace-config"], false, Unsupported),
    (&["--debug"], false, Unsupported),
    (&["--assert"], true, Unsupported),
    (&["--setuponly", "--setup-only"], false, Unsupported),
    (&["--setupplan", "--setup-plan"], false, Unsupported),
    // The captured log level decides what caplog sees, so a test's outcome can depend on it.
    (&["--log-level"], true, Unsupported),
    (&["--log-disable"], true, Unsupported),
];

fn lookup(name: &str) -> Option<(bool, Effect)> {
    OPTIONS
        .iter()
        .find(|(names, _, _)| names.contains(&name))
        .map(|&(_, takes_value, effect)| (takes_value, effect))
}

/// The words still to read.
struct Cursor<'a> {
    words: &'a [String],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn next(&mut self) -> Option<&'a String> {
        let word = self.words.get(self.at)?;
        self.at += 1;
        Some(word)
    }

    /// The next word if it is not an option.
    fn next_value(&mut self) -> Option<&'a String> {
        let word = self.words.get(self.at).filter(|w| !w.starts_with('-'))?;
        self.at += 1;
        Some(word)
    }

    fn value_for(&mut self, name: &str) -> Result<String, String> {
        self.next().cloned().ok_or_else(|| {
            format!("{name} at the end of addopts needs a value (e.g. {name} VALUE)")
        })
    }
}

impl Addopts {
    /// Reads the words of `addopts` (already split). `Err` carries a message for a value
    /// pytest itself would refuse (`--maxfail x`, `-o name` without `=`, `-m` at the end).
    pub fn parse(words: &[String]) -> Result<Addopts, String> {
        let mut out = Addopts {
            words: words.to_vec(),
            ..Addopts::default()
        };
        let mut rest = Cursor { words, at: 0 };
        while let Some(word) = rest.next() {
            if word == "--" {
                while let Some(word) = rest.next() {
                    out.ignored.push(word.clone());
                }
                break;
            }
            if let Some(long) = word.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((name, value)) => (format!("--{name}"), Some(value.to_owned())),
                    None => (word.clone(), None),
                };
                if name == "--cov" {
                    // argparse's `nargs="?"`: a following word that is not an option is the
                    // source.
                    let value = inline.or_else(|| rest.next_value().cloned());
                    out.apply(
                        Cov(CovOption::Source),
                        &name,
                        Some(value.as_deref().unwrap_or("")),
                    )?;
                    continue;
                }
                match lookup(&name) {
                    Some((true, effect)) => {
                        let value = match inline {
                            Some(v) => v,
                            None => rest.value_for(&name)?,
                        };
                        out.apply(effect, &name, Some(&value))?;
                    }
                    Some((false, effect)) if inline.is_none() => out.apply(effect, &name, None)?,
                    // A flag given a value (`--strict=1`): pytest refuses it; say it is unused.
                    Some((false, _)) => out.ignored.push(word.clone()),
                    None => out.unknown(word, inline.is_none(), &mut rest),
                }
            } else if word.len() > 1 && word.starts_with('-') {
                out.short_cluster(word, &mut rest)?;
            } else {
                // A path for pytest to run; dbtest's paths come from its own settings.
                out.ignored.push(word.clone());
            }
        }
        Ok(out)
    }

    /// `-vx`, `-ra`, `-mslow`, `-m=slow`, `-m slow`: flags up to the first option that takes
    /// a value, which takes the rest of the word or the next word.
    fn short_cluster(&mut self, word: &str, rest: &mut Cursor<'_>) -> Result<(), String> {
        let chars: Vec<char> = word.chars().skip(1).collect();
        let mut effects = Vec::new();
        for (at, &c) in chars.iter().enumerate() {
            let name = format!("-{c}");
            match lookup(&name) {
                Some((true, effect)) => {
                    let tail: String = chars[at + 1..].iter().collect();
                    // `-m=slow` is `-m slow`, but only right after the first option.
                    let tail = match tail.strip_prefix('=') {
                        Some(t) if at == 0 => t.to_owned(),
                        _ => tail,
                    };
                    let value = if tail.is_empty() {
                        rest.value_for(&name)?
                    } else {
                        tail
                    };
                    effects.push((effect, name, Some(value)));
                    break;
                }
                Some((false, effect)) => effects.push((effect, name, None)),
                None => {
                    self.unknown(word, true, rest);
                    return Ok(());
                }
            }
        }
        for (effect, name, value) in effects {
            self.apply(effect, &name, value.as_deref())?;
        }
        Ok(())
    }

    /// An option pytest's core does not know (a plugin's). Whether it takes a value cannot be
    /// known, so a following word that is not an option goes with it: `--foo src`,
    /// `--dist loadfile`, `--reruns-delay 3` are each one warning.
    fn unknown(&mut self, word: &str, may_take_next: bool, rest: &mut Cursor<'_>) {
        let value = if may_take_next {
            rest.next_value()
        } else {
            None
        };
        match value {
            Some(value) => self.plugin_options.push(format!("{word} {value}")),
            None => self.plugin_options.push(word.to_owned()),
        }
    }

    fn apply(&mut self, effect: Effect, name: &str, value: Option<&str>) -> Result<(), String> {
        let value = value.unwrap_or_default();
        let text = |value: &str| {
            if value.trim().is_empty() {
                None
            } else {
                Some(value.to_owned())
            }
        };
        match effect {
            Keyword => self.keyword = text(value),
            Markexpr => self.markexpr = text(value),
            Exitfirst => self.maxfail = Some(1),
            Maxfail => {
                let n: i64 = value.trim().parse().map_err(|_| {
                    format!("--maxfail needs a whole number, got '{value}' (e.g. --maxfail 3)")
                })?;
                // pytest stops when failures >= maxfail, and 0 means never.
                self.maxfail = match n {
                    0 => None,
                    n if n < 0 => Some(1),
                    n => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                };
            }
            Warning => self.pythonwarnings.push(value.to_owned()),
            // `-p NAME` is loaded by the Python side, as pytest does (DESIGN section 4c).
            Plugin => {
                if let Some(plugin) = value.strip_prefix("no:") {
                    self.disabled_plugins.push(plugin.trim().to_owned());
                }
            }
            Override => {
                let (key, v) = value.split_once('=').ok_or_else(|| {
                    format!("{name} expects option=value style (got: '{value}'), e.g. -o xfail_strict=true")
                })?;
                self.overrides.push((key.to_owned(), v.to_owned()));
            }
            AsyncioMode => self.asyncio_mode = Some(value.to_owned()),
            Cov(option) => self.coverage_option(option, value)?,
            Numprocesses => {
                self.numprocesses = Some(match value.trim() {
                    "auto" | "logical" => None,
                    n => Some(n.parse().map_err(|_| {
                        format!(
                            "{name} needs a number of workers or 'auto', got '{value}' (e.g. -n 4)"
                        )
                    })?),
                });
            }
            Timeout => {
                let seconds: f64 = value.trim().parse().map_err(|_| {
                    format!(
                        "--timeout needs a number of seconds, got '{value}' (e.g. --timeout 30)"
                    )
                })?;
                self.timeout = Some(seconds);
            }
            Reruns => {
                let n: u32 = value.trim().parse().map_err(|_| {
                    format!("--reruns needs a whole number, got '{value}' (e.g. --reruns 2)")
                })?;
                self.reruns = Some(n);
            }
            JunitXml => self.junitxml = text(value),
            ImportMode => {
                if !IMPORT_MODES.contains(&value) {
                    return Err(format!(
                        "{name}: invalid choice: '{value}' (choose from {})",
                        IMPORT_MODES.join(", ")
                    ));
                }
                self.import_mode = Some(value.to_owned());
            }
            DoctestModules => self.doctest_modules = true,
            DoctestGlob => self.doctest_globs.push(value.to_owned()),
            SetTrue(setting) => self.overrides.push((setting.to_owned(), "true".to_owned())),
            NoCapture => self.debug.capture = Some(CaptureMode::No),
            Capture => {
                self.debug.capture = Some(CaptureMode::parse(value).ok_or_else(|| {
                    format!("--capture takes no, sys, fd or tee-sys, got '{value}'")
                })?);
            }
            Pdb => self.debug.pdb = true,
            Tb => {
                self.debug.tb = Some(TbStyle::parse(value).ok_or_else(|| {
                    format!("--tb takes auto, long, short, line, native or no, got '{value}'")
                })?);
            }
            ShowLocals(on) => self.debug.showlocals = Some(on),
            Trace => self.debug.trace = true,
            Display => {}
            Unsupported => self
                .ignored
                .push(if value.is_empty() && !takes_value(name) {
                    name.to_owned()
                } else {
                    format!("{name} {value}")
                }),
        }
        Ok(())
    }
}

impl Addopts {
    fn coverage_option(&mut self, option: CovOption, value: &str) -> Result<(), String> {
        let cov = &mut self.coverage;
        match option {
            CovOption::Source => cov.cov.get_or_insert_with(Vec::new).push(value.to_owned()),
            CovOption::Reset => cov.cov = Some(Vec::new()).filter(|_| cov.cov.is_some()),
            CovOption::Report => cov
                .cov_report
                .get_or_insert_with(Vec::new)
                .push(value.to_owned()),
            CovOption::Branch => cov.cov_branch = Some(true),
            CovOption::FailUnder => {
                let pct: f64 = value.trim().parse().map_err(|_| {
                    format!("--cov-fail-under needs a percentage, got '{value}' (e.g. --cov-fail-under 90)")
                })?;
                cov.cov_fail_under = Some(pct);
            }
            CovOption::Config => cov.cov_config = Some(value.to_owned()),
            CovOption::Context => cov.cov_context = Some(value.to_owned()),
            CovOption::Append => cov.cov_append = Some(true),
            CovOption::Off => cov.no_cov = Some(true),
        }
        Ok(())
    }
}

/// pytest's `--import-mode` choices.
const IMPORT_MODES: [&str; 3] = ["prepend", "append", "importlib"];

fn takes_value(name: &str) -> bool {
    lookup(name).is_some_and(|(takes, _)| takes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Addopts {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        Addopts::parse(&words).unwrap()
    }

    fn err(words: &[&str]) -> String {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        Addopts::parse(&words).unwrap_err()
    }

    #[test]
    fn pytest_cov_options_with_and_without_a_source() {
        let a = parse(&[
            "--cov=pkg",
            "--cov",
            "other",
            "--cov",
            "--cov-report=xml",
            "-x",
        ]);
        assert_eq!(
            a.coverage.cov,
            Some(vec!["pkg".into(), "other".into(), String::new()])
        );
        assert_eq!(a.coverage.cov_report, Some(vec!["xml".into()]));
        assert_eq!(a.maxfail, Some(1));
        let b = parse(&[
            "--cov",
            "--cov-branch",
            "--cov-fail-under",
            "85",
            "--no-cov",
        ]);
        assert_eq!(b.coverage.cov, Some(vec![String::new()]));
        assert_eq!(b.coverage.cov_branch, Some(true));
        assert_eq!(b.coverage.cov_fail_under, Some(85.0));
        assert_eq!(b.coverage.no_cov, Some(true));
        assert!(b.ignored.is_empty(), "{:?}", b.ignored);
        assert!(err(&["--cov-fail-under=most"]).contains("percentage"));
    }

    #[test]
    fn selection_options_in_every_spelling() {
        let a = parse(&["-m", "not slow", "-k", "add and not sub"]);
        assert_eq!(a.markexpr.as_deref(), Some("not slow"));
        assert_eq!(a.keyword.as_deref(), Some("add and not sub"));
        assert_eq!(parse(&["-mslow"]).markexpr.as_deref(), Some("slow"));
        assert_eq!(parse(&["-m=slow"]).markexpr.as_deref(), Some("slow"));
        assert_eq!(parse(&["-kfoo"]).keyword.as_deref(), Some("foo"));
        // The later one wins; an empty one is no filter.
        assert_eq!(
            parse(&["-m", "a", "-m", "b"]).markexpr.as_deref(),
            Some("b")
        );
        assert_eq!(parse(&["-m", "a", "-m", ""]).markexpr, None);
    }

    #[test]
    fn doctest_options_are_honoured() {
        let a = parse(&[
            "--doctest-modules",
            "--doctest-glob",
            "*.rst",
            "--doctest-glob=x*.txt",
        ]);
        assert!(a.doctest_modules);
        assert_eq!(a.doctest_globs, ["*.rst", "x*.txt"]);
        assert!(a.ignored.is_empty());
        assert!(!parse(&["-q"]).doctest_modules);
    }

    #[test]
    fn exitfirst_and_maxfail_share_one_setting() {
        assert_eq!(parse(&["-x"]).maxfail, Some(1));
        assert_eq!(parse(&["--exitfirst"]).maxfail, Some(1));
        assert_eq!(parse(&["--maxfail", "3"]).maxfail, Some(3));
        assert_eq!(parse(&["--maxfail=3", "-x"]).maxfail, Some(1));
        assert_eq!(parse(&["-x", "--maxfail=3"]).maxfail, Some(3));
        assert_eq!(parse(&["--maxfail=0"]).maxfail, None);
        assert!(err(&["--maxfail", "many"]).contains("whole number"));
        assert!(err(&["--maxfail"]).contains("needs a value"));
    }

    #[test]
    fn short_flags_cluster_and_display_options_vanish() {
        let a = parse(&[
            "-ra",
            "-vvx",
            "-q",
            "--tb=short",
            "--tb",
            "line",
            "-s",
            "--color=yes",
            "-l",
        ]);
        assert_eq!(a.maxfail, Some(1));
        assert!(a.ignored.is_empty(), "{:?}", a.ignored);
        // -r takes the rest of the word, so the x here is its value, not -x.
        assert_eq!(parse(&["-rx"]).maxfail, None);
    }

    #[test]
    fn capture_and_debuggers_apply() {
        assert_eq!(parse(&["-s"]).debug.capture, Some(CaptureMode::No));
        assert_eq!(parse(&["-vs"]).debug.capture, Some(CaptureMode::No));
        let a = parse(&["--capture=tee-sys", "--pdb", "--trace"]);
        assert_eq!(
            a.debug,
            AddoptsDebug {
                capture: Some(CaptureMode::TeeSys),
                pdb: true,
                trace: true,
                ..AddoptsDebug::default()
            }
        );
        assert!(a.ignored.is_empty(), "{:?}", a.ignored);
        assert_eq!(
            parse(&["--capture", "sys"]).debug.capture,
            Some(CaptureMode::Sys)
        );
        assert!(err(&["--capture=all"]).contains("no, sys, fd or tee-sys"));
        let a = parse(&["--tb=short", "-l"]);
        assert_eq!(a.debug.tb, Some(TbStyle::Short));
        assert_eq!(a.debug.showlocals, Some(true));
        assert!(err(&["--tb=tiny"]).contains("auto, long, short"));
    }

    #[test]
    fn plugins_warnings_and_strictness() {
        let a = parse(&[
            "-p",
            "no:cacheprovider",
            "-pno:randomly",
            "-p",
            "xdist",
            "-W",
            "error",
            "-Wignore::DeprecationWarning",
            "--strict-markers",
            "--strict",
            "-o",
            "xfail_strict=true",
            "--override-ini=cache_dir=x=y",
        ]);
        assert_eq!(a.disabled_plugins, ["cacheprovider", "randomly"]);
        assert_eq!(a.pythonwarnings, ["error", "ignore::DeprecationWarning"]);
        assert_eq!(
            a.overrides,
            [
                ("strict_markers".into(), "true".into()),
                ("strict".into(), "true".into()),
                ("xfail_strict".into(), "true".into()),
                ("cache_dir".into(), "x=y".into()),
            ]
        );
        assert!(a.ignored.is_empty(), "{:?}", a.ignored);
        assert!(err(&["-o", "novalue"]).contains("option=value"));
    }

    #[test]
    fn unknown_options_are_listed_with_their_value() {
        let a = parse(&[
            "--cov-precision",
            "1",
            "--dist",
            "loadfile",
            "--lf",
            "--reruns-delay",
            "2",
            "-x",
            "tests/",
            "--",
            "more",
        ]);
        assert_eq!(a.plugin_options, ["--dist loadfile", "--reruns-delay 2"]);
        assert_eq!(a.ignored, ["--cov-precision 1", "--lf", "tests/", "more"]);
        assert_eq!(a.maxfail, Some(1));
        // An unknown option followed by an option takes no value.
        assert_eq!(parse(&["--foo", "-x"]).plugin_options, ["--foo"]);
        assert_eq!(parse(&["--foo", "-x"]).maxfail, Some(1));
        assert_eq!(parse(&["--strict=1"]).ignored, ["--strict=1"]);
    }

    #[test]
    fn junitxml_and_import_mode() {
        let a = parse(&["--junitxml", "junit.xml", "--import-mode=importlib"]);
        assert_eq!(a.junitxml.as_deref(), Some("junit.xml"));
        assert_eq!(a.import_mode.as_deref(), Some("importlib"));
        assert!(a.ignored.is_empty(), "{:?}", a.ignored);
        assert_eq!(
            parse(&["--junit-xml=out/j.xml"]).junitxml.as_deref(),
            Some("out/j.xml")
        );
        assert_eq!(
            parse(&["--import-mode", "append"]).import_mode.as_deref(),
            Some("append")
        );
        assert!(err(&["--import-mode=sideways"]).contains("invalid choice: 'sideways'"));
    }

    #[test]
    fn asyncio_mode_flag() {
        assert_eq!(
            parse(&["--asyncio-mode=auto"]).asyncio_mode.as_deref(),
            Some("auto")
        );
        assert_eq!(
            parse(&["--asyncio-mode", "strict"]).asyncio_mode.as_deref(),
            Some("strict")
        );
    }

    #[test]
    fn options_of_plugins_the_engine_serves_are_read() {
        let words = |text: &str| {
            text.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let a = Addopts::parse(&words("-n 4 --timeout=2.5 --reruns 3")).unwrap();
        assert_eq!(a.numprocesses, Some(Some(4)));
        assert_eq!(a.timeout, Some(2.5));
        assert_eq!(a.reruns, Some(3));
        assert!(a.ignored.is_empty(), "{:?}", a.ignored);
        assert_eq!(
            Addopts::parse(&words("-nauto")).unwrap().numprocesses,
            Some(None)
        );
        assert!(Addopts::parse(&words("-n many")).is_err());
        assert!(Addopts::parse(&words("--reruns x")).is_err());
    }
}
