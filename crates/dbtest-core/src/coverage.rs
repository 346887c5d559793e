//! Coverage as pytest-cov offers it (DESIGN section 4d): which options turn it on and what
//! they mean, and what a finished measurement decides (the `--cov-fail-under` verdict).
//! coverage.py itself measures, combines and writes the reports; this only decides.

use serde::{Deserialize, Serialize};

/// pytest-cov's options as one source gives them (the command line, `[tool.dbtest]` or
/// pytest's `addopts`); `None` means "not said here".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageArgs {
    /// `--cov[=SOURCE]`, repeatable; an empty string is a bare `--cov` (measure what
    /// coverage.py's own `source` setting names, else everything the tests run).
    pub cov: Option<Vec<String>>,
    /// `--cov-report TYPE[:DEST]`, repeatable; an empty string asks for no report.
    pub cov_report: Option<Vec<String>>,
    pub cov_branch: Option<bool>,
    pub cov_fail_under: Option<f64>,
    /// `--cov-config PATH`: coverage.py's configuration file.
    pub cov_config: Option<String>,
    /// `--cov-context test`: record which test ran each line.
    pub cov_context: Option<String>,
    /// `--cov-append`: add to the data of an earlier run instead of starting afresh.
    pub cov_append: Option<bool>,
    /// `--no-cov`: no coverage, whatever else asks for it.
    pub no_cov: Option<bool>,
}

/// The report kinds pytest-cov knows, and whether they write somewhere (`KIND:DEST`).
const REPORT_KINDS: &[(&str, bool)] = &[
    ("term", false),
    ("term-missing", false),
    ("annotate", true),
    ("html", true),
    ("xml", true),
    ("json", true),
    ("lcov", true),
    ("markdown", true),
    ("markdown-append", true),
];

impl CoverageArgs {
    /// These options where `self` is silent, `under`'s. A list given here replaces the
    /// other's, as a flag replaces a setting.
    pub fn over(self, under: CoverageArgs) -> CoverageArgs {
        CoverageArgs {
            cov: self.cov.or(under.cov),
            cov_report: self.cov_report.or(under.cov_report),
            cov_branch: self.cov_branch.or(under.cov_branch),
            cov_fail_under: self.cov_fail_under.or(under.cov_fail_under),
            cov_config: self.cov_config.or(under.cov_config),
            cov_context: self.cov_context.or(under.cov_context),
            cov_append: self.cov_append.or(under.cov_append),
            no_cov: self.no_cov.or(under.no_cov),
        }
    }

    /// What the run measures, or `None` without `--cov` (or with `--no-cov`). `Err` names
    /// the option a value is wrong for, before anything runs.
    pub fn settings(&self) -> Result<Option<CoverageSettings>, String> {
        if let Some(pct) = self.cov_fail_under {
            if !(pct.is_finite() && (0.0..=100.0).contains(&pct)) {
                return Err(format!(
                    "--cov-fail-under needs a percentage from 0 to 100, got {pct}"
                ));
            }
        }
        let reports = self.cov_report.clone().unwrap_or_default();
        for report in &reports {
            check_report(report)?;
        }
        if let Some(context) = &self.cov_context {
            if context != "test" {
                return Err(format!(
                    "--cov-context takes only 'test' (pytest-cov's one kind), got '{context}'"
                ));
            }
        }
        let Some(sources) = &self.cov else {
            return Ok(None);
        };
        if self.no_cov == Some(true) {
            return Ok(None);
        }
        let reports = match &self.cov_report {
            None => vec!["term".to_owned()],
            Some(given) => given.iter().filter(|r| !r.is_empty()).cloned().collect(),
        };
        Ok(Some(CoverageSettings {
            sources: sources.iter().filter(|s| !s.is_empty()).cloned().collect(),
            reports,
            branch: self.cov_branch,
            fail_under: self.cov_fail_under,
            config: self.cov_config.clone(),
            per_test_context: self.cov_context.is_some(),
            append: self.cov_append.unwrap_or(false),
            shard: None,
        }))
    }
}

