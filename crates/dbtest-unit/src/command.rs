//! One `dbtest unit` run, once planned: the tests run (in this process or in workers), the
//! console follows, and the run ends with its reports, the state `--lf` and sharding read
//! next time, GitHub's annotations, and the exit code.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dbtest_core::coverage::CoverageSummary;
use dbtest_core::{exit_code, exit_code_with, Error, Event, ExitCode, Report};
use dbtest_report::console::{Console, ConsoleOptions};
use dbtest_runner::workers::{PoolOptions, WorkerSpec};
use dbtest_runner::{CancellationToken, Engine, Observer};

use crate::plan::{run_options, selected, worker_spec, Prepared};
use crate::static_first::{static_reading_holds, NoFiles, StaticFirst};

/// Ends coverage measurement and renders its reports (coverage.py, through the binding):
/// awaited once the tests have run, before the summary is printed. `Err` is coverage.py's
/// own error, as text.
pub type CoverageFinish = Pin<Box<dyn Future<Output = Result<CoverageSummary, String>> + Send>>;

/// Where the tests run: in this process, or in worker processes.
pub enum Executor<E> {
    InProcess(E),
    Workers(WorkerSpec, usize),
}

impl Prepared {
    /// Whether the run happens in worker processes (it then needs no driver or event loop
    /// in this process).
    pub fn uses_workers(&self) -> bool {
        self.config.workers.is_some_and(|w| w.count() > 0)
            && !self.config.collect_only.unwrap_or(false)
            && !self.python.debug.one_at_a_time()
    }
}

/// A run that needs no Python driver in this process: one that found no test files (reports
/// and exit code 5), or one in worker processes started with `python`. Ctrl-C interrupts it
/// (exit 2, partial report); a second Ctrl-C ends the process.
pub async fn execute_without_driver(
    prepared: Prepared,
    python: PathBuf,
    cancel: CancellationToken,
    abandoned: &AtomicBool,
    coverage: Option<CoverageFinish>,
) -> Result<ExitCode, Error> {
    let executor = if prepared.files.is_empty() {
        Executor::InProcess(NoFiles)
    } else if prepared.uses_workers() {
        let count = prepared.config.workers.map_or(0, |w| w.count());
        Executor::Workers(
            worker_spec(&prepared, python).map_err(Error::Internal)?,
            count,
        )
    } else {
        return Err(Error::Internal(
            "an in-process run needs a driver: use run()".into(),
        ));
    };
    let watcher = dbtest_runner::watch_ctrl_c(cancel.clone(), None);
    let code = execute(executor, prepared, cancel, abandoned, coverage).await;
    watcher.abort();
    Ok(code)
}

