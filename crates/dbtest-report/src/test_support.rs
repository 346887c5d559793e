//! A report with every outcome and awkward text, shared by the renderers' tests.

use dbtest_core::{Outcome, Report, Summary, TestResult};

pub(crate) fn result(id: &str, outcome: Outcome) -> TestResult {
    let (path, rest) = id.split_once("::").unwrap_or((id, ""));
    let mut parts: Vec<&str> = rest.split("::").collect();
    let last = parts.pop().unwrap_or("");
    let (name, params) = match last.split_once('[') {
        Some((n, p)) => (n.to_string(), Some(p.trim_end_matches(']').to_string())),
        None => (last.to_string(), None),
    };
    TestResult {
        id: id.to_string(),
        file: path.to_string(),
        line: 10,
        name,
        suite: parts.first().map(|s| s.to_string()),
        params,
        tags: vec![],
        outcome,
        duration_s: 0.012,
        attempts: 1,
        message: None,
        traceback: None,
        stdout: String::new(),
        stderr: String::new(),
        log: String::new(),
        verdict: None,
        benchmark: None,
    }
}

pub(crate) fn report(duration_s: f64, tests: Vec<TestResult>) -> Report {
    Report {
        schema: dbtest_core::REPORT_SCHEMA.to_string(),
        command: "unit".to_string(),
        started_at: "2025-01-02T03:04:05Z".to_string(),
        duration_s,
        summary: Summary::from_results(&tests),
        tests,
    }
}

pub(crate) fn sample_report() -> Report {
    let mut tests = Vec::new();
    tests.push(result("tests/test_a.py::test_ok", Outcome::Passed));
    let mut flaky = result("tests/test_a.py::test_flaky", Outcome::Passed);
    flaky.attempts = 3;
    flaky.duration_s = 1.5;
    tests.push(flaky);
    let mut failed = result(
        "tests/test_a.py::TestUsers::test_create[small]",
        Outcome::Failed,
    );
    failed.line = 42;
    failed.message = Some("assert a < b & \"c\"\x00 \x1b[31mred\x1b[0m\nsecond line".to_string());
    failed.traceback = Some(
        "Traceback (most recent call last):\n  File \"tests/test_a.py\", line 42\n    assert a < b\nAssertionError"
            .to_string(),
    );
    failed.stdout = "hello \x1b[1mbold\x1b[0m\x07\n".to_string();
    failed.stderr = "warn <x>\n".to_string();
    tests.push(failed);
    let mut error = result("tests/test_b.py::test_err", Outcome::Error);
    error.message = Some("fixture 'pool' failed".to_string());
    tests.push(error);
    let mut skipped = result("tests/test_b.py::test_skip", Outcome::Skipped);
    skipped.message = Some("no db".to_string());
    skipped.duration_s = 0.0;
    tests.push(skipped);
    let mut xfailed = result("tests/test_b.py::test_xf", Outcome::Xfailed);
    xfailed.message = Some("bug 12: boom".to_string());
    tests.push(xfailed);
    let mut xpassed = result("tests/test_c.py::test_xp", Outcome::Xpassed);
    xpassed.message = Some("bug 13".to_string());
    tests.push(xpassed);
    let mut timeout = result("tests/test_c.py::test_slow", Outcome::Timeout);
    timeout.message = Some("timed out after 2.0s".to_string());
    timeout.duration_s = 2.0;
    tests.push(timeout);
    tests.push(result("tests/test_c.py::test_boom", Outcome::Crashed));
    tests.push(result("tests/test_c.py::test_maybe", Outcome::Inconclusive));
    tests.push(TestResult::file_error(
        "tests/broken.py",
        "SyntaxError: invalid syntax".to_string(),
        Some("  File \"tests/broken.py\", line 1\n    def (\n        ^".to_string()),
    ));
    report(3.25, tests)
}
