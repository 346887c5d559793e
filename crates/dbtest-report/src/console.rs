//! The terminal reporter: a live progress line on stderr while the run goes, optional
//! per-test lines on stdout, and the final sections that end with the contract's two
//! summary lines (DESIGN §4).

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};
use std::time::Instant;

use anstyle::{AnsiColor, Style};
use dbtest_core::{ColorChoice, Event, Outcome, Report, Summary, TestResult};

use crate::live::{live_by_default, own_handle, LiveLines};
use crate::text::{grouped, human_duration, seconds, strip_ansi};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleOptions {
    pub color: ColorChoice,
    /// -1 quiet, 0 normal, 1 one line per test (`-v`), 2 also the captured output of
    /// passing tests (`-vv`).
    pub verbosity: i8,
    /// `--durations N`: list the N slowest tests; 0 lists them all (as pytest does).
    pub durations: Option<u32>,
    /// `None`: a live progress line only when stderr is a terminal (and not quiet).
    pub progress: Option<bool>,
}

pub struct Console {
    opts: ConsoleOptions,
    color: bool,
    /// The progress line (on stderr), and the terminal's width for every section.
    progress: LiveLines,
    width: usize,
    live: Summary,
    files_total: Option<usize>,
    files_done: usize,
    started: Instant,
    /// The console's own stdout (see [`own_handle`]).
    out: Box<dyn Write + Send>,
}

fn env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Whether output to stdout gets colour under `choice`, given this process's terminal and
/// environment (NO_COLOR, CLICOLOR_FORCE, TERM). Every dbtest command decides colour here.
pub fn color_enabled(choice: ColorChoice) -> bool {
    use std::io::IsTerminal;
    resolve_color(choice, std::io::stdout().is_terminal(), env)
}

/// The colour decision, apart from the process so that it can be tested.
fn resolve_color(
    choice: ColorChoice,
    stdout_is_tty: bool,
    env: impl Fn(&str) -> Option<String>,
) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            // CLICOLOR_FORCE is how CI systems without a TTY (GitHub Actions logs render
            // ANSI) ask for colour; any value but "" and "0" counts, as the convention says.
            if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
                return true;
            }
            stdout_is_tty
                && env("NO_COLOR").is_none_or(|v| v.is_empty())
                && env("TERM").as_deref() != Some("dumb")
        }
    }
}

fn outcome_style(outcome: Outcome) -> Style {
    let color = match outcome {
        Outcome::Passed => AnsiColor::Green,
        Outcome::Skipped | Outcome::Xfailed => AnsiColor::Yellow,
        Outcome::Xpassed => AnsiColor::Magenta,
        Outcome::Failed
        | Outcome::Error
        | Outcome::Timeout
        | Outcome::Crashed
        | Outcome::Inconclusive => AnsiColor::Red,
    };
    Style::new().fg_color(Some(color.into()))
}

fn fg(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(color.into()))
}

fn label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "PASSED",
        Outcome::Failed => "FAILED",
        Outcome::Error => "ERROR",
        Outcome::Skipped => "SKIPPED",
        Outcome::Xfailed => "XFAILED",
        Outcome::Xpassed => "XPASSED",
        Outcome::Timeout => "TIMEOUT",
        Outcome::Crashed => "CRASHED",
        Outcome::Inconclusive => "INCONCLUSIVE",
    }
}

/// `title` centred in a line of `fill`, pytest style.
fn rule(fill: char, title: &str, width: usize) -> String {
    let inner = format!(" {title} ");
    let room = width.saturating_sub(inner.chars().count());
    let left = (room / 2).max(2);
    let right = room.saturating_sub(left).max(2);
    let mut out = String::with_capacity(width + 8);
    out.extend(std::iter::repeat_n(fill, left));
    out.push_str(&inner);
    out.extend(std::iter::repeat_n(fill, right));
    out
}

/// One blank line between sections, whatever the previous section ended with.
fn separate(out: &mut String) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

impl Console {
    pub fn new(opts: ConsoleOptions) -> Console {
        let color = resolve_color(opts.color, io::stdout().is_terminal(), env);
        let progress = LiveLines::new(Some(
            opts.progress
                .unwrap_or_else(|| opts.verbosity >= 0 && live_by_default()),
        ));
        let width = progress.width();
        Console {
            opts,
            color,
            progress,
            width,
            live: Summary::default(),
            files_total: None,
            files_done: 0,
            started: Instant::now(),
            out: own_handle(io::stdout()),
        }
    }

