//! Tests, outcomes, results and the `dbtest.report/1` document (DESIGN §4).

use serde::{Deserialize, Serialize};

pub const REPORT_SCHEMA: &str = "dbtest.report/1";

/// How a test ended, as users and reports see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
    Xfailed,
    Xpassed,
    Timeout,
    Crashed,
    Inconclusive,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::Error,
        Outcome::Skipped,
        Outcome::Xfailed,
        Outcome::Xpassed,
        Outcome::Timeout,
        Outcome::Crashed,
        Outcome::Inconclusive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::Xfailed => "xfailed",
            Outcome::Xpassed => "xpassed",
            Outcome::Timeout => "timeout",
            Outcome::Crashed => "crashed",
            Outcome::Inconclusive => "inconclusive",
        }
    }

    /// Outcomes that make the run fail (exit code 1). A strict xpass is recorded as
    /// `failed`, so a plain `xpassed` does not fail the run (as in pytest).
    pub fn fails_run(self) -> bool {
        matches!(
            self,
            Outcome::Failed
                | Outcome::Error
                | Outcome::Timeout
                | Outcome::Crashed
                | Outcome::Inconclusive
        )
    }

    /// Outcomes the closing `N passed, N failed, N skipped` line counts as failed:
    /// every outcome but passes, skips and xfails (DESIGN §4).
    pub fn counts_as_failed(self) -> bool {
        !matches!(self, Outcome::Passed | Outcome::Skipped | Outcome::Xfailed)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Xfail {
    pub reason: Option<String>,
    pub strict: bool,
}

/// A collected test: everything known about it before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCase {
    /// `relative/path.py::Suite::name[param-id]`
    pub id: String,
    pub file: String,
    pub line: u32,
    pub name: String,
    pub suite: Option<String>,
    pub params: Option<String>,
    pub tags: Vec<String>,
    /// Reason when the test is marked skipped; it then never runs.
    pub skip: Option<String>,
    pub xfail: Option<Xfail>,
    /// Per-test timeout from `@dbtest.timeout`, in seconds; wins over `--timeout`.
    pub timeout_s: Option<f64>,
    pub is_async: bool,
    /// May overlap with the neighbouring concurrent tests of its file.
    pub concurrent: bool,
    /// Extra attempts of this test (`@dbtest.flaky(retries=N)`); `--retries` applies when unset.
    #[serde(default)]
    pub retries: Option<u32>,
    /// Tests naming the same resource (`@dbtest.serial("db")`) never overlap.
    #[serde(default)]
    pub serial: Option<String>,
    /// Runs with nothing beside it: it uses a fixture that patches process-wide state
    /// (monkeypatch, capsys, caplog, ...), so overlap could change another test's verdict.
    #[serde(default)]
    pub exclusive: bool,
    /// The engine's handle for this test (opaque to everything but the engine).
    pub key: u64,
}

/// A test as the Python collector describes it (`_driver._case`): a [`TestCase`] but for
/// its id and file, which follow from where it was collected.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CollectedCase {
    pub key: u64,
    pub name: String,
    #[serde(default)]
    pub suite: Option<String>,
    #[serde(default)]
    pub params: Option<String>,
    pub line: u32,
    pub tags: Vec<String>,
    #[serde(default)]
    pub skip: Option<String>,
    #[serde(default)]
    pub xfail: Option<Xfail>,
    #[serde(default)]
    pub timeout: Option<f64>,
    pub is_async: bool,
    pub concurrent: bool,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub exclusive: bool,
}

impl TestCase {
    /// The test `case` collected from the file `rel` (relative to the root).
    pub fn collected(rel: &str, case: CollectedCase) -> TestCase {
        TestCase {
            id: test_id(
                rel,
                case.suite.as_deref(),
                &case.name,
                case.params.as_deref(),
            ),
            file: rel.to_string(),
            line: case.line,
            name: case.name,
            suite: case.suite,
            params: case.params,
            tags: case.tags,
            skip: case.skip,
            xfail: case.xfail,
            timeout_s: case.timeout,
            is_async: case.is_async,
            concurrent: case.concurrent,
            retries: case.retries,
            serial: case.serial,
            exclusive: case.exclusive,
            key: case.key,
        }
    }
}

