//! One `dbtest experiment run`: the run folder (new, or an earlier one to resume, checked
//! against the design), the sampling, and what the folder holds when it ends: `run.json`,
//! `samples.jsonl`, a baseline per configuration, `summary.json` and `SUMMARY.md`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use dbtest_core::{Error, ExitCode};
use dbtest_llm::cache::CacheMode;
use dbtest_report::LiveLines;
use dbtest_runner::CancellationToken;
use serde_json::{json, Value};

use crate::artifacts;
use crate::design::{config_label, Configuration, Design};
use crate::models::{ImportMiddleware, ModelSide};
use crate::project::{absolute, Project};
use crate::report;
use crate::sample::{read_log, SampleLog, SampleRecord};
use crate::schedule::{
    self, Backoff, ConfigState, Plan, RunError, RunOutcome, SampleEngine, StopRule, Termination,
};
use crate::shard::Shard;
use crate::spec;

pub(crate) const RUN_SCHEMA: &str = "dbtest.experiment-run/1";

/// A value as YAML text (baselines are YAML; the YAML library is the caller's).
pub trait YamlText {
    fn yaml(&self, value: &Value) -> Result<String, String>;
}

impl<F: Fn(&Value) -> Result<String, String>> YamlText for F {
    fn yaml(&self, value: &Value) -> Result<String, String> {
        self(value)
    }
}

/// A run, ready to start: everything checked before the first sample.
pub struct PreparedRun {
    pub project: Project,
    pub design: Design,
    design_value: Value,
    design_file: String,
    pub run_dir: PathBuf,
    run_seed: u64,
    pub resumed: Vec<SampleRecord>,
    is_resume: bool,
    /// `--shard K/N`: this run samples one share (see [`crate::shard`]).
    pub shard: Option<Shard>,
    /// The models, dataset and LLM layer, checked before any sample.
    pub models: ModelSide,
}

/// A seed that JSON numbers (doubles) hold exactly.
pub fn random_seed() -> u64 {
    fastrand::u64(..) & ((1 << 53) - 1)
}

fn now_text() -> String {
    let ts = jiff::Timestamp::now();
    ts.round(jiff::Unit::Second).unwrap_or(ts).to_string()
}

/// What only the caller (the binding) can do for a run: read YAML, build Python middleware.
pub struct Host<'a> {
    /// A YAML file as JSON text; a missing or malformed file is a usage error naming it.
    pub read_yaml: &'a dyn Fn(&Path) -> Result<String, Error>,
    pub middleware: &'a ImportMiddleware<'a>,
}

fn no_yaml(path: &Path) -> Result<String, Error> {
    Err(Error::Usage(format!(
        "{}: YAML cannot be read here",
        path.display()
    )))
}

fn no_python(
    target: &str,
    _root: &Path,
) -> Result<Arc<dyn dbtest_llm::middleware::Middleware>, String> {
    Err(format!("{target}: Python middleware cannot be built here"))
}

impl Host<'static> {
    /// A host without Python (the crate's own tests).
    pub fn without_python() -> Host<'static> {
        Host {
            read_yaml: &no_yaml,
            middleware: &no_python,
        }
    }
}