fn check_report(report: &str) -> Result<(), String> {
    if report.is_empty() {
        return Ok(());
    }
    let (kind, dest) = match report.split_once(':') {
        Some((kind, dest)) => (kind, Some(dest)),
        None => (report, None),
    };
    let Some(&(_, writes)) = REPORT_KINDS.iter().find(|(k, _)| *k == kind) else {
        let known: Vec<&str> = REPORT_KINDS.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "--cov-report: unknown report '{kind}'; use one of {}",
            known.join(", ")
        ));
    };
    match dest {
        Some("skip-covered") if kind.starts_with("term") => Ok(()),
        Some(other) if !writes => Err(format!(
            "--cov-report {kind}:{other}: a terminal report takes only ':skip-covered'"
        )),
        Some("") => Err(format!(
            "--cov-report {report}: give a path after ':', or leave ':' out for the default"
        )),
        _ => Ok(()),
    }
}

/// What the Python side measures with, handed over once per run and to every worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageSettings {
    /// Packages or folders to measure; empty: coverage.py's `[run] source`, else all.
    pub sources: Vec<String>,
    /// Reports to write, as `--cov-report` spells them (`term-missing`, `xml:cov.xml`, ...).
    pub reports: Vec<String>,
    /// `--cov-branch`; `None`: coverage.py's own `[run] branch`.
    pub branch: Option<bool>,
    /// `--cov-fail-under`; `None`: coverage.py's `[report] fail_under`, if set.
    pub fail_under: Option<f64>,
    /// coverage.py's configuration file; `None`: its own search (.coveragerc, setup.cfg,
    /// tox.ini, pyproject.toml).
    pub config: Option<String>,
    pub per_test_context: bool,
    pub append: bool,
    /// `K/N` of a sharded run: its combined data is kept apart (`.coverage.shard-K-of-N`)
    /// for `dbtest report merge --cov` to combine with the other shards'.
    pub shard: Option<String>,
}

/// What the measurement came to, as coverage.py computed it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoverageSummary {
    /// The terminal reports, ready to print (may be empty).
    pub text: String,
    /// Where file reports went, one line each (`Coverage HTML written to dir htmlcov`).
    pub written: Vec<String>,
    /// The total percentage, unrounded.
    pub total: f64,
    /// coverage.py's `[report] precision`: the digits a percentage is shown and compared with.
    pub precision: u32,
    /// coverage.py's `[report] fail_under`, used when `--cov-fail-under` is not given.
    pub config_fail_under: Option<f64>,
}

impl CoverageSummary {
    /// The section printed before the run's summary, and whether the run fails for it:
    /// pytest-cov's wording, with the total rounded to the configured precision before it
    /// is compared, as coverage.py's own `fail_under` check does.
    pub fn verdict(&self, fail_under: Option<f64>) -> (String, bool) {
        let mut out = self.text.clone();
        for line in &self.written {
            out.push_str(line);
            out.push('\n');
        }
        let Some(required) = fail_under.or(self.config_fail_under) else {
            return (out, false);
        };
        let digits = self.precision as usize;
        let scale = 10f64.powi(self.precision as i32);
        let shown = (self.total * scale).round() / scale;
        let failed = shown < required;
        let required = format_pct(required);
        if failed {
            out.push_str(&format!(
                "FAIL Required test coverage of {required}% not reached. Total coverage: {:.*}%\n",
                digits.max(2),
                self.total
            ));
        } else {
            out.push_str(&format!(
                "Required test coverage of {required}% reached. Total coverage: {:.*}%\n",
                digits.max(2),
                self.total
            ));
        }
        (out, failed)
    }
}

