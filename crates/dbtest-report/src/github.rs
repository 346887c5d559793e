//! GitHub Actions: workflow-command annotations at the failing lines, and the step summary.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use dbtest_core::{Report, TestResult};

/// How many failures get an annotation; the rest are in the step summary.
pub const ANNOTATION_LIMIT: usize = 10;

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=…,line=…,title=…::message` for the first `limit` failing tests.
pub fn annotations(report: &Report, limit: usize) -> String {
    let mut out = String::new();
    let failing: Vec<_> = report
        .tests
        .iter()
        .filter(|t| t.outcome.fails_run())
        .collect();
    for t in failing.iter().take(limit) {
        let message = t.message.as_deref().unwrap_or(t.outcome.as_str());
        let mut props = format!("file={}", escape_property(&t.file));
        let line = failing_line(t);
        if line > 0 {
            let _ = write!(props, ",line={line}");
        }
        let _ = write!(
            props,
            ",title={}",
            escape_property(&format!("{} {}", t.outcome, t.id))
        );
        let _ = writeln!(out, "::error {props}::{}", escape_data(message));
    }
    if failing.len() > limit {
        let _ = writeln!(
            out,
            "::notice title=dbtest::{} more failing tests are listed in the step summary",
            failing.len() - limit
        );
    }
    out
}

/// Where the test failed in its own file: the innermost frame of the traceback that is in the
/// test's file (the assert, or the call that raised), else the test's `def` line.
fn failing_line(t: &TestResult) -> u32 {
    let suffix = format!("/{}", t.file);
    t.traceback
        .as_deref()
        .unwrap_or("")
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("File \"")?;
            let (path, tail) = rest.split_once("\", line ")?;
            let number: String = tail.chars().take_while(char::is_ascii_digit).collect();
            (path == t.file || path.ends_with(&suffix))
                .then(|| number.parse::<u32>().ok())
                .flatten()
        })
        .next_back()
        .unwrap_or(t.line)
}

/// Appends `markdown` to the file GitHub shows as the job's summary (it may hold other
/// steps' summaries already, so it is never replaced).
pub fn append_step_summary(path: &Path, markdown: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(markdown.as_bytes())?;
    f.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{report, result};
    use dbtest_core::Outcome;

    #[test]
    fn failures_become_escaped_annotations_up_to_the_limit() {
        let mut tests = Vec::new();
        for i in 0..12 {
            let mut r = result(&format!("tests/test_a.py::test_{i}"), Outcome::Failed);
            r.message = Some("assert 1 == 2\nwhere: x = 1, 100%".into());
            tests.push(r);
        }
        tests.push(result("tests/test_a.py::test_ok", Outcome::Passed));
        let text = annotations(&report(1.0, tests), ANNOTATION_LIMIT);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 11);
        assert_eq!(
            lines[0],
            "::error file=tests/test_a.py,line=10,title=failed tests/test_a.py%3A%3Atest_0::assert 1 == 2%0Awhere: x = 1, 100%25"
        );
        assert!(lines[10].starts_with("::notice title=dbtest::2 more failing tests"));
    }

    #[test]
    fn a_failure_is_annotated_where_it_failed_in_the_test_file() {
        let mut r = result("tests/test_x.py::test_x", Outcome::Failed);
        r.line = 2;
        r.traceback = Some(
            "Traceback (most recent call last):\n  File \"/home/ci/proj/tests/test_x.py\", line 4, in test_x\n    helper()\n  File \"/home/ci/proj/tests/test_x.py\", line 9, in helper\n    assert total == 21\n  File \"/usr/lib/python3/json/__init__.py\", line 346, in loads\nAssertionError\n".into(),
        );
        let text = annotations(&report(1.0, vec![r.clone()]), ANNOTATION_LIMIT);
        assert!(
            text.starts_with("::error file=tests/test_x.py,line=9,"),
            "{text}"
        );
        // Without a traceback in the file: the test's own line.
        r.traceback = None;
        let text = annotations(&report(1.0, vec![r]), ANNOTATION_LIMIT);
        assert!(
            text.starts_with("::error file=tests/test_x.py,line=2,"),
            "{text}"
        );
    }

    #[test]
    fn the_step_summary_is_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "earlier step\n").unwrap();
        append_step_summary(&path, "## dbtest").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "earlier step\n## dbtest\n"
        );
    }
}