pub async fn execute(
    executor: Executor<impl Engine>,
    prepared: Prepared,
    cancel: CancellationToken,
    abandoned: &AtomicBool,
    coverage: Option<CoverageFinish>,
) -> ExitCode {
    let Prepared {
        config,
        root,
        files,
        selector,
        last_failed,
        shuffle_seed,
        python,
        ..
    } = prepared;
    if let Some(seed) = shuffle_seed {
        println!("random order: replay it with --random-order --seed {seed}");
    }
    let collect_only = config.collect_only.unwrap_or(false);
    let console = Arc::new(Mutex::new(Console::new(ConsoleOptions {
        color: config.color.unwrap_or_default(),
        verbosity: config.verbosity.unwrap_or(0),
        durations: config.durations,
        progress: if collect_only || !python.debug.live_display() {
            Some(false)
        } else {
            None
        },
    })));
    let sink = console.clone();
    let observer: Observer = Arc::new(Mutex::new(move |e: &Event| sink.lock().unwrap().handle(e)));
    let select =
        move |case: &dbtest_core::TestCase| selected(&selector, last_failed.as_ref(), case);
    let opts = run_options(&config, shuffle_seed, select);
    // Keeps the elapsed time on the progress line moving while a long test runs.
    let ticker = console.lock().unwrap().progress_enabled().then(|| {
        let console = console.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                console.lock().unwrap().tick();
            }
        })
    });
    let started_at = jiff::Timestamp::now();
    let out = match executor {
        Executor::InProcess(engine) => {
            let engine = StaticFirst {
                inner: engine,
                collect_only: opts.collect_only,
                select: opts.select.clone(),
                enabled: static_reading_holds(&python),
                root: root.clone(),
                ignores: Default::default(),
            };
            dbtest_runner::run(engine, files, opts, observer, cancel).await
        }
        Executor::Workers(spec, workers) => {
            let pool = PoolOptions {
                workers,
                stop_after: opts.stop_after,
                collect_timeout: opts.collect_timeout,
                ..PoolOptions::default()
            };
            dbtest_runner::workers::run_pool(spec, files, pool, observer, cancel).await
        }
    };
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    abandoned.store(out.abandoned, Ordering::SeqCst);
    // Before the console is locked: the measurement ends on Python's side.
    let fail_under = python.coverage.as_ref().and_then(|c| c.fail_under);
    let (coverage_section, coverage_code) = match coverage.filter(|_| !collect_only) {
        None => (String::new(), None),
        Some(finish) => match finish.await {
            Ok(summary) => {
                let (text, failed) = summary.verdict(fail_under);
                (text, failed.then_some(ExitCode::TestsFailed))
            }
            Err(e) => (
                format!("dbtest: coverage could not be reported: {e}\n"),
                Some(ExitCode::Internal),
            ),
        },
    };
    let mut console = console.lock().unwrap();
    if collect_only {
        print!("{}", console.render_collect_only(&out.selected));
        // Files that failed to import during collection are shown, and fail the listing.
        let report = Report::new("unit", started_at, out.duration.as_secs_f64(), out.results);
        if report.summary.total > 0 {
            console.finish(&report, out.interrupted);
            return ExitCode::TestsFailed;
        }
        return if out.selected.is_empty() {
            ExitCode::NoTests
        } else {
            ExitCode::Ok
        };
    }
    let report = Report::new("unit", started_at, out.duration.as_secs_f64(), out.results);
    remember(&root, &report, out.interrupted, config.shard.is_some());
    let written = write_reports(
        &report,
        config.json.as_deref(),
        config.junit_xml.as_deref(),
        config.markdown.as_deref(),
    );
    console.finish_with(&report, out.interrupted, &coverage_section);
    github_actions(&report);
    match exit_code_with(
        &report.summary,
        out.interrupted,
        config.inconclusive_ok.unwrap_or(false),
    ) {
        ExitCode::Ok | ExitCode::NoTests if !written => ExitCode::Internal,
        // Coverage below its threshold fails a run whose tests passed, as pytest-cov does.
        ExitCode::Ok => coverage_code.unwrap_or(ExitCode::Ok),
        code => code,
    }
}

/// Under GitHub Actions: annotate the first failures and add the Markdown report to the
/// job's summary, so a plain `dbtest unit` step needs no extra configuration.
fn github_actions(report: &Report) {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    print!(
        "{}",
        dbtest_report::github::annotations(report, dbtest_report::github::ANNOTATION_LIMIT)
    );
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        let markdown = dbtest_report::markdown::render(report);
        if let Err(e) = dbtest_report::github::append_step_summary(Path::new(&path), &markdown) {
            eprintln!("dbtest: cannot write the GitHub step summary: {e}");
        }
    }
}

/// Writes `report` to every format asked for; false when one could not be written.
fn write_reports(
    report: &Report,
    json: Option<&str>,
    junit: Option<&str>,
    markdown: Option<&str>,
) -> bool {
    let mut ok = true;
    for (path, write) in [
        (
            json,
            dbtest_report::json::write as fn(&Report, &Path) -> std::io::Result<()>,
        ),
        (junit, dbtest_report::junit::write),
        (markdown, dbtest_report::markdown::write),
    ] {
        if let Some(path) = path {
            if let Err(e) = write(report, Path::new(path)) {
                eprintln!("dbtest: cannot write report {path}: {e}");
                ok = false;
            }
        }
    }
    ok
}

/// `dbtest report merge`: one report from the JSON reports of a run's shards, shown,
/// written and recorded as a run's would be.
pub fn merge_reports(
    inputs: &[PathBuf],
    json: Option<&str>,
    junit_xml: Option<&str>,
    markdown: Option<&str>,
) -> Result<ExitCode, Error> {
    let mut parts = Vec::new();
    for path in inputs {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Usage(format!("cannot read report {}: {e}", path.display())))?;
        let report: Report = serde_json::from_str(&text).map_err(|e| {
            Error::Usage(format!(
                "{} is not a dbtest.report/1 JSON report ({e}); pass the files written by `dbtest unit --json`",
                path.display()
            ))
        })?;
        parts.push(report);
    }
    let merged = Report::merge(parts);
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(project) = dbtest_core::config::find_project(&cwd) {
            remember(&project.root, &merged, false, false);
        }
    }
    let console = Console::new(ConsoleOptions::default());
    print!("{}", console.render_summary(&merged, false));
    github_actions(&merged);
    if !write_reports(&merged, json, junit_xml, markdown) {
        return Ok(ExitCode::Internal);
    }
    Ok(exit_code(&merged.summary, false))
}