/// `90` for 90.0, `87.5` for 87.5: a required percentage as the user wrote it.
fn format_pct(pct: f64) -> String {
    if pct.fract() == 0.0 {
        format!("{pct:.0}")
    } else {
        format!("{pct}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cov: &[&str]) -> CoverageArgs {
        CoverageArgs {
            cov: Some(cov.iter().map(|s| (*s).to_owned()).collect()),
            ..CoverageArgs::default()
        }
    }

    #[test]
    fn cov_alone_measures_with_a_terminal_report() {
        let s = args(&["pkg"]).settings().unwrap().unwrap();
        assert_eq!(s.sources, ["pkg"]);
        assert_eq!(s.reports, ["term"]);
        assert_eq!(s.branch, None);
        // A bare --cov measures what coverage.py's configuration says.
        assert!(args(&[""]).settings().unwrap().unwrap().sources.is_empty());
    }

    #[test]
    fn without_cov_or_with_no_cov_nothing_is_measured() {
        assert_eq!(CoverageArgs::default().settings().unwrap(), None);
        let off = CoverageArgs {
            no_cov: Some(true),
            ..args(&["pkg"])
        };
        assert_eq!(off.settings().unwrap(), None);
    }

    #[test]
    fn an_empty_report_asks_for_none_and_kinds_are_checked() {
        let none = CoverageArgs {
            cov_report: Some(vec![String::new()]),
            ..args(&["pkg"])
        };
        assert!(none.settings().unwrap().unwrap().reports.is_empty());
        let bad = CoverageArgs {
            cov_report: Some(vec!["pdf".into()]),
            ..args(&["pkg"])
        };
        assert!(bad.settings().unwrap_err().contains("unknown report 'pdf'"));
        let term_dest = CoverageArgs {
            cov_report: Some(vec!["term:out.txt".into()]),
            ..args(&["pkg"])
        };
        assert!(term_dest.settings().unwrap_err().contains("skip-covered"));
        let ok = CoverageArgs {
            cov_report: Some(vec!["term-missing:skip-covered".into(), "xml:c.xml".into()]),
            ..args(&["pkg"])
        };
        assert_eq!(ok.settings().unwrap().unwrap().reports.len(), 2);
    }

    #[test]
    fn flags_win_over_settings_and_lists_replace() {
        let flags = CoverageArgs {
            cov_report: Some(vec!["json".into()]),
            ..CoverageArgs::default()
        };
        let addopts = CoverageArgs {
            cov_report: Some(vec!["term".into(), "xml".into()]),
            cov_branch: Some(true),
            ..args(&["src"])
        };
        let s = flags.over(addopts).settings().unwrap().unwrap();
        assert_eq!(s.reports, ["json"]);
        assert_eq!(s.sources, ["src"]);
        assert_eq!(s.branch, Some(true));
    }

    #[test]
    fn fail_under_is_a_percentage() {
        let bad = CoverageArgs {
            cov_fail_under: Some(120.0),
            ..args(&["pkg"])
        };
        assert!(bad.settings().unwrap_err().contains("0 to 100"));
    }

    #[test]
    fn the_verdict_compares_the_rounded_total_as_coverage_does() {
        let summary = CoverageSummary {
            text: "TOTAL 10 1 90%\n".into(),
            total: 89.996,
            precision: 0,
            ..CoverageSummary::default()
        };
        // Shown as 90%, so 90 is reached (coverage.py rounds before comparing).
        let (text, failed) = summary.verdict(Some(90.0));
        assert!(!failed, "{text}");
        assert!(text.ends_with("Required test coverage of 90% reached. Total coverage: 90.00%\n"));
        let (text, failed) = summary.verdict(Some(95.0));
        assert!(failed);
        assert!(
            text.contains("FAIL Required test coverage of 95% not reached. Total coverage: 90.00%")
        );
        // No threshold anywhere: never fails.
        assert!(!summary.verdict(None).1);
    }

    #[test]
    fn the_configured_fail_under_applies_without_the_flag() {
        let summary = CoverageSummary {
            total: 50.0,
            precision: 2,
            config_fail_under: Some(87.5),
            ..CoverageSummary::default()
        };
        let (text, failed) = summary.verdict(None);
        assert!(failed);
        assert!(text.contains("of 87.5% not reached. Total coverage: 50.00%"));
        // The flag wins over the configuration.
        assert!(!summary.verdict(Some(40.0)).1);
    }
}