    pub fn color_enabled(&self) -> bool {
        self.color
    }

    pub fn progress_enabled(&self) -> bool {
        self.progress.enabled()
    }

    /// Takes one event of the run. Cheap unless it prints: the progress line is redrawn
    /// at most every 50 ms.
    pub fn handle(&mut self, event: &Event) {
        match event {
            Event::RunStarted { files } => {
                self.files_total = Some(*files);
                self.started = Instant::now();
            }
            Event::FileCollected { .. } | Event::TestStarted { .. } => {}
            Event::TestFinished(result) => {
                self.live.add(result);
                if self.opts.verbosity >= 1 {
                    self.print_test(result);
                }
            }
            Event::FileFinished { .. } => self.files_done += 1,
        }
        self.tick();
    }

    /// Redraws the progress line if it is due; for a caller's timer, so that the elapsed
    /// time keeps moving while a long test runs and no events arrive.
    pub fn tick(&mut self) {
        if self.progress.due(Instant::now()) {
            self.draw();
        }
    }

    /// Clears the progress line and prints the final sections to stdout.
    pub fn finish(&mut self, report: &Report, interrupted: bool) {
        self.finish_with(report, interrupted, "");
    }

    /// [`Console::finish`] with a section of the run's own (the coverage report) after the
    /// failures and before the counts, where pytest's plugins print theirs.
    pub fn finish_with(&mut self, report: &Report, interrupted: bool, section: &str) {
        self.progress.disable();
        let text = self.render_summary_with(report, interrupted, section);
        // A closed pipe (`dbtest unit | head`) must not turn into a panic.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// The final sections: failures, the slowest tests (with `durations`), the interrupted
    /// note, then the breakdown line and, last, [`Summary::closing_line`]. Ends with a
    /// newline.
    pub fn render_summary(&self, report: &Report, interrupted: bool) -> String {
        self.render_summary_with(report, interrupted, "")
    }

    fn render_summary_with(&self, report: &Report, interrupted: bool, section: &str) -> String {
        let mut out = String::new();
        let failures: Vec<&TestResult> = report
            .tests
            .iter()
            .filter(|t| t.outcome.fails_run() || t.outcome == Outcome::Xpassed)
            .collect();
        if !failures.is_empty() {
            let header = rule('=', "FAILURES", self.width);
            out.push_str(&self.paint(fg(AnsiColor::Red).bold(), &header));
            out.push('\n');
            for t in failures {
                self.failure(&mut out, t);
            }
        }

        if let Some(n) = self.opts.durations {
            self.slowest(&mut out, report, n);
        }
        if !section.is_empty() {
            separate(&mut out);
            out.push_str(section);
        }

        separate(&mut out);
        if interrupted {
            // Right above the counts, so that nobody reads them as the whole suite's.
            out.push_str(&self.paint(fg(AnsiColor::Yellow).bold(), "interrupted: partial results"));
            out.push('\n');
        }
        out.push_str(&self.breakdown(&report.summary, report.duration_s));
        out.push('\n');
        out.push_str(&report.summary.closing_line());
        out.push('\n');
        out
    }

    /// `--collect-only`: the ids, one a line, then how many.
    pub fn render_collect_only(&self, ids: &[String]) -> String {
        let mut out = String::with_capacity(ids.iter().map(|id| id.len() + 1).sum::<usize>() + 24);
        for id in ids {
            out.push_str(id);
            out.push('\n');
        }
        match ids.len() {
            0 => out.push_str("no tests collected\n"),
            1 => out.push_str("1 test collected\n"),
            n => {
                out.push_str(&n.to_string());
                out.push_str(" tests collected\n");
            }
        }
        out
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }

    /// Test-produced text: kept as is on a colour terminal, where its own codes render,
    /// and without escape codes otherwise (files, pipes, `--color never`).
    fn shown<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.color {
            Cow::Borrowed(text)
        } else {
            strip_ansi(text)
        }
    }