/// Leaves what failed and how long each file took for `--lf`, sharding and scheduling.
/// An interrupted run knows too little to replace what an earlier one recorded as failed.
/// A shard records no durations: every shard of a run must plan with the same ones, and a
/// shard that ran first would change them for the next. `dbtest report merge` records the
/// whole run's instead.
fn remember(root: &Path, report: &Report, interrupted: bool, sharded: bool) {
    let mut problems = Vec::new();
    if !sharded {
        let mut per_file: HashMap<String, f64> = HashMap::new();
        for t in &report.tests {
            *per_file.entry(t.file.clone()).or_default() += t.duration_s;
        }
        if let Err(e) = dbtest_core::state::save_durations(root, &per_file) {
            problems.push(e);
        }
    }
    if !interrupted {
        let failed: Vec<String> = report
            .tests
            .iter()
            .filter(|t| t.outcome.fails_run())
            .map(|t| t.id.clone())
            .collect();
        if let Err(e) = dbtest_core::state::save_last_failed(root, &failed) {
            problems.push(e);
        }
    }
    for e in problems {
        eprintln!(
            "dbtest: cannot record run state under {}: {e}",
            root.join(".dbtest").display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_without_files_needs_no_driver_and_says_no_tests() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), "[tool.dbtest]\n").unwrap();
        let flags: dbtest_core::UnitConfig = serde_json::from_value(serde_json::json!({
            "paths": [dir.path().display().to_string()]
        }))
        .unwrap();
        let prepared = crate::prepare(flags, dir.path()).unwrap();
        assert!(prepared.files.is_empty() && !prepared.uses_workers());
        let code = execute_without_driver(
            prepared,
            PathBuf::from("python3"),
            CancellationToken::new(),
            &AtomicBool::new(false),
            None,
        )
        .await
        .unwrap();
        assert_eq!(code, ExitCode::NoTests);
    }

    fn report(outcomes: &[(&str, &str)]) -> Report {
        let tests = outcomes
            .iter()
            .map(|(id, outcome)| {
                serde_json::from_value(serde_json::json!({
                    "id": id, "file": id.split("::").next().unwrap(), "line": 1, "name": "t",
                    "suite": null, "params": null, "tags": [], "outcome": outcome,
                    "duration_s": 0.5, "attempts": 1, "message": null, "traceback": null,
                    "stdout": "", "stderr": ""
                }))
                .unwrap()
            })
            .collect();
        Report::new("unit", jiff::Timestamp::UNIX_EPOCH, 1.0, tests)
    }

    #[test]
    fn a_run_leaves_what_failed_and_its_file_durations() {
        let dir = tempfile::tempdir().unwrap();
        let run = report(&[("a.py::t1", "passed"), ("a.py::t2", "failed")]);
        remember(dir.path(), &run, false, false);
        let failed = dbtest_core::state::last_failed(dir.path()).unwrap();
        assert_eq!(failed, ["a.py::t2"]);
        assert_eq!(dbtest_core::state::durations(dir.path())["a.py"], 1.0);
    }

    #[test]
    fn an_interrupted_run_keeps_the_failures_recorded_before_it() {
        let dir = tempfile::tempdir().unwrap();
        remember(dir.path(), &report(&[("a.py::t", "failed")]), false, false);
        remember(dir.path(), &report(&[("a.py::t", "passed")]), true, false);
        assert_eq!(
            dbtest_core::state::last_failed(dir.path()).unwrap(),
            ["a.py::t"]
        );
    }

    #[test]
    fn a_shard_records_no_durations() {
        let dir = tempfile::tempdir().unwrap();
        remember(dir.path(), &report(&[("a.py::t", "passed")]), false, true);
        assert!(dbtest_core::state::durations(dir.path()).is_empty());
    }

    #[test]
    fn merging_a_file_that_is_not_a_report_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "{}").unwrap();
        let err = merge_reports(&[path], None, None, None).err().unwrap();
        assert!(
            err.to_string()
                .contains("is not a dbtest.report/1 JSON report"),
            "{err}"
        );
    }
}
