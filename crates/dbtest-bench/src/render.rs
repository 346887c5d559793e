//! The console tables and the Markdown report of a benchmark run.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};

use crate::compare::{CompareOutcome, Verdict};
use crate::model::{BenchReport, BenchResult};

/// A time in the unit that keeps 3-4 significant digits readable.
pub fn fmt_time(seconds: f64) -> String {
    let abs = seconds.abs();
    if !abs.is_finite() {
        return format!("{seconds}");
    }
    let (value, unit) = if abs < 1e-6 {
        (seconds * 1e9, "ns")
    } else if abs < 1e-3 {
        (seconds * 1e6, "µs")
    } else if abs < 1.0 {
        (seconds * 1e3, "ms")
    } else {
        (seconds, "s")
    };
    let digits = if value.abs() >= 100.0 {
        1
    } else if value.abs() >= 10.0 {
        2
    } else {
        3
    };
    format!("{value:.digits$} {unit}")
}

fn fmt_ops(ops: f64) -> String {
    if ops >= 1e6 {
        format!("{:.2}M", ops / 1e6)
    } else if ops >= 1e3 {
        format!("{:.1}k", ops / 1e3)
    } else {
        format!("{ops:.1}")
    }
}

struct Paint {
    color: bool,
}

impl Paint {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
}

/// `median / baseline median`, with an interval from the two medians' bootstrap intervals.
fn relative(result: &BenchResult, baseline: &BenchResult) -> Option<(f64, f64, f64)> {
    let (s, b) = (result.stats.as_ref()?, baseline.stats.as_ref()?);
    let ratio = s.summary.median / b.summary.median;
    let lo = s.median_ci.lo / b.median_ci.hi;
    let hi = s.median_ci.hi / b.median_ci.lo;
    Some((ratio, lo, hi))
}

fn relative_text(ratio: f64, lo: f64, hi: f64) -> String {
    if ratio >= 1.0 {
        format!("{ratio:.2}x slower [{lo:.2}-{hi:.2}]")
    } else {
        format!(
            "{:.2}x faster [{:.2}-{:.2}]",
            1.0 / ratio,
            1.0 / hi,
            1.0 / lo
        )
    }
}

/// Groups in the order their first benchmark appears.
fn groups(report: &BenchReport) -> Vec<(&str, Vec<&BenchResult>)> {
    let mut out: Vec<(&str, Vec<&BenchResult>)> = Vec::new();
    for r in &report.benchmarks {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, members)) => members.push(r),
            None => out.push((&r.group, vec![r])),
        }
    }
    out
}

/// The group's reference: its declared baseline, else its first benchmark.
fn baseline_of<'a>(members: &[&'a BenchResult]) -> Option<&'a BenchResult> {
    members
        .iter()
        .copied()
        .find(|r| r.baseline && r.stats.is_some())
        .or_else(|| members.iter().copied().find(|r| r.stats.is_some()))
}

/// What `result` is compared with: the baseline run with the same parameter when the
/// baseline is parametrized too (scan[10000] against indexed[10000]), else the group's.
fn reference_for<'a>(
    result: &BenchResult,
    members: &[&'a BenchResult],
    group_base: Option<&'a BenchResult>,
) -> Option<&'a BenchResult> {
    members
        .iter()
        .copied()
        .find(|b| {
            b.baseline && b.stats.is_some() && b.params.is_some() && b.params == result.params
        })
        .or(group_base)
}

/// The "relative" cell of `result`'s row.
fn relative_cell(
    result: &BenchResult,
    members: &[&BenchResult],
    group_base: Option<&BenchResult>,
) -> String {
    if members.len() < 2 {
        return String::new();
    }
    match reference_for(result, members, group_base) {
        Some(b) if std::ptr::eq(result, b) => "baseline".to_string(),
        Some(b) => {
            relative(result, b).map_or_else(String::new, |(x, lo, hi)| relative_text(x, lo, hi))
        }
        None => String::new(),
    }
}

/// The tables printed after a run: one per group, then errors and warnings.
pub fn console(report: &BenchReport, color: bool) -> String {
    let p = Paint { color };
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let mut out = String::new();
    let t = &report.timer;
    let _ = writeln!(
        out,
        "{}",
        p.paint(
            dim,
            &format!(
                "clock resolution {}, empty-loop overhead {} per call; GC {}",
                fmt_time(t.resolution_s),
                fmt_time(t.overhead_s),
                if report.settings.gc_disabled {
                    "disabled"
                } else {
                    "enabled"
                }
            )
        )
    );
    for (group, members) in groups(report) {
        let base = baseline_of(&members);
        let _ = writeln!(out);
        let title = match base {
            Some(b) if members.len() > 1 => format!("{group} (relative to {})", b.label()),
            _ => group.to_string(),
        };
        let _ = writeln!(out, "{}", p.paint(bold, &title));
        let width = members
            .iter()
            .map(|r| r.label().chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "  {:<width$}  {:>11}  {:>25}  {:>11}  {:>9}  {:>12}  relative",
            "name", "median", "95% CI of median", "IQR", "ops/s", "rounds"
        );
        for r in &members {
            let label = r.label();
            let Some(s) = &r.stats else {
                let message = r.error.as_ref().map_or("no result", |e| e.message.as_str());
                let _ = writeln!(
                    out,
                    "  {label:<width$}  {}",
                    p.paint(
                        Style::new().fg_color(Some(AnsiColor::Red.into())),
                        &format!("ERROR {message}")
                    )
                );
                continue;
            };
            let rel = relative_cell(r, &members, base);
            let _ = writeln!(
                out,
                "  {label:<width$}  {:>11}  {:>25}  {:>11}  {:>9}  {:>12}  {rel}",
                fmt_time(s.summary.median),
                format!(
                    "[{} - {}]",
                    fmt_time(s.median_ci.lo),
                    fmt_time(s.median_ci.hi)
                ),
                fmt_time(s.summary.iqr),
                fmt_ops(s.ops),
                format!("{} x {}", s.summary.n, r.iterations_per_round),
            );
        }
    }
    let problems: Vec<String> = report
        .benchmarks
        .iter()
        .flat_map(|r| r.warnings.iter().map(move |w| format!("{}: {w}", r.id())))
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(out);
        for w in problems {
            let _ = writeln!(
                out,
                "{} {w}",
                p.paint(
                    Style::new().fg_color(Some(AnsiColor::Yellow.into())),
                    "warning:"
                )
            );
        }
    }
    let failed: Vec<&BenchResult> = report
        .benchmarks
        .iter()
        .filter(|r| r.error.is_some())
        .collect();
    if !failed.is_empty() || !report.errors.is_empty() {
        let _ = writeln!(out);
        let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
        for f in &report.errors {
            let _ = writeln!(out, "{} {}: {}", p.paint(red, "ERROR"), f.file, f.message);
            if let Some(tb) = &f.traceback {
                let _ = writeln!(out, "{tb}");
            }
        }
        for r in failed {
            let e = r.error.as_ref().expect("filtered on error");
            let _ = writeln!(
                out,
                "{} {} ({}:{}): {}",
                p.paint(red, "ERROR"),
                r.id(),
                r.file,
                r.line,
                e.message
            );
            if let Some(tb) = &e.traceback {
                let _ = writeln!(out, "{tb}");
            }
        }
    }
    out
}