/// An error in a fixture's teardown as the driver reports it: an `error` entry in the
/// report, attributed to the test or file whose fixture it was.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TeardownError {
    pub id: String,
    pub name: String,
    pub message: String,
    #[serde(default)]
    pub traceback: Option<String>,
    pub stdout: String,
    pub stderr: String,
    #[serde(default)]
    pub log: Option<String>,
}

impl TeardownError {
    /// The report entry, for the file `rel` (or `<session>`).
    pub fn into_result(self, rel: &str) -> TestResult {
        TestResult {
            id: self.id,
            name: self.name,
            stdout: self.stdout,
            stderr: self.stderr,
            log: self.log.unwrap_or_default(),
            ..TestResult::file_error(rel, self.message, self.traceback)
        }
    }
}

/// `relative/path.py::Suite::name[param-id]`, with Suite and [param-id] only where they apply.
pub fn test_id(file: &str, suite: Option<&str>, name: &str, params: Option<&str>) -> String {
    let mut id = String::with_capacity(file.len() + name.len() + 16);
    id.push_str(file);
    if let Some(suite) = suite {
        id.push_str("::");
        id.push_str(suite);
    }
    id.push_str("::");
    id.push_str(name);
    if let Some(params) = params {
        id.push('[');
        id.push_str(params);
        id.push(']');
    }
    id
}

/// How a test attempt ended, as the engine that ran it saw it (before xfail marks apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawOutcome {
    Passed,
    Failed,
    Error,
    Skipped,
    Timeout,
    Crashed,
    Inconclusive,
    /// The engine judged an expected failure itself (pytest's `xfail(raises=...)`,
    /// `pytest.xfail()` inside a test, unittest's `expectedFailure`).
    Xfailed,
    Xpassed,
}

/// What one attempt at running a test produced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RawResult {
    pub outcome: Option<RawOutcome>,
    pub duration_s: f64,
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub stdout: String,
    pub stderr: String,
    /// The log records the test emitted, one formatted line each (see [`TestResult::log`]).
    #[serde(default)]
    pub log: String,
    /// A probabilistic test's verdict (its counts, threshold, interval, why it stopped).
    pub verdict: Option<serde_json::Value>,
    /// What pytest-benchmark's `benchmark` fixture measured in the test (dbtest bench's
    /// figures: rounds, iterations, statistics).
    #[serde(default)]
    pub benchmark: Option<serde_json::Value>,
}

impl RawResult {
    pub fn new(outcome: RawOutcome, message: impl Into<Option<String>>) -> Self {
        RawResult {
            outcome: Some(outcome),
            message: message.into(),
            ..Default::default()
        }
    }

    /// A failure inside dbtest's own code while doing `context`, reported on the test
    /// rather than lost.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        RawResult::new(
            RawOutcome::Error,
            Some(crate::internal_message(context, err)),
        )
    }

    pub fn raw_outcome(&self) -> RawOutcome {
        self.outcome.unwrap_or(RawOutcome::Error)
    }
}

/// One entry of the report's `tests` array; the field set and order are the contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub id: String,
    pub file: String,
    pub line: u32,
    pub name: String,
    pub suite: Option<String>,
    pub params: Option<String>,
    pub tags: Vec<String>,
    pub outcome: Outcome,
    pub duration_s: f64,
    pub attempts: u32,
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub stdout: String,
    pub stderr: String,
    /// The log records emitted while the test ran (setup, call and teardown), one formatted
    /// line each, as pytest's "Captured log" sections; left out of the report when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log: String,
    /// Only for probabilistic tests: the verdict's fields (DESIGN §6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<serde_json::Value>,
    /// Only for tests that use pytest-benchmark's `benchmark` fixture: the measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<serde_json::Value>,
}

