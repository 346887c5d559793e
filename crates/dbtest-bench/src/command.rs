//! One `dbtest bench`: settings and discovery up front (a bad flag, path or saved run fails
//! before anything is measured), then the measuring, the console, the reports, the saved run
//! and the exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dbtest_core::config::{find_dbtest_project, DEFAULT_BENCH_PATTERN};
use dbtest_core::{BenchConfig, Error, ExitCode};
use dbtest_discovery::{
    dbtest_norecurse, discover_from, relative_id, search_paths, Pattern, Selector,
};
use dbtest_report::LiveLines;
use dbtest_runner::FileJob;
use serde_json::{Map, Value};

use crate::{BenchEngine, BenchReport, CompareOutcome, Settings, BENCH_SCHEMA};

pub struct Prepared {
    pub config: BenchConfig,
    pub root: PathBuf,
    files: Vec<FileJob>,
    selector: Selector,
    saved: Option<BenchReport>,
}

/// Flags over `[tool.dbtest.bench]`, checked; the benchmark files; the saved run to compare
/// with, read now.
pub fn prepare(flags: BenchConfig, cwd: &Path) -> Result<Prepared, Error> {
    let (root, file_config) = find_dbtest_project(cwd)?;
    let flag_paths = flags.paths.clone();
    let config = flags.over(file_config.and_then(|(_, c)| c.bench).unwrap_or_default());
    config.validate("dbtest bench")?;
    for name in [&config.save, &config.compare].into_iter().flatten() {
        crate::check_name(name).map_err(Error::Usage)?;
    }
    // A missing or unreadable saved run is a usage error, found before anything is measured.
    let saved = match &config.compare {
        Some(name) => Some(crate::load(&root, name).map_err(Error::Usage)?),
        None => None,
    };
    let paths = search_paths(
        &root,
        flag_paths.as_deref(),
        config.paths.as_deref(),
        Some("benches"),
    );
    let pattern = config.pattern.as_deref().unwrap_or(DEFAULT_BENCH_PATTERN);
    let found = discover_from(
        cwd,
        &root,
        &paths,
        &[Pattern::Glob(pattern.to_owned())],
        &dbtest_norecurse(),
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let selector = Selector::new(
        config.match_.as_deref().unwrap_or_default(),
        None,
        found.id_prefixes,
    )
    .map_err(|e| Error::Usage(e.to_string()))?;
    let files = found
        .files
        .into_iter()
        .map(|path| FileJob {
            rel: relative_id(&root, &path),
            path,
            exclusive: false,
        })
        .collect();
    Ok(Prepared {
        config,
        root,
        files,
        selector,
        saved,
    })
}

/// The flags' measuring settings over the engine's defaults.
pub fn settings(config: &BenchConfig) -> Settings {
    let d = Settings::default();
    Settings {
        warmup_rounds: config.warmup.unwrap_or(d.warmup_rounds),
        min_rounds: config.min_rounds.unwrap_or(d.min_rounds),
        max_time_s: config.max_time.unwrap_or(d.max_time_s),
        min_round_time_s: config.min_round_time.unwrap_or(d.min_round_time_s),
        gc_disabled: config.disable_gc.unwrap_or(d.gc_disabled),
    }
}

/// The machine a run measured on: its CPU and the commit measured (and whether the work
/// tree differs from it), beside what the engine reports of Python.
fn machine(root: &Path, env: &mut Map<String, Value>) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        });
    env.insert("cpu".into(), cpu.map_or(Value::Null, Into::into));
    env.insert(
        "cpu_count".into(),
        std::thread::available_parallelism()
            .map_or(0, |n| n.get())
            .into(),
    );
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    env.insert(
        "commit".into(),
        git(&["rev-parse", "HEAD"]).map_or(Value::Null, Into::into),
    );
    if let Some(status) = git(&["status", "--porcelain", "--untracked-files=no"]) {
        env.insert("dirty".into(), (!status.is_empty()).into());
    }
}