fn verdict_text(c: &crate::compare::Comparison) -> &'static str {
    match (c.verdict, c.regression) {
        (Verdict::Slower, true) => "REGRESSION",
        (Verdict::Slower, false) => "slower",
        (Verdict::Faster, _) => "faster",
        (Verdict::NoChange, _) => "no change",
    }
}

/// The comparison with a saved run.
pub fn comparison(outcome: &CompareOutcome, saved: &str, color: bool) -> String {
    let p = Paint { color };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{}",
        p.paint(
            Style::new().bold(),
            &format!("compared with saved run {saved:?}")
        )
    );
    let width = outcome
        .comparisons
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>11}  {:>11}  {:>8}  {:>8}  verdict",
        "benchmark", "old", "new", "change", "p"
    );
    for c in &outcome.comparisons {
        let style = match c.verdict {
            Verdict::Slower => Style::new().fg_color(Some(AnsiColor::Red.into())),
            Verdict::Faster => Style::new().fg_color(Some(AnsiColor::Green.into())),
            Verdict::NoChange => Style::new(),
        };
        let _ = writeln!(
            out,
            "  {:<width$}  {:>11}  {:>11}  {:>+7.1}%  {:>8.2e}  {}",
            c.id,
            fmt_time(c.old_median_s),
            fmt_time(c.new_median_s),
            c.change_pct,
            c.p_value,
            p.paint(style, verdict_text(c))
        );
    }
    for id in &outcome.new_only {
        let _ = writeln!(out, "  {id:<width$}  (not in the saved run)");
    }
    out
}

/// The Markdown report: one table per group, then the comparison if there was one.
pub fn markdown(report: &BenchReport, compared: Option<(&str, &CompareOutcome)>) -> String {
    let mut out = String::from("## dbtest bench\n\n");
    for (group, members) in groups(report) {
        let base = baseline_of(&members);
        let _ = writeln!(out, "### {group}\n");
        let _ = writeln!(
            out,
            "| benchmark | median | 95% CI of median | IQR | ops/s | rounds | relative |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---|");
        for r in &members {
            match &r.stats {
                Some(s) => {
                    let rel = relative_cell(r, &members, base);
                    let _ = writeln!(
                        out,
                        "| `{}` | {} | {} - {} | {} | {} | {} x {} | {rel} |",
                        r.label(),
                        fmt_time(s.summary.median),
                        fmt_time(s.median_ci.lo),
                        fmt_time(s.median_ci.hi),
                        fmt_time(s.summary.iqr),
                        fmt_ops(s.ops),
                        s.summary.n,
                        r.iterations_per_round
                    );
                }
                None => {
                    let message = r.error.as_ref().map_or("no result", |e| e.message.as_str());
                    let _ = writeln!(
                        out,
                        "| `{}` | error: {} | | | | | |",
                        r.label(),
                        message.replace('|', "\\|")
                    );
                }
            }
        }
        let _ = writeln!(out);
    }
    if let Some((saved, outcome)) = compared {
        let _ = writeln!(out, "### Compared with `{saved}`\n");
        let _ = writeln!(out, "| benchmark | old | new | change | p | verdict |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
        for c in &outcome.comparisons {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {:+.1}% | {:.2e} | {} |",
                c.id,
                fmt_time(c.old_median_s),
                fmt_time(c.new_median_s),
                c.change_pct,
                c.p_value,
                verdict_text(c)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_pick_a_readable_unit() {
        assert_eq!(fmt_time(12.3456e-9), "12.35 ns");
        assert_eq!(fmt_time(1.5e-6), "1.500 µs");
        assert_eq!(fmt_time(0.25), "250.0 ms");
        assert_eq!(fmt_time(2.0), "2.000 s");
    }

    #[test]
    fn ratios_read_as_slower_or_faster() {
        assert_eq!(relative_text(2.31, 2.25, 2.37), "2.31x slower [2.25-2.37]");
        assert_eq!(relative_text(0.5, 0.4, 0.6), "2.00x faster [1.67-2.50]");
    }
}