impl TestResult {
    /// The final result of `case` from its last attempt, with xfail marks applied.
    pub fn from_attempt(case: &TestCase, raw: RawResult, attempts: u32) -> Self {
        let raw_outcome = raw.raw_outcome();
        let mut message = raw.message;
        let outcome = match (raw_outcome, &case.xfail) {
            (RawOutcome::Failed, Some(_)) => Outcome::Xfailed,
            (RawOutcome::Passed, Some(x)) if x.strict => {
                message = Some(format!(
                    "[XPASS(strict)] {}",
                    x.reason.as_deref().unwrap_or("expected to fail")
                ));
                Outcome::Failed
            }
            (RawOutcome::Passed, Some(_)) => Outcome::Xpassed,
            (RawOutcome::Passed, None) => Outcome::Passed,
            (RawOutcome::Failed, None) => Outcome::Failed,
            (RawOutcome::Error, _) => Outcome::Error,
            (RawOutcome::Skipped, _) => Outcome::Skipped,
            (RawOutcome::Timeout, _) => Outcome::Timeout,
            (RawOutcome::Crashed, _) => Outcome::Crashed,
            (RawOutcome::Inconclusive, _) => Outcome::Inconclusive,
            (RawOutcome::Xfailed, _) => Outcome::Xfailed,
            (RawOutcome::Xpassed, _) => Outcome::Xpassed,
        };
        if outcome == Outcome::Xfailed || outcome == Outcome::Xpassed {
            if let Some(reason) = case.xfail.as_ref().and_then(|x| x.reason.clone()) {
                message = Some(match message {
                    Some(m) if outcome == Outcome::Xfailed => format!("{reason}: {m}"),
                    _ => reason,
                });
            }
        }
        TestResult {
            id: case.id.clone(),
            file: case.file.clone(),
            line: case.line,
            name: case.name.clone(),
            suite: case.suite.clone(),
            params: case.params.clone(),
            tags: case.tags.clone(),
            outcome,
            duration_s: raw.duration_s,
            attempts,
            message,
            traceback: raw.traceback,
            stdout: raw.stdout,
            stderr: raw.stderr,
            log: raw.log,
            verdict: raw.verdict,
            benchmark: raw.benchmark,
        }
    }

    /// A test that never ran because it is marked skip.
    pub fn skipped(case: &TestCase, reason: &str) -> Self {
        let raw = RawResult::new(RawOutcome::Skipped, Some(reason.to_string()));
        let mut result = TestResult::from_attempt(case, raw, 0);
        result.outcome = Outcome::Skipped;
        result
    }

    /// A teardown of `file` (or `<session>`) that dbtest's own code could not run.
    pub fn internal_teardown(file: &str, err: impl std::fmt::Display) -> Self {
        TestResult::file_error(
            file,
            format!("dbtest internal error during teardown: {err}"),
            None,
        )
    }

    /// A file that could not be imported or collected: one `error` entry whose id is the path.
    pub fn file_error(file: &str, message: String, traceback: Option<String>) -> Self {
        TestResult {
            id: file.to_string(),
            file: file.to_string(),
            line: 0,
            name: file.rsplit('/').next().unwrap_or(file).to_string(),
            suite: None,
            params: None,
            tags: Vec::new(),
            outcome: Outcome::Error,
            duration_s: 0.0,
            attempts: 1,
            message: Some(message),
            traceback,
            stdout: String::new(),
            stderr: String::new(),
            log: String::new(),
            verdict: None,
            benchmark: None,
        }
    }

    /// A file skipped as a whole while it was imported (`pytest.skip(allow_module_level=True)`,
    /// `pytest.importorskip`): one `skipped` entry whose id is the path, as pytest reports it.
    pub fn file_skipped(file: &str, reason: String) -> Self {
        TestResult {
            outcome: Outcome::Skipped,
            ..TestResult::file_error(file, reason, None)
        }
    }