/// Reads the design and decides the run folder: `--resume DIR` (whose design must be the
/// same in what decides the samples), `--out DIR` (which must not hold a run yet), or a new
/// time-stamped folder under the project's experiments folder.
#[allow(clippy::too_many_arguments)]
pub fn prepare_run(
    design_value: Value,
    design_file: &str,
    cwd: &Path,
    out: Option<&str>,
    resume: Option<&str>,
    shard: Option<&str>,
    cache: CacheMode,
    host: &Host<'_>,
) -> Result<PreparedRun, Error> {
    let project = Project::find(cwd)?;
    let design_value = match &project.config.models {
        Some(file) => {
            let path = project.root.join(file);
            let rel = project.relative(&path);
            let shared = (host.read_yaml)(&path)
                .and_then(|text| crate::models::shared_models(&text, &rel))
                .map_err(|e| {
                    Error::Usage(format!("[tool.dbtest.experiment] models = {file:?}: {e}"))
                })?;
            crate::models::with_shared_models(design_value, &shared)
        }
        None => design_value,
    };
    let mut design =
        Design::from_value(design_file, &design_value).map_err(|e| Error::Usage(e.to_string()))?;
    let mut shard = shard
        .map(|text| text.parse::<Shard>().map_err(Error::Usage))
        .transpose()?;
    if let Some(s) = shard {
        s.check_design(&design, design_file).map_err(Error::Usage)?;
    }
    // A signing key missing now would only be found after every sample had run.
    design.artifacts.check_keys()?;
    // An earlier run's seed and samples, when resuming.
    let (run_dir, earlier) = match (resume, out) {
        (Some(dir), _) => {
            let run_dir = absolute(cwd, dir);
            let (seed, records, stored) = resume_from(&run_dir, dir, &design)?;
            // A resumed share goes on with its own share; a different one is refused.
            if shard.is_some() && shard != stored {
                return Err(Error::Usage(format!(
                    "--resume {dir} --shard {}: the run is {}; resume it with the share it was started with",
                    shard.map(|s| s.to_string()).unwrap_or_default(),
                    stored.map_or("not a share".to_string(), |s| format!("share {s}"))
                )));
            }
            shard = stored;
            (run_dir, Some((seed, records)))
        }
        (None, Some(dir)) => {
            let run_dir = absolute(cwd, dir);
            if run_dir.join("samples.jsonl").exists() {
                return Err(Error::Usage(format!(
                    "--out {dir} already holds a run; continue it with --resume {dir}, or choose another folder"
                )));
            }
            (run_dir, None)
        }
        (None, None) => {
            let base = project.out_dir().join(&design.experiment);
            (new_run_dir(&base, jiff::Timestamp::now()), None)
        }
    };
    let is_resume = earlier.is_some();
    let (run_seed, resumed) =
        earlier.unwrap_or_else(|| (design.seed.unwrap_or_else(random_seed), Vec::new()));
    let design_path = absolute(cwd, design_file);
    let design_dir = design_path.parent().unwrap_or(cwd);
    // Baselines and specs keep the dataset's path from the project root, where `verify`
    // finds it whatever the folder it runs from.
    if let Some(d) = &design.llm.dataset {
        let path = Value::String(project.relative(&design_dir.join(&d.path)));
        match design.llm.written.get_mut("dataset") {
            Some(Value::Object(written)) => {
                written.insert("path".into(), path);
            }
            Some(written) => *written = path,
            None => {}
        }
    }
    let cache_path = project.root.join(".dbtest").join("llm-cache.sqlite");
    let models = crate::models::prepare(
        &design,
        design_file,
        design_dir,
        &run_dir,
        (cache, &cache_path),
        |var| std::env::var(var).ok(),
        &|target| (host.middleware)(target, &project.root),
    )?;
    Ok(PreparedRun {
        project,
        design,
        design_value,
        design_file: design_file.to_string(),
        run_dir,
        run_seed,
        resumed,
        is_resume,
        shard,
        models,
    })
}

/// `base/<UTC time stamp>`, or `-2`, `-3`, ... after it when that folder exists.
pub(crate) fn new_run_dir(base: &Path, now: jiff::Timestamp) -> PathBuf {
    let stamp = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    let mut dir = base.join(&stamp);
    let mut n = 2;
    while dir.exists() {
        dir = base.join(format!("{stamp}-{n}"));
        n += 1;
    }
    dir
}

