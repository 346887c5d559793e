//! GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY` and pull-request comments.
//!
//! GitHub caps a step summary at 1 MiB, so long text is cut (tracebacks and captured
//! output keep their end, where the cause usually is) and long lists stop with
//! "and N more".

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use dbtest_core::{Outcome, Report, TestResult};

use crate::text::{head, human_duration, plain, seconds, tail};

/// Failing tests shown in full; the rest are counted.
const MAX_FAILURES: usize = 50;
/// Entries of each compact list (skipped, xpassed, flaky).
const MAX_LISTED: usize = 200;
const MAX_MESSAGE_CHARS: usize = 2_000;
const MAX_TRACEBACK_CHARS: usize = 6_000;
const MAX_OUTPUT_CHARS: usize = 2_000;
const MAX_REASON_CHARS: usize = 300;

/// The report as GitHub-flavoured Markdown.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let status = if s.total == 0 {
        "NO TESTS"
    } else if s.failing() > 0 {
        "FAILED"
    } else {
        "PASSED"
    };
    let command = if report.command.is_empty() {
        "run"
    } else {
        report.command.as_str()
    };
    let _ = writeln!(out, "## dbtest {}: {status}\n", inline(command));

    out.push_str("| outcome | count |\n| :-- | --: |\n");
    for o in Outcome::ALL {
        let n = s.count(o);
        if n > 0 {
            let _ = writeln!(out, "| {o} | {n} |");
        }
    }
    if s.flaky > 0 {
        let _ = writeln!(
            out,
            "| flaky (passed on a retry, counted in passed) | {} |",
            s.flaky
        );
    }
    let _ = writeln!(out, "| **total** | **{}** |\n", s.total);
    let _ = writeln!(
        out,
        "Wall time: {} (started {})\n",
        seconds(report.duration_s),
        inline(&report.started_at)
    );

    let failures: Vec<&TestResult> = report
        .tests
        .iter()
        .filter(|t| t.outcome.fails_run())
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "### Failures ({})\n", failures.len());
        for t in failures.iter().take(MAX_FAILURES) {
            failure(&mut out, t);
        }
        if failures.len() > MAX_FAILURES {
            let _ = writeln!(out, "…and {} more.\n", failures.len() - MAX_FAILURES);
        }
    }

    let skipped: Vec<(&TestResult, String)> = report
        .tests
        .iter()
        .filter_map(|t| match t.outcome {
            Outcome::Skipped => Some((t, t.message.clone().unwrap_or_default())),
            Outcome::Xfailed => Some((t, format!("xfail: {}", t.message.as_deref().unwrap_or("")))),
            _ => None,
        })
        .collect();
    compact_list(&mut out, "Skipped", &skipped);

    let xpassed: Vec<(&TestResult, String)> = report
        .tests
        .iter()
        .filter(|t| t.outcome == Outcome::Xpassed)
        .map(|t| (t, t.message.clone().unwrap_or_default()))
        .collect();
    compact_list(&mut out, "Unexpectedly passed (marked xfail)", &xpassed);

    let flaky: Vec<(&TestResult, String)> = report
        .tests
        .iter()
        .filter(|t| t.is_flaky())
        .map(|t| (t, format!("passed on attempt {}", t.attempts)))
        .collect();
    compact_list(&mut out, "Flaky", &flaky);

    out
}

/// Writes [`render`] to `path`, creating its folder, atomically. The file is replaced,
/// not appended to.
pub fn write(report: &Report, path: &Path) -> io::Result<()> {
    crate::text::write_atomic(path, render(report).as_bytes())
}

fn failure(out: &mut String, t: &TestResult) {
    let _ = writeln!(out, "#### {}\n", code_span(&t.id));
    let location = if t.line > 0 {
        format!("{}:{}", t.file, t.line)
    } else {
        t.file.clone()
    };
    let _ = write!(
        out,
        "**{}** at {} · {}",
        t.outcome,
        code_span(&location),
        human_duration(t.duration_s)
    );
    if t.attempts > 1 {
        let _ = write!(out, " · {} attempts", t.attempts);
    }
    out.push_str("\n\n");
    if let Some(m) = t.message.as_deref().filter(|m| !m.trim().is_empty()) {
        fenced(out, &head(&plain(m), MAX_MESSAGE_CHARS));
    }
    let sections = [
        (
            "Traceback",
            t.traceback.as_deref().unwrap_or(""),
            MAX_TRACEBACK_CHARS,
        ),
        ("Captured stdout", t.stdout.as_str(), MAX_OUTPUT_CHARS),
        ("Captured stderr", t.stderr.as_str(), MAX_OUTPUT_CHARS),
        ("Captured log", t.log.as_str(), MAX_OUTPUT_CHARS),
    ];
    for (title, body, max) in sections {
        if body.trim().is_empty() {
            continue;
        }
        let _ = writeln!(out, "<details><summary>{title}</summary>\n");
        fenced(out, &tail(&plain(body), max));
        out.push_str("</details>\n\n");
    }
}