    /// Passed, but only after at least one failed attempt.
    pub fn is_flaky(&self) -> bool {
        self.outcome == Outcome::Passed && self.attempts > 1
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total: u64,
    pub passed: u64,
    pub failed: u64,
    pub error: u64,
    pub skipped: u64,
    pub xfailed: u64,
    pub xpassed: u64,
    pub timeout: u64,
    pub crashed: u64,
    pub inconclusive: u64,
    pub flaky: u64,
}

impl Summary {
    pub fn from_results<'a>(results: impl IntoIterator<Item = &'a TestResult>) -> Self {
        let mut s = Summary::default();
        for r in results {
            s.add(r);
        }
        s
    }

    pub fn add(&mut self, r: &TestResult) {
        self.total += 1;
        *self.count_mut(r.outcome) += 1;
        if r.is_flaky() {
            self.flaky += 1;
        }
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Passed => self.passed,
            Outcome::Failed => self.failed,
            Outcome::Error => self.error,
            Outcome::Skipped => self.skipped,
            Outcome::Xfailed => self.xfailed,
            Outcome::Xpassed => self.xpassed,
            Outcome::Timeout => self.timeout,
            Outcome::Crashed => self.crashed,
            Outcome::Inconclusive => self.inconclusive,
        }
    }

    fn count_mut(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Passed => &mut self.passed,
            Outcome::Failed => &mut self.failed,
            Outcome::Error => &mut self.error,
            Outcome::Skipped => &mut self.skipped,
            Outcome::Xfailed => &mut self.xfailed,
            Outcome::Xpassed => &mut self.xpassed,
            Outcome::Timeout => &mut self.timeout,
            Outcome::Crashed => &mut self.crashed,
            Outcome::Inconclusive => &mut self.inconclusive,
        }
    }

    /// Every outcome that makes the run fail.
    pub fn failing(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.fails_run())
            .map(|o| self.count(*o))
            .sum()
    }

    /// The closing line, `N passed, N failed, N skipped` (DESIGN §4).
    pub fn closing_line(&self) -> String {
        let failed: u64 = Outcome::ALL
            .iter()
            .filter(|o| o.counts_as_failed())
            .map(|o| self.count(*o))
            .sum();
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, failed, self.skipped
        )
    }
}

/// The `dbtest.report/1` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub command: String,
    pub started_at: String,
    pub duration_s: f64,
    pub summary: Summary,
    pub tests: Vec<TestResult>,
}

impl Report {
    pub fn new(
        command: &str,
        started_at: jiff::Timestamp,
        duration_s: f64,
        tests: Vec<TestResult>,
    ) -> Self {
        Report {
            schema: REPORT_SCHEMA.to_string(),
            command: command.to_string(),
            started_at: started_at.to_string(),
            duration_s,
            summary: Summary::from_results(&tests),
            tests,
        }
    }
}

impl Report {
    /// One report from the reports of a run's shards: every test, in the order given, the
    /// earliest start and the longest wall time (shards run side by side).
    pub fn merge(parts: Vec<Report>) -> Report {
        let started_at = parts
            .iter()
            .map(|r| r.started_at.clone())
            .min()
            .unwrap_or_default();
        let duration_s = parts.iter().map(|r| r.duration_s).fold(0.0, f64::max);
        let command = parts
            .first()
            .map_or_else(|| "unit".to_string(), |r| r.command.clone());
        let tests: Vec<TestResult> = parts.into_iter().flat_map(|r| r.tests).collect();
        Report {
            schema: REPORT_SCHEMA.to_string(),
            command,
            started_at,
            duration_s,
            summary: Summary::from_results(&tests),
            tests,
        }
    }
}