/// The seed, samples and share of the run in `run_dir`, when its design decides samples as
/// `design` does.
fn resume_from(
    run_dir: &Path,
    dir: &str,
    design: &Design,
) -> Result<(u64, Vec<SampleRecord>, Option<Shard>), Error> {
    let run_file = run_dir.join("run.json");
    let text = std::fs::read_to_string(&run_file).map_err(|e| {
        Error::Usage(format!(
            "--resume {dir}: {} cannot be read ({e}); pass the folder of an earlier run",
            run_file.display()
        ))
    })?;
    let stored: Value = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{}: {e}", run_file.display())))?;
    let stored_design = Design::from_value(&run_file.display().to_string(), &stored["design"])
        .map_err(|e| Error::Usage(e.to_string()))?;
    let source = |d: &Design| d.success.as_ref().map(|e| e.source().to_string());
    for (key, same) in [
        ("experiment", stored_design.experiment == design.experiment),
        ("use_case", stored_design.use_case == design.use_case),
        ("factors", stored_design.factors == design.factors),
        ("success", source(&stored_design) == source(design)),
        ("confidence", stored_design.confidence == design.confidence),
    ] {
        if !same {
            return Err(Error::Usage(format!(
                "--resume {dir}: the design's `{key}` differs from the run's ({}); resume with \
                 the design the run was started with, or start a new run",
                run_file.display()
            )));
        }
    }
    let run_seed = stored["seed"]
        .as_u64()
        .ok_or_else(|| Error::Usage(format!("{}: no `seed`", run_file.display())))?;
    let shard = crate::shard::stored_shard(&stored)
        .map_err(|e| Error::Usage(format!("{}: {e}", run_file.display())))?;
    let resumed = read_log(&run_dir.join("samples.jsonl"))
        .map_err(|e| Error::Usage(format!("--resume {dir}: {e}")))?;
    Ok((run_seed, resumed, shard))
}

/// The live lines of a run: one per configuration.
pub struct ConfigLines {
    labels: Vec<String>,
    planned: u64,
    confidence: f64,
    live: LiveLines,
}

impl ConfigLines {
    pub fn new(configs: &[Configuration], planned: u64, confidence: f64, on: bool) -> Self {
        let labels: Vec<String> = configs.iter().map(|c| config_label(&c.factors)).collect();
        let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        ConfigLines {
            labels: labels.iter().map(|l| format!("{l:width$}")).collect(),
            planned,
            confidence,
            live: LiveLines::new(if on { None } else { Some(false) }),
        }
    }

    pub fn draw(&mut self, states: &[ConfigState], force: bool) {
        if !force && !self.live.due(Instant::now()) {
            return;
        }
        let lines: Vec<String> = self
            .labels
            .iter()
            .zip(states)
            .map(|(label, state)| {
                report::progress_line(label, state, self.planned, self.confidence)
            })
            .collect();
        self.live.draw(&lines);
    }

    pub fn clear(&mut self) {
        self.live.clear();
    }
}