    fn failure(&self, out: &mut String, t: &TestResult) {
        let style = outcome_style(t.outcome);
        out.push_str(&self.paint(style, &rule('_', &t.id, self.width)));
        out.push('\n');
        let mut location = if t.line > 0 {
            format!("{}:{}", t.file, t.line)
        } else {
            t.file.clone()
        };
        location.push_str(": ");
        location.push_str(t.outcome.as_str());
        if t.attempts > 1 {
            location.push_str(&format!(" (after {} attempts)", t.attempts));
        }
        out.push_str(&location);
        out.push('\n');
        if let Some(message) = t.message.as_deref().filter(|m| !m.trim().is_empty()) {
            for line in self.shown(message).trim_end().lines() {
                out.push_str(&self.paint(style.bold(), line));
                out.push('\n');
            }
        }
        if let Some(tb) = t.traceback.as_deref().filter(|tb| !tb.trim().is_empty()) {
            out.push_str(self.shown(tb).trim_end());
            out.push('\n');
        }
        for (title, captured) in [
            ("captured stdout", &t.stdout),
            ("captured stderr", &t.stderr),
            ("captured log", &t.log),
        ] {
            if !captured.is_empty() {
                let header = format!("--- {title} ---");
                out.push_str(&self.paint(Style::new().dimmed(), &header));
                out.push('\n');
                out.push_str(self.shown(captured).trim_end());
                out.push('\n');
            }
        }
        out.push('\n');
    }

    fn slowest(&self, out: &mut String, report: &Report, n: u32) {
        let mut tests: Vec<&TestResult> = report.tests.iter().collect();
        // Stable, so equal durations keep the report's order.
        tests.sort_by(|a, b| b.duration_s.total_cmp(&a.duration_s));
        let shown = if n == 0 {
            tests.len()
        } else {
            tests.len().min(n as usize)
        };
        separate(out);
        let title = format!("slowest {shown} durations");
        out.push_str(&self.paint(Style::new().bold(), &rule('=', &title, self.width)));
        out.push('\n');
        for t in &tests[..shown] {
            let d = if t.duration_s.is_finite() {
                t.duration_s.max(0.0)
            } else {
                0.0
            };
            out.push_str(&format!("{d:>9.3}s  {}\n", t.id));
        }
    }

    /// `3 passed, 1 failed, 2 skipped, 1 flaky in 0.52s`.
    fn breakdown(&self, s: &Summary, duration_s: f64) -> String {
        if s.total == 0 {
            let text = self.paint(fg(AnsiColor::Yellow), "no tests ran");
            return format!("{text} in {}", seconds(duration_s));
        }
        let mut parts: Vec<String> = Outcome::ALL
            .iter()
            .filter_map(|&o| {
                let n = s.count(o);
                (n > 0).then(|| self.paint(outcome_style(o), &format!("{n} {o}")))
            })
            .collect();
        if s.flaky > 0 {
            parts.push(self.paint(fg(AnsiColor::Magenta), &format!("{} flaky", s.flaky)));
        }
        format!("{} in {}", parts.join(", "), seconds(duration_s))
    }

    /// `PASSED  tests/test_a.py::test_x (12 ms)`, for `-v`.
    fn test_line(&self, t: &TestResult) -> String {
        let style = if t.is_flaky() {
            fg(AnsiColor::Magenta)
        } else {
            outcome_style(t.outcome)
        };
        let mut line = self.paint(style, &format!("{:<7}", label(t.outcome)));
        line.push(' ');
        line.push_str(&t.id);
        line.push_str(" (");
        line.push_str(&human_duration(t.duration_s));
        if t.is_flaky() {
            line.push_str(&format!(", passed on attempt {}", t.attempts));
        } else if t.attempts > 1 {
            line.push_str(&format!(", {} attempts", t.attempts));
        }
        line.push(')');
        if t.outcome != Outcome::Passed {
            let first = t
                .message
                .as_deref()
                .and_then(|m| m.lines().find(|l| !l.trim().is_empty()));
            if let Some(first) = first {
                line.push_str(" - ");
                line.push_str(&self.shown(first.trim()));
            }
        }
        line
    }