/// Process exit codes (DESIGN §4 and §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitCode {
    Ok = 0,
    TestsFailed = 1,
    Interrupted = 2,
    Internal = 3,
    Usage = 4,
    NoTests = 5,
    Inconclusive = 6,
}

/// The exit code of a `dbtest unit` run.
pub fn exit_code(summary: &Summary, interrupted: bool) -> ExitCode {
    exit_code_with(summary, interrupted, false)
}

/// [`exit_code`], where `inconclusive_ok` (`--inconclusive-ok`) lets probabilistic tests that
/// reached no verdict pass the run.
pub fn exit_code_with(summary: &Summary, interrupted: bool, inconclusive_ok: bool) -> ExitCode {
    let excused = if inconclusive_ok {
        summary.inconclusive
    } else {
        0
    };
    if interrupted {
        ExitCode::Interrupted
    } else if summary.total == 0 {
        ExitCode::NoTests
    } else if summary.failing() > excused {
        ExitCode::TestsFailed
    } else {
        ExitCode::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_teardown_error_is_an_error_entry_with_its_output() {
        let e: TeardownError = serde_json::from_value(serde_json::json!({
            "id": "t.py::test_a", "name": "test_a", "message": "boom", "traceback": null,
            "stdout": "out", "stderr": "err", "log": "WARNING x"
        }))
        .unwrap();
        let r = e.into_result("t.py");
        assert_eq!(
            (r.id.as_str(), r.file.as_str(), r.outcome),
            ("t.py::test_a", "t.py", Outcome::Error)
        );
        assert_eq!(
            (r.message.as_deref(), r.stdout.as_str(), r.log.as_str()),
            (Some("boom"), "out", "WARNING x")
        );
    }

    fn case(xfail: Option<Xfail>) -> TestCase {
        TestCase {
            id: "t.py::test_a".into(),
            file: "t.py".into(),
            line: 3,
            name: "test_a".into(),
            suite: None,
            params: None,
            tags: vec![],
            skip: None,
            xfail,
            timeout_s: None,
            is_async: false,
            concurrent: false,
            retries: None,
            serial: None,
            exclusive: false,
            key: 0,
        }
    }

    #[test]
    fn merged_shards_add_up() {
        let pass =
            TestResult::from_attempt(&case(None), RawResult::new(RawOutcome::Passed, None), 1);
        let fail =
            TestResult::from_attempt(&case(None), RawResult::new(RawOutcome::Failed, None), 1);
        let mut a = Report::new("unit", jiff::Timestamp::UNIX_EPOCH, 2.0, vec![pass.clone()]);
        a.started_at = "2026-01-01T00:00:05Z".into();
        let mut b = Report::new("unit", jiff::Timestamp::UNIX_EPOCH, 3.0, vec![fail, pass]);
        b.started_at = "2026-01-01T00:00:01Z".into();
        let m = Report::merge(vec![a, b]);
        assert_eq!(m.summary.total, 3);
        assert_eq!(m.summary.failed, 1);
        assert_eq!(m.duration_s, 3.0);
        assert_eq!(m.started_at, "2026-01-01T00:00:01Z");
    }

    #[test]
    fn ids_follow_the_contract() {
        assert_eq!(test_id("t/a.py", None, "test_x", None), "t/a.py::test_x");
        assert_eq!(
            test_id("a.py", Some("TestU"), "test_y", Some("1-2")),
            "a.py::TestU::test_y[1-2]"
        );
    }

    #[test]
    fn xfail_marks_map_outcomes() {
        let lax = Some(Xfail {
            reason: Some("bug 12".into()),
            strict: false,
        });
        let strict = Some(Xfail {
            reason: None,
            strict: true,
        });
        let pass = || RawResult::new(RawOutcome::Passed, None);
        let fail = || RawResult::new(RawOutcome::Failed, Some("boom".to_string()));
        assert_eq!(
            TestResult::from_attempt(&case(lax.clone()), fail(), 1).outcome,
            Outcome::Xfailed
        );
        assert_eq!(
            TestResult::from_attempt(&case(lax.clone()), pass(), 1).outcome,
            Outcome::Xpassed
        );
        let strict_pass = TestResult::from_attempt(&case(strict), pass(), 1);
        assert_eq!(strict_pass.outcome, Outcome::Failed);
        assert!(strict_pass.message.unwrap().starts_with("[XPASS(strict)]"));
        assert_eq!(
            TestResult::from_attempt(&case(None), fail(), 1).outcome,
            Outcome::Failed
        );
    }

    #[test]
    fn closing_line_counts_every_non_passing_outcome_but_skips_and_xfails() {
        let mut results = Vec::new();
        for (outcome, n) in [
            (Outcome::Passed, 3),
            (Outcome::Failed, 1),
            (Outcome::Error, 1),
            (Outcome::Skipped, 2),
            (Outcome::Xfailed, 1),
            (Outcome::Timeout, 1),
        ] {
            for _ in 0..n {
                let mut r = TestResult::from_attempt(&case(None), RawResult::default(), 1);
                r.outcome = outcome;
                results.push(r);
            }
        }
        let s = Summary::from_results(&results);
        assert_eq!(s.total, 9);
        assert_eq!(s.closing_line(), "3 passed, 3 failed, 2 skipped");
        assert_eq!(exit_code(&s, false), ExitCode::TestsFailed);
        assert_eq!(exit_code(&s, true), ExitCode::Interrupted);
        assert_eq!(exit_code(&Summary::default(), false), ExitCode::NoTests);
        let inconclusive = Summary {
            total: 2,
            passed: 1,
            inconclusive: 1,
            ..Default::default()
        };
        assert_eq!(exit_code(&inconclusive, false), ExitCode::TestsFailed);
        assert_eq!(exit_code_with(&inconclusive, false, true), ExitCode::Ok);
    }

    #[test]
    fn report_serializes_with_the_contract_fields_in_order() {
        let r = TestResult::from_attempt(&case(None), RawResult::new(RawOutcome::Passed, None), 1);
        let report = Report::new("unit", jiff::Timestamp::UNIX_EPOCH, 0.5, vec![r]);
        let json = serde_json::to_value(&report).unwrap();
        let keys: Vec<_> = json["tests"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "file",
                "line",
                "name",
                "suite",
                "params",
                "tags",
                "outcome",
                "duration_s",
                "attempts",
                "message",
                "traceback",
                "stdout",
                "stderr"
            ]
        );
        assert_eq!(json["schema"], "dbtest.report/1");
        assert_eq!(json["summary"]["passed"], 1);
    }

    #[test]
    fn a_test_that_logged_has_its_log_after_its_output() {
        let raw = RawResult {
            log: "WARNING  app:app.py:3 disk low\n".into(),
            ..RawResult::new(RawOutcome::Failed, None)
        };
        let r = TestResult::from_attempt(&case(None), raw, 1);
        let json = serde_json::to_value(&r).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(&keys[keys.len() - 3..], ["stdout", "stderr", "log"]);
        assert_eq!(json["log"], "WARNING  app:app.py:3 disk low\n");
        // Read back, also from a report written before the field existed.
        let back: TestResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        let mut old = serde_json::to_value(&r).unwrap();
        old.as_object_mut().unwrap().remove("log");
        let read: TestResult = serde_json::from_value(old).unwrap();
        assert_eq!(read.log, "");
    }
}

/// What a run tells its reporters as it goes, in the order things happen.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Discovery is done: this many files will be loaded.
    RunStarted {
        files: usize,
    },
    /// A file was imported and this many of its tests were selected to run.
    FileCollected {
        file: String,
        tests: usize,
    },
    /// A test's first attempt starts; `timeout_s` is the time it is allowed.
    TestStarted {
        case: Box<TestCase>,
        timeout_s: Option<f64>,
    },
    TestFinished(Box<TestResult>),
    FileFinished {
        file: String,
    },
}