/// Samples the prepared run and writes what its folder holds; prints the summary. The exit
/// code is 2 when interrupted (the folder then holds what was gathered, and how to resume).
pub async fn execute_run<E: SampleEngine>(
    engine: E,
    p: PreparedRun,
    cancel: CancellationToken,
    yaml: &impl YamlText,
) -> Result<ExitCode, String> {
    let design = &p.design;
    let configs = design.configurations();
    std::fs::create_dir_all(&p.run_dir)
        .map_err(|e| format!("cannot create {}: {e}", p.run_dir.display()))?;
    let started_at = now_text();
    if !p.is_resume {
        let mut run = json!({
            "schema": RUN_SCHEMA,
            "design_file": p.design_file,
            "started_at": started_at,
            "seed": p.run_seed,
            "security_level": design.artifacts.level,
            "design": p.design_value,
        });
        // What `dbtest experiment merge` needs from a share, which it cannot recompute.
        if let Some(shard) = p.shard {
            run["shard"] = json!(shard);
        }
        if let Some(rows) = p.models.dataset.as_ref().map(|d| d.len()) {
            run["dataset_rows"] = json!(rows);
        }
        let text = serde_json::to_string_pretty(&run).map_err(|e| e.to_string())?;
        dbtest_report::write_atomic(&p.run_dir.join("run.json"), text.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let mut log = SampleLog::open(&p.run_dir.join("samples.jsonl"))
        .map_err(|e| format!("cannot open the sample log in {}: {e}", p.run_dir.display()))?;
    let plan = Plan {
        experiment: design.experiment.clone(),
        run_seed: p.run_seed,
        configs: configs.clone(),
        samples: design.samples,
        concurrency: design.concurrency as usize,
        max_per_second: design.max_per_second,
        // A design without Python: the LLM layer retries each call, and the engine judges
        // the reply (a reply that is not JSON is a failed sample, not an error).
        retries: if design.llm.prompt.is_some() {
            0
        } else {
            design.retries
        },
        backoff: Backoff::default(),
        budgets: design.budgets,
        success: design
            .success
            .clone()
            .filter(|_| design.llm.prompt.is_none()),
        confidence: design.confidence,
        stop: design
            .stop_when
            .map_or(StopRule::None, |s| StopRule::CiHalfWidth(s.ci_half_width)),
        replace_errors: false,
        max_errors: None,
        shard: p.shard,
    };
    let rel_run_dir = p.project.relative(&p.run_dir);
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    if p.is_resume {
        eprintln!(
            "resuming {rel_run_dir}: {} sample{} already done",
            p.resumed.len(),
            plural(p.resumed.len())
        );
    } else {
        let share = p.shard.map_or(String::new(), |s| {
            format!(
                " (share {s}: {} of each, {})",
                s.planned(design.samples),
                s.describe(design.samples)
            )
        });
        eprintln!(
            "experiment {}: {} configuration{} x {} samples{share} -> {rel_run_dir} (security level {})",
            design.experiment,
            configs.len(),
            plural(configs.len()),
            design.samples,
            design.artifacts.level
        );
    }
    let mut live = ConfigLines::new(&configs, plan.planned(), design.confidence, true);
    let clock = Instant::now();
    let outcome: Result<RunOutcome, RunError> = schedule::run(
        Arc::new(engine),
        Arc::new(plan),
        p.resumed,
        cancel,
        |_, record, states| {
            log.append(record)
                .map_err(|e| RunError(format!("cannot append to {}: {e}", log.path().display())))?;
            live.draw(states, false);
            Ok(())
        },
    )
    .await;
    if let Ok(outcome) = &outcome {
        live.draw(&outcome.configs, true);
    }
    live.clear();
    let outcome = outcome.map_err(|e| e.0)?;
    let states: Vec<ConfigState> = outcome
        .configs
        .into_iter()
        .map(|c| ConfigState::from_records(c.records, c.termination))
        .collect();
    let (summary, written) = write_results(
        &Results {
            design,
            run_seed: p.run_seed,
            run_dir: &p.run_dir,
            rel_run_dir: &rel_run_dir,
            states: &states,
            started_at: &started_at,
            duration_s: clock.elapsed().as_secs_f64(),
            stopped: outcome.stopped,
            rows: p.models.dataset.as_ref().map(|d| d.len()),
            shard: p.shard,
        },
        yaml,
    )?;
    let mut out = report::console(&summary);
    out.push_str(&format!(
        "\nwrote {rel_run_dir}/: samples.jsonl, baselines/ ({}), SUMMARY.md, summary.json\n",
        summary.configurations.len()
    ));
    if let Some(s) = p.shard {
        out.push_str(&format!(
            "share {s}: join the shares with `dbtest experiment merge RUN_DIR...`\n"
        ));
    }
    out.push_str(&artifacts::written_line(&written));
    if outcome.stopped == Some(Termination::Interrupted) {
        out.push_str(&format!(
            "{}: continue with `dbtest experiment run {} --resume {rel_run_dir}`\n",
            if outcome.fatal.is_some() {
                "stopped"
            } else {
                "interrupted"
            },
            p.design_file
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    if let Some(fatal) = &outcome.fatal {
        // After the summary, so that it is the last thing the user reads.
        eprintln!("dbtest: error: {fatal}");
        return Ok(ExitCode::Usage);
    }
    Ok(match outcome.stopped {
        Some(Termination::Interrupted) => ExitCode::Interrupted,
        _ => ExitCode::Ok,
    })
}

/// What a run folder's summary is made from: the design, the seed, each configuration's
/// state (in configuration order) and how the run went.
pub(crate) struct Results<'a> {
    pub design: &'a Design,
    pub run_seed: u64,
    pub run_dir: &'a Path,
    /// The folder as the summary names it (relative to the project).
    pub rel_run_dir: &'a str,
    pub states: &'a [ConfigState],
    pub started_at: &'a str,
    pub duration_s: f64,
    pub stopped: Option<Termination>,
    /// The dataset's row count, if the design has one.
    pub rows: Option<u64>,
    pub shard: Option<Shard>,
}

/// Writes a run folder's baselines, `summary.json` and `SUMMARY.md`, then the design's
/// sinks over the folder's own files (`samples.jsonl` must be written): one function for a
/// run and for `merge`, so that a merged folder is made exactly as a single run's is.
pub(crate) fn write_results(
    r: &Results<'_>,
    yaml: &impl YamlText,
) -> Result<(report::Summary, Vec<dbtest_artifacts::Written>), String> {
    let design = r.design;
    let generated_at = now_text();
    let mut baselines = Vec::new();
    let mut files = Vec::new();
    for (config, state) in design.configurations().iter().zip(r.states) {
        let b = report::baseline(design, r.run_seed, config, state, &generated_at);
        let file = format!("baselines/{}.yaml", config.config_id);
        let value = serde_json::to_value(&b).map_err(|e| e.to_string())?;
        dbtest_report::write_atomic(&r.run_dir.join(&file), yaml.yaml(&value)?.as_bytes())
            .map_err(|e| e.to_string())?;
        baselines.push(b);
        files.push(file);
    }
    let mut summary = report::summary(
        design,
        &baselines,
        r.states,
        &files,
        r.rel_run_dir,
        r.started_at,
        r.duration_s,
        r.stopped,
        r.rows,
    );
    summary.shard = r.shard;
    let json_text = serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?;
    dbtest_report::write_atomic(&r.run_dir.join("summary.json"), json_text.as_bytes())
        .map_err(|e| e.to_string())?;
    dbtest_report::write_atomic(
        &r.run_dir.join("SUMMARY.md"),
        report::markdown(&summary).as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    // After an interruption or a spent budget too: the sinks render what was gathered, read
    // back from the folder's own files as `dbtest experiment report` reads them, so that a
    // re-render gives the same bytes (and a signed bundle stays valid).
    let written = if design.artifacts.sinks.is_empty() {
        Vec::new()
    } else {
        let records = read_log(&r.run_dir.join("samples.jsonl")).map_err(|e| e.to_string())?;
        let stored: report::Summary =
            serde_json::from_str(&json_text).map_err(|e| e.to_string())?;
        artifacts::write(&design.artifacts, &stored, &records, r.run_dir)
            .map_err(|e| e.to_string())?
    };
    Ok((summary, written))
}

/// The engine of a design without Python, over its rendered `prompts[config][row]`.
pub fn prompt_engine(
    p: &PreparedRun,
    prompts: Vec<Vec<Vec<dbtest_llm::Message>>>,
) -> Result<crate::models::PromptEngine, Error> {
    crate::models::PromptEngine::new(
        &p.models,
        &p.design,
        p.design.configurations(),
        prompts,
        p.run_seed,
    )
}

/// Reads a design document's JSON text (the YAML as the caller loaded it).
pub fn design_value(design_json: &str, design_file: &str) -> Result<Value, Error> {
    serde_json::from_str(design_json).map_err(|e| {
        Error::Usage(format!(
            "{design_file}: {}",
            spec::strip_position(&e.to_string())
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_run_folder_never_reuses_one() {
        let dir = tempfile::tempdir().unwrap();
        let now: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let first = new_run_dir(dir.path(), now);
        assert_eq!(first, dir.path().join("20261201T100000Z"));
        std::fs::create_dir_all(&first).unwrap();
        let second = new_run_dir(dir.path(), now);
        assert_eq!(second, dir.path().join("20261201T100000Z-2"));
    }

    #[test]
    fn resuming_needs_the_same_design() {
        let dir = tempfile::tempdir().unwrap();
        let design = |factor: &str| {
            json!({"experiment": "e", "use_case": "u", "samples": 4,
                   "factors": {"model": [factor]}})
        };
        let stored = Design::from_value("d.yaml", &design("a")).unwrap();
        std::fs::write(
            dir.path().join("run.json"),
            json!({"seed": 7, "design": design("a")}).to_string(),
        )
        .unwrap();
        std::fs::write(dir.path().join("samples.jsonl"), "").unwrap();
        let (seed, resumed, shard) = resume_from(dir.path(), "run", &stored).unwrap();
        assert_eq!((seed, resumed.len(), shard), (7, 0, None));
        let other = Design::from_value("d.yaml", &design("b")).unwrap();
        let err = resume_from(dir.path(), "run", &other)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the design's `factors` differs"), "{err}");
        let missing = resume_from(&dir.path().join("nope"), "nope", &stored)
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("pass the folder of an earlier run"),
            "{missing}"
        );
    }
}