fn compact_list(out: &mut String, title: &str, items: &[(&TestResult, String)]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary>{title} ({})</summary>\n",
        items.len()
    );
    for (t, reason) in items.iter().take(MAX_LISTED) {
        let reason = reason.trim();
        if reason.is_empty() {
            let _ = writeln!(out, "- {}", code_span(&t.id));
        } else {
            let _ = writeln!(
                out,
                "- {}: {}",
                code_span(&t.id),
                inline(&head(reason, MAX_REASON_CHARS))
            );
        }
    }
    if items.len() > MAX_LISTED {
        let _ = writeln!(out, "- …and {} more", items.len() - MAX_LISTED);
    }
    out.push_str("\n</details>\n\n");
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// `s` as inline code whatever backticks it holds (CommonMark: a longer delimiter run,
/// and a space where the content starts or ends with a backtick).
fn code_span(s: &str) -> String {
    let s = one_line(&plain(s));
    let ticks = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// A fenced block that no line of `body` can close early.
fn fenced(out: &mut String, body: &str) {
    let fence = "`".repeat(longest_backtick_run(body).max(2) + 1);
    let _ = writeln!(out, "{fence}text\n{}\n{fence}\n", body.trim_end());
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Free text on one line, shown literally: GitHub renders HTML and Markdown in summaries,
/// and an assertion message such as `a < b` or `*args` must not turn into markup.
fn inline(s: &str) -> String {
    let s = one_line(&plain(s));
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{report, result, sample_report};

    #[test]
    fn heading_table_and_failures() {
        let md = render(&sample_report());
        assert!(md.starts_with("## dbtest unit: FAILED\n\n"), "{md}");
        assert!(md.contains(
            "| outcome | count |\n| :-- | --: |\n| passed | 2 |\n| failed | 1 |\n| error | 2 |\n\
             | skipped | 1 |\n| xfailed | 1 |\n| xpassed | 1 |\n| timeout | 1 |\n| crashed | 1 |\n\
             | inconclusive | 1 |\n| flaky (passed on a retry, counted in passed) | 1 |\n\
             | **total** | **11** |\n"
        ), "{md}");
        assert!(md.contains("Wall time: 3.25s"), "{md}");
        assert!(md.contains("### Failures (6)\n"), "{md}");
        assert!(
            md.contains("#### `tests/test_a.py::TestUsers::test_create[small]`\n"),
            "{md}"
        );
        assert!(
            md.contains("**failed** at `tests/test_a.py:42` · 12 ms"),
            "{md}"
        );
        // The message keeps its markup characters literally, minus colour codes and NUL.
        assert!(
            md.contains("```text\nassert a < b & \"c\" red\nsecond line\n```"),
            "{md}"
        );
        assert!(md.contains("<details><summary>Traceback</summary>\n\n```text\nTraceback (most recent call last):"), "{md}");
        assert!(
            md.contains("<details><summary>Captured stdout</summary>\n\n```text\nhello bold\n```"),
            "{md}"
        );
        assert!(md.contains("**error** at `tests/broken.py` ·"), "{md}");
        assert!(md.contains("<details><summary>Skipped (2)</summary>\n\n- `tests/test_b.py::test_skip`: no db\n- `tests/test_b.py::test_xf`: xfail: bug 12: boom\n"), "{md}");
        assert!(md.contains("<details><summary>Flaky (1)</summary>\n\n- `tests/test_a.py::test_flaky`: passed on attempt 3\n"), "{md}");
        assert!(
            md.contains("Unexpectedly passed (marked xfail) (1)"),
            "{md}"
        );
        // Passing and skipped tests are not in the failures section.
        let failures =
            &md[md.find("### Failures").unwrap()..md.find("<details><summary>Skipped").unwrap()];
        assert!(!failures.contains("test_ok"));
        assert!(!failures.contains("test_skip"));
        assert!(!failures.contains("test_xp"));
    }

    #[test]
    fn passing_run_and_empty_run() {
        let md = render(&report(0.5, vec![result("t.py::test_a", Outcome::Passed)]));
        assert!(md.starts_with("## dbtest unit: PASSED\n\n| outcome | count |\n| :-- | --: |\n| passed | 1 |\n| **total** | **1** |\n"), "{md}");
        assert!(!md.contains("Failures"));
        assert!(!md.contains("<details>"));
        let md = render(&report(0.0, vec![]));
        assert!(md.starts_with("## dbtest unit: NO TESTS\n"), "{md}");
        assert!(md.contains("| **total** | **0** |"));
    }

    #[test]
    fn caps_the_failures_and_escapes_inline_text() {
        let mut tests: Vec<TestResult> = (0..60)
            .map(|i| {
                let mut t = result(&format!("t.py::test_{i}"), Outcome::Failed);
                t.traceback = Some(format!("{}end of traceback {i}", "x\n".repeat(10_000)));
                t
            })
            .collect();
        let mut skipped = result("t.py::test_`tick`", Outcome::Skipped);
        skipped.message = Some("needs <db> & *fast* | disk\nsecond".to_string());
        tests.push(skipped);
        let md = render(&report(1.0, tests));
        assert_eq!(md.matches("#### ").count(), 50);
        assert!(md.contains("…and 10 more.\n"));
        assert!(
            md.contains("end of traceback 0\n```"),
            "tracebacks keep their end"
        );
        assert!(md.contains("earlier characters cut"));
        assert!(md.len() < 1_000_000, "{} bytes", md.len());
        assert!(
            md.contains(
                "- `` t.py::test_`tick` ``: needs &lt;db&gt; &amp; \\*fast\\* \\| disk second\n"
            ),
            "{md}"
        );
    }

    #[test]
    fn fences_outlast_backticks_in_the_body() {
        let mut out = String::new();
        fenced(&mut out, "a\n```\nb");
        assert_eq!(out, "````text\na\n```\nb\n````\n\n");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`a"), "`` `a ``");
    }

    #[test]
    fn writes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary/report.md");
        write(&sample_report(), &path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render(&sample_report())
        );
    }
}