    fn print_test(&mut self, t: &TestResult) {
        let redraw = self.progress.shown();
        self.progress.clear();
        let mut text = self.test_line(t);
        text.push('\n');
        if self.opts.verbosity >= 2 && t.outcome == Outcome::Passed {
            for (title, captured) in [
                ("captured stdout", &t.stdout),
                ("captured stderr", &t.stderr),
                ("captured log", &t.log),
            ] {
                if !captured.is_empty() {
                    text.push_str(
                        &self.paint(Style::new().dimmed(), &format!("    --- {title} ---")),
                    );
                    text.push('\n');
                    for line in self.shown(captured).trim_end().lines() {
                        text.push_str("    ");
                        text.push_str(line);
                        text.push('\n');
                    }
                }
            }
        }
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
        // Put the progress line back at once: waiting for the next due redraw would make
        // it flicker away whenever tests finish faster than the redraw interval.
        if redraw {
            self.draw();
        }
    }

    fn progress_line(&self) -> String {
        let s = &self.live;
        let mut parts: Vec<(String, Option<Style>)> =
            vec![(format!("{} passed", grouped(s.passed)), None)];
        for o in Outcome::ALL.into_iter().filter(|&o| o != Outcome::Passed) {
            let n = s.count(o);
            if n > 0 {
                let style = o.fails_run().then(|| outcome_style(o));
                parts.push((format!("{} {o}", grouped(n)), style));
            }
        }
        if s.flaky > 0 {
            parts.push((format!("{} flaky", grouped(s.flaky)), None));
        }
        if let Some(total) = self.files_total {
            let files = format!(
                "{}/{} files",
                grouped(self.files_done as u64),
                grouped(total as u64)
            );
            parts.push((files, None));
        }
        parts.push((
            format!("{:.1}s", self.started.elapsed().as_secs_f64()),
            None,
        ));

        let noun = if s.total == 1 { "test" } else { "tests" };
        let head = format!("  [ {} {noun} ] ", grouped(s.total));
        let plain: String = head.clone()
            + &parts
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(" · ");
        // A line wider than the terminal wraps, and `\r` then only clears its last row.
        let max = self.width.saturating_sub(1);
        if plain.chars().count() > max {
            return plain.chars().take(max).collect();
        }
        let styled: Vec<String> = parts
            .iter()
            .map(|(p, style)| match style {
                Some(style) => self.paint(*style, p),
                None => p.clone(),
            })
            .collect();
        head + &styled.join(" · ")
    }