/// Measures, prints the results (and the comparison), writes the reports and the saved run.
/// Returns the exit code and the report as JSON.
pub async fn execute<E: BenchEngine>(
    engine: &E,
    prepared: Prepared,
    mut environment: Map<String, Value>,
) -> (ExitCode, String) {
    let Prepared {
        config,
        root,
        files,
        selector,
        saved,
    } = prepared;
    let settings = settings(&config);
    machine(&root, &mut environment);
    let color = dbtest_report::color_enabled(config.color.unwrap_or_default());
    let mut live = LiveLines::new(None);
    let started_at = jiff::Timestamp::now();
    let clock = Instant::now();
    let measured = crate::run(
        engine,
        files,
        &settings,
        |case| selector.matches(&case.id(), &[]),
        |case, i, total| {
            live.draw(&[format!(
                "  measuring {}/{total} {}::{}",
                i + 1,
                case.group,
                case.label()
            )])
        },
        |_| {},
    )
    .await;
    live.clear();
    let measured = match measured {
        Ok(m) => m,
        Err(e) => {
            eprintln!("dbtest: {}", e.message);
            return (ExitCode::Internal, String::new());
        }
    };
    let report = BenchReport {
        schema: BENCH_SCHEMA.to_string(),
        started_at: started_at.to_string(),
        duration_s: clock.elapsed().as_secs_f64(),
        environment,
        settings,
        timer: measured.timer,
        benchmarks: measured.benchmarks,
        errors: measured.errors,
    };
    let mut out = crate::render::console(&report, color);
    let compared: Option<CompareOutcome> = saved
        .as_ref()
        .map(|old| crate::compare(old, &report, config.fail_on_regression));
    if let (Some(outcome), Some(name)) = (&compared, &config.compare) {
        out.push_str(&crate::render::comparison(outcome, name, color));
    }
    let failures = report.errors.len()
        + report
            .benchmarks
            .iter()
            .filter(|b| b.error.is_some())
            .count();
    let mut code = ExitCode::Ok;
    if report.benchmarks.is_empty() && report.errors.is_empty() {
        out.push_str("no benchmarks found\n");
        code = ExitCode::NoTests;
    }
    if failures > 0 {
        code = ExitCode::TestsFailed;
    }
    if let Some(outcome) = &compared {
        let regressions = outcome.regressions();
        if regressions > 0 {
            out.push_str(&format!(
                "\n{regressions} regression(s) beyond --fail-on-regression {}%\n",
                config.fail_on_regression.unwrap_or_default()
            ));
            code = ExitCode::TestsFailed;
        }
    }
    let json = match serde_json::to_string_pretty(&report) {
        Ok(json) => json,
        Err(e) => {
            eprintln!("dbtest: cannot serialize the bench report: {e}");
            return (ExitCode::Internal, String::new());
        }
    };
    let mut writes: Vec<(&str, Vec<u8>)> = Vec::new();
    if let Some(path) = &config.json {
        writes.push((path, json.clone().into_bytes()));
    }
    if let Some(path) = &config.markdown {
        let md = crate::render::markdown(&report, config.compare.as_deref().zip(compared.as_ref()));
        writes.push((path, md.into_bytes()));
    }
    for (path, bytes) in writes {
        if let Err(e) = dbtest_report::write_atomic(Path::new(path), &bytes) {
            out.push_str(&format!("dbtest: {e}\n"));
            code = ExitCode::Internal;
        }
    }
    if let Some(name) = &config.save {
        match crate::save(&root, name, &report) {
            Ok(path) => out.push_str(&format!("\nsaved as {name:?} ({})\n", path.display())),
            Err(e) => {
                out.push_str(&format!("dbtest: cannot save run {name:?}: {e}\n"));
                code = ExitCode::Internal;
            }
        }
    }
    let benchmarks = report.benchmarks.len();
    out.push_str(&format!(
        "\n{benchmarks} benchmark{}, {failures} failed, in {:.1}s\n",
        if benchmarks == 1 { "" } else { "s" },
        report.duration_s
    ));
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    (code, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_defaults_one_by_one() {
        let config = BenchConfig {
            min_rounds: Some(9),
            ..BenchConfig::default()
        };
        let s = settings(&config);
        assert_eq!(s.min_rounds, 9);
        assert_eq!(s.warmup_rounds, Settings::default().warmup_rounds);
        assert_eq!(s.max_time_s, Settings::default().max_time_s);
    }

    #[test]
    fn a_missing_saved_run_is_refused_before_measuring() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), "[tool.dbtest]\n").unwrap();
        let flags = BenchConfig {
            compare: Some("main".into()),
            ..BenchConfig::default()
        };
        let err = prepare(flags, dir.path()).err().unwrap().to_string();
        assert!(err.contains("main"), "{err}");
    }
}