    fn draw(&mut self) {
        let line = self.progress_line();
        self.progress.draw(&[line]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{report, result, sample_report};

    fn console(color: ColorChoice, verbosity: i8, durations: Option<u32>) -> Console {
        let mut c = Console::new(ConsoleOptions {
            color,
            verbosity,
            durations,
            progress: Some(false),
        });
        // Independent of the COLUMNS of whoever runs the tests.
        c.width = 80;
        c
    }

    fn last_two(text: &str) -> Vec<&str> {
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len() - 2..].to_vec()
    }

    #[test]
    fn summary_ends_with_breakdown_and_closing_line() {
        let mut tests = Vec::new();
        for (o, n) in [
            (Outcome::Passed, 3),
            (Outcome::Failed, 1),
            (Outcome::Error, 1),
            (Outcome::Skipped, 2),
        ] {
            for i in 0..n {
                tests.push(result(&format!("t.py::test_{o}_{i}"), o));
            }
        }
        let text = console(ColorChoice::Never, 0, None).render_summary(&report(0.52, tests), false);
        assert!(text.ends_with('\n'));
        assert_eq!(
            last_two(&text),
            [
                "3 passed, 1 failed, 1 error, 2 skipped in 0.52s",
                "3 passed, 2 failed, 2 skipped"
            ]
        );
    }

    #[test]
    fn every_outcome_in_fixed_order_with_flaky() {
        let text = console(ColorChoice::Never, 0, None).render_summary(&sample_report(), false);
        assert_eq!(
            last_two(&text),
            [
                "2 passed, 1 failed, 2 error, 1 skipped, 1 xfailed, 1 xpassed, 1 timeout, 1 crashed, \
                 1 inconclusive, 1 flaky in 3.25s",
                "2 passed, 7 failed, 1 skipped"
            ]
        );
    }

    #[test]
    fn no_tests() {
        let text =
            console(ColorChoice::Never, 0, None).render_summary(&report(0.01, vec![]), false);
        assert_eq!(
            text,
            "no tests ran in 0.01s\n0 passed, 0 failed, 0 skipped\n"
        );
    }

    #[test]
    fn failures_section_lists_failing_tests_and_xpasses() {
        let text = console(ColorChoice::Never, 0, None).render_summary(&sample_report(), false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains(" FAILURES ") && lines[0].starts_with("=="),
            "{text}"
        );
        assert_eq!(lines[0].chars().count(), 80);
        assert!(
            lines[1].contains(" tests/test_a.py::TestUsers::test_create[small] "),
            "{text}"
        );
        assert_eq!(lines[2], "tests/test_a.py:42: failed");
        // Colour codes and control characters (the NUL) are not printed.
        assert_eq!(lines[3], "assert a < b & \"c\" red");
        assert_eq!(lines[4], "second line");
        assert_eq!(lines[5], "Traceback (most recent call last):");
        assert!(text.contains("AssertionError\n--- captured stdout ---\nhello bold\n--- captured stderr ---\nwarn <x>\n\n"), "{text}");
        assert!(
            text.contains("tests/broken.py: error\nSyntaxError: invalid syntax\n"),
            "{text}"
        );
        assert!(
            text.contains("tests/test_c.py:10: xpassed\nbug 13\n"),
            "{text}"
        );
        for id in [
            "test_err",
            "test_slow",
            "test_boom",
            "test_maybe",
            "test_xp",
        ] {
            assert!(
                text.contains(&format!(
                    "tests/test_{}.py::{id} ",
                    if id == "test_err" { "b" } else { "c" }
                )),
                "{id}"
            );
        }
        for id in ["test_ok", "test_flaky", "test_skip", "test_xf"] {
            assert!(!text.contains(id), "{id} is not a failure");
        }
    }

    #[test]
    fn a_failure_shows_its_log_after_its_output() {
        let mut t = result("t.py::test_logs", Outcome::Failed);
        t.stdout = "printed\n".to_string();
        t.log = "ERROR    app:app.py:9 boom\n".to_string();
        let mut passed = result("t.py::test_quiet", Outcome::Passed);
        passed.log = "WARNING  app:app.py:3 not shown\n".to_string();
        let text = console(ColorChoice::Never, 0, None)
            .render_summary(&report(0.1, vec![t, passed]), false);
        assert!(
            text.contains(
                "--- captured stdout ---\nprinted\n--- captured log ---\nERROR    app:app.py:9 boom\n"
            ),
            "{text}"
        );
        assert!(!text.contains("not shown"), "{text}");
    }

    #[test]
    fn sections_are_separated_by_one_blank_line() {
        let text = console(ColorChoice::Never, 0, None).render_summary(&sample_report(), false);
        assert!(!text.contains("\n\n\n"), "{text}");
        let text = console(ColorChoice::Never, 0, Some(1)).render_summary(&sample_report(), true);
        assert!(!text.contains("\n\n\n"), "{text}");
        assert!(text.contains("        ^\n\n===="), "{text}");
        assert!(
            text.contains("tests/test_c.py::test_slow\n\ninterrupted: partial results\n2 passed")
        );
    }

    #[test]
    fn slowest_and_interrupted() {
        let text = console(ColorChoice::Never, -1, Some(2)).render_summary(&sample_report(), true);
        let at = text.find("slowest 2 durations").expect(&text);
        let section: Vec<&str> = text[at..].lines().collect();
        assert_eq!(section[1], "    2.000s  tests/test_c.py::test_slow");
        assert_eq!(section[2], "    1.500s  tests/test_a.py::test_flaky");
        assert_eq!(section[3], "");
        assert_eq!(section[4], "interrupted: partial results");
        assert_eq!(section.len(), 7);
        // Quiet still shows the failures.
        assert!(text.contains("FAILURES"));
        let all = console(ColorChoice::Never, 0, Some(0)).render_summary(&sample_report(), false);
        assert!(all.contains("slowest 11 durations"));
    }

    #[test]
    fn colour_only_when_enabled() {
        let never = console(ColorChoice::Never, 0, Some(3));
        assert!(!never.color_enabled());
        let text = never.render_summary(&sample_report(), true);
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(!never.test_line(&sample_report().tests[2]).contains('\x1b'));

        let always = console(ColorChoice::Always, 0, Some(3));
        assert!(always.color_enabled());
        let text = always.render_summary(&sample_report(), true);
        assert!(text.contains("\x1b[31m"), "{text:?}");
        assert!(text.contains("\x1b[32m2 passed\x1b[0m"), "{text:?}");
        // The closing line stays plain for scripts that read it.
        assert_eq!(text.lines().last(), Some("2 passed, 7 failed, 1 skipped"));
        assert!(always
            .test_line(&sample_report().tests[0])
            .starts_with("\x1b[32mPASSED \x1b[0m "));
    }

    #[test]
    fn auto_colour_follows_tty_and_environment() {
        let none = |_: &str| None;
        assert!(resolve_color(ColorChoice::Auto, true, none));
        assert!(!resolve_color(ColorChoice::Auto, false, none));
        assert!(resolve_color(ColorChoice::Always, false, none));
        assert!(!resolve_color(ColorChoice::Never, true, |_| Some(
            "1".into()
        )));
        let no_color = |k: &str| (k == "NO_COLOR").then(|| "1".to_string());
        assert!(!resolve_color(ColorChoice::Auto, true, no_color));
        let empty_no_color = |k: &str| (k == "NO_COLOR").then(String::new);
        assert!(resolve_color(ColorChoice::Auto, true, empty_no_color));
        let dumb = |k: &str| (k == "TERM").then(|| "dumb".to_string());
        assert!(!resolve_color(ColorChoice::Auto, true, dumb));
        let force = |k: &str| (k == "CLICOLOR_FORCE").then(|| "1".to_string());
        assert!(resolve_color(ColorChoice::Auto, false, force));
        let force_off = |k: &str| (k == "CLICOLOR_FORCE").then(|| "0".to_string());
        assert!(!resolve_color(ColorChoice::Auto, false, force_off));
    }

    #[test]
    fn verbose_lines() {
        let c = console(ColorChoice::Never, 1, None);
        let report = sample_report();
        assert_eq!(
            c.test_line(&report.tests[0]),
            "PASSED  tests/test_a.py::test_ok (12 ms)"
        );
        assert_eq!(
            c.test_line(&report.tests[1]),
            "PASSED  tests/test_a.py::test_flaky (1.50 s, passed on attempt 3)"
        );
        assert_eq!(
            c.test_line(&report.tests[2]),
            "FAILED  tests/test_a.py::TestUsers::test_create[small] (12 ms) - assert a < b & \"c\" red"
        );
        assert_eq!(
            c.test_line(&report.tests[4]),
            "SKIPPED tests/test_b.py::test_skip (0 ms) - no db"
        );
        assert_eq!(
            c.test_line(&report.tests[9]),
            "INCONCLUSIVE tests/test_c.py::test_maybe (12 ms)"
        );
    }

    #[test]
    fn progress_line_counts_and_fits() {
        let mut c = console(ColorChoice::Never, 0, None);
        c.handle(&Event::RunStarted { files: 100 });
        for t in sample_report().tests {
            c.handle(&Event::TestFinished(Box::new(t)));
        }
        for _ in 0..17 {
            c.handle(&Event::FileFinished {
                file: "f.py".into(),
            });
        }
        let line = c.progress_line();
        assert!(
            line.starts_with(
                "  [ 11 tests ] 2 passed · 1 failed · 2 error · 1 skipped · 1 xfailed"
            ),
            "{line}"
        );
        assert!(line.chars().count() < 80, "{line}");
        c.live.passed = 1_234_567;
        c.width = 40;
        let line = c.progress_line();
        assert_eq!(line.chars().count(), 39, "{line}");
        assert!(line.contains("1,234,567 passed"), "{line}");
        c.width = 200;
        assert!(
            c.progress_line().contains(" · 17/100 files · "),
            "{}",
            c.progress_line()
        );
    }

    #[test]
    fn collect_only() {
        let c = console(ColorChoice::Always, 0, None);
        let ids = vec!["a.py::test_x".to_string(), "a.py::S::test_y[1]".to_string()];
        assert_eq!(
            c.render_collect_only(&ids),
            "a.py::test_x\na.py::S::test_y[1]\n2 tests collected\n"
        );
        assert_eq!(
            c.render_collect_only(&ids[..1]),
            "a.py::test_x\n1 test collected\n"
        );
        assert_eq!(c.render_collect_only(&[]), "no tests collected\n");
    }

    #[test]
    fn rules_fit_the_width() {
        assert_eq!(rule('=', "FAILURES", 20), "===== FAILURES =====");
        let long = rule('_', &"x".repeat(100), 80);
        assert!(long.starts_with("__ x") && long.ends_with("x __"));
    }
}
