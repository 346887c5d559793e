//! Scale-out: `dbtest experiment run DESIGN --shard K/N` samples one share of every
//! configuration, and `dbtest experiment merge RUN_DIR...` joins the shares into one run
//! folder made exactly as a single run's is.
//!
//! - Share `K/N` runs the sample indices `i` with `i mod N == K - 1`, in every configuration,
//!   so that each share compares the configurations on the same indices (and dataset rows).
//! - A sample's seed comes from the run's seed, the experiment, the configuration and the
//!   index, never from the share: a sharded run therefore needs the design's `seed:` (it is
//!   refused without one), and then every sample is the one a single run would draw.
//! - `stop_when` is refused with a shard: each share would stop on its own samples.
//! - Budgets apply to each share as it runs (a share's job is what they protect).
//! - `merge` refuses shares of different designs or seeds, a run that is not a share, a
//!   share given twice, a missing share, an interrupted share (resume it first), and a
//!   sample log holding a sample outside its share. It writes `run.json` (with
//!   `merged_from`), `samples.jsonl` (in configuration then index order), the baselines,
//!   `summary.json`, `SUMMARY.md` and the design's artifacts, through the same code as a run.
//!
//! What "equal to a single run of the same samples" means: every file's content is the same
//! except what measures time: `generated_at`, `started_at` (the merged run's is the earliest
//! share's), `duration_s` (the longest share's), the run folder's own name (`run_dir`), and
//! anything the use case itself measures (a sample's `latency_ms`, hence the latency
//! percentiles and `content_sha256`) — equal too when the engine's latencies are.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use dbtest_core::Error;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::design::Design;
use crate::project::{absolute, Project};
use crate::report::Summary;
use crate::run::{write_results, Results, YamlText};
use crate::sample::{read_log, SampleRecord};
use crate::schedule::{ConfigState, Termination};

/// One share of a run's samples: `index` of `count` (1-based, as written: `--shard 2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard {text}: give the share as K/N, with N the number of shares and K one of 1 to N (e.g. 2/3)"
            )
        };
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl TryFrom<String> for Shard {
    type Error = String;

    fn try_from(text: String) -> Result<Shard, String> {
        text.parse()
    }
}

impl From<Shard> for String {
    fn from(s: Shard) -> String {
        s.to_string()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether sample `index` (of every configuration) belongs to this share.
    pub fn holds(&self, index: u64) -> bool {
        index % self.count == self.index - 1
    }

    /// How many of the indices `0..samples` this share runs.
    pub fn planned(&self, samples: u64) -> u64 {
        let first = self.index - 1;
        if samples <= first {
            0
        } else {
            (samples - first).div_ceil(self.count)
        }
    }

    /// `indices 1, 4, 7, ...` (0-based, as the sample log has them).
    pub fn describe(&self, samples: u64) -> String {
        let shown: Vec<String> = (0..samples)
            .filter(|&i| self.holds(i))
            .take(3)
            .map(|i| i.to_string())
            .collect();
        let more = if self.planned(samples) > 3 {
            ", ..."
        } else {
            ""
        };
        format!("indices {}{more}", shown.join(", "))
    }

    /// Refuses a design a share cannot run: without `seed` (the shares would draw different
    /// samples) or with `stop_when` (each share would stop on its own samples).
    pub fn check_design(&self, design: &Design, design_file: &str) -> Result<(), String> {
        if design.seed.is_none() {
            return Err(format!(
                "{design_file}: --shard {self} needs the design's `seed:` (e.g. `seed: 1234`), so \
                 that every share draws the same samples a single run would; add one and give \
                 every share the same design"
            ));
        }
        if design.stop_when.is_some() {
            return Err(format!(
                "{design_file}: --shard cannot be used with `stop_when`: each share would stop \
                 on its own samples, and the merged run would not be the one stop_when \
                 describes; remove stop_when, or run without --shard"
            ));
        }
        Ok(())
    }
}

/// The share a run's `run.json` records (`None`: a whole run).
pub fn stored_shard(run: &Value) -> Result<Option<Shard>, String> {
    match run.get("shard") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|e| format!("`shard`: {e}")),
        Some(_) => Err("`shard` must be text such as \"2/3\"".into()),
    }
}

/// One share's folder, as merge reads it.
#[derive(Debug, Clone)]
pub struct Share {
    /// The folder as the user named it.
    pub shown: String,
    /// `run.json`.
    pub run: Value,
    /// `summary.json`.
    pub summary: Summary,
    /// `samples.jsonl`.
    pub records: Vec<SampleRecord>,
}

impl Share {
    /// Reads the share in `dir` (relative to `cwd`).
    pub fn read(cwd: &Path, dir: &str) -> Result<Share, Error> {
        let run_dir = absolute(cwd, dir);
        let read = |name: &str| {
            let path = run_dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| {
                Error::Usage(format!(
                    "{dir}: {} cannot be read ({e}); pass the folders of `dbtest experiment run --shard` runs",
                    path.display()
                ))
            })
        };
        let run: Value = serde_json::from_str(&read("run.json")?)
            .map_err(|e| Error::Usage(format!("{dir}/run.json: {e}")))?;
        let summary: Summary = serde_json::from_str(&read("summary.json")?)
            .map_err(|e| Error::Usage(format!("{dir}/summary.json: {e}")))?;
        let records = read_log(&run_dir.join("samples.jsonl"))
            .map_err(|e| Error::Usage(format!("{dir}/samples.jsonl: {e}")))?;
        Ok(Share {
            shown: dir.to_string(),
            run,
            summary,
            records,
        })
    }
}

/// The shares joined: what the merged folder is written from.
#[derive(Debug, Clone)]
pub struct Joined {
    pub design: Design,
    pub design_value: Value,
    pub design_file: String,
    pub seed: u64,
    pub rows: Option<u64>,
    /// Each configuration's samples, in configuration order.
    pub states: Vec<ConfigState>,
    /// The earliest share's start.
    pub started_at: String,
    /// The longest share's duration (they run side by side).
    pub duration_s: f64,
    /// Why the run stopped early, if a share did (the first such share's reason).
    pub stopped: Option<Termination>,
    /// Each share's folder and share, in share order.
    pub sources: Vec<(String, Shard)>,
}

/// Checks that `shares` are the whole of one sharded run, and joins them. Every refusal
/// names the folders concerned.
pub fn join(shares: Vec<Share>) -> Result<Joined, String> {
    let Some(first) = shares.first() else {
        return Err(
            "merge needs the folders of the shares: dbtest experiment merge RUN_DIR...".into(),
        );
    };
    let mut marked = Vec::new();
    for s in &shares {
        match stored_shard(&s.run).map_err(|e| format!("{}/run.json: {e}", s.shown))? {
            Some(shard) => marked.push(shard),
            None => {
                return Err(format!(
                    "{} is not a share: it was run without --shard (merge joins the folders of \
                     `dbtest experiment run DESIGN --shard K/N`)",
                    s.shown
                ))
            }
        }
    }
    // The same design and seed: else the samples would not be one run's.
    for s in &shares[1..] {
        if s.run["seed"] != first.run["seed"] {
            return Err(format!(
                "{} and {} have different seeds ({} and {}): they are not shares of one run",
                first.shown, s.shown, first.run["seed"], s.run["seed"]
            ));
        }
        if s.run["design"] != first.run["design"] {
            let key = differing_key(&first.run["design"], &s.run["design"]);
            return Err(format!(
                "{} and {} are shares of different designs (`{key}` differs); merge the shares \
                 of one design",
                first.shown, s.shown
            ));
        }
    }
    let count = marked[0].count;
    if let Some((s, m)) = shares.iter().zip(&marked).find(|(_, m)| m.count != count) {
        return Err(format!(
            "{} is share {} but {} is share {}: the shares of one run have the same N",
            first.shown, marked[0], s.shown, m
        ));
    }
    let mut by_index: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (s, m) in shares.iter().zip(&marked) {
        by_index.entry(m.index).or_default().push(&s.shown);
    }
    if let Some((k, dirs)) = by_index.iter().find(|(_, dirs)| dirs.len() > 1) {
        return Err(format!(
            "share {k}/{count} is given more than once ({}): shares must not overlap",
            dirs.join(", ")
        ));
    }
    let missing: Vec<String> = (1..=count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        let one = missing.len() == 1;
        return Err(format!(
            "{} {} {} missing: run {} with `--shard`, then merge every share",
            if one { "share" } else { "shares" },
            missing.join(", "),
            if one { "is" } else { "are" },
            if one { "it" } else { "them" }
        ));
    }
    let design_value = first.run["design"].clone();
    let design_file = first.run["design_file"]
        .as_str()
        .unwrap_or("design")
        .to_string();
    let design = Design::from_value(&format!("{}/run.json", first.shown), &design_value)
        .map_err(|e| e.to_string())?;
    let seed = first.run["seed"]
        .as_u64()
        .ok_or_else(|| format!("{}/run.json: no `seed`", first.shown))?;
    let rows = first.run.get("dataset_rows").and_then(Value::as_u64);
    if design.llm.dataset.is_some() && rows.is_none() {
        return Err(format!(
            "{}/run.json has no `dataset_rows`: the share was run by an older dbtest; run it again",
            first.shown
        ));
    }
    // Share order, so that the merged files do not depend on the order of the arguments.
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by_key(|&i| marked[i].index);
    let configs = design.configurations();
    let mut per_config: Vec<Vec<SampleRecord>> = vec![Vec::new(); configs.len()];
    let mut terminations: Vec<Option<Termination>> = vec![None; configs.len()];
    let mut stopped = None;
    for &i in &order {
        let (s, shard) = (&shares[i], marked[i]);
        if s.summary.termination == Termination::Interrupted {
            return Err(format!(
                "share {shard} ({}) was interrupted: finish it with `dbtest experiment run {design_file} \
                 --resume {}`, then merge",
                s.shown, s.shown
            ));
        }
        if stopped.is_none() && s.summary.termination != Termination::Completed {
            stopped = Some(s.summary.termination);
        }
        for r in &s.records {
            let Some(c) = configs.iter().position(|c| c.config_id == r.config_id) else {
                return Err(format!(
                    "{}/samples.jsonl holds a sample of configuration {:?}, which the design does not have",
                    s.shown, r.config_id
                ));
            };
            if r.index >= design.samples || !shard.holds(r.index) {
                return Err(format!(
                    "{}/samples.jsonl holds sample {} of {}, which is not in share {shard}",
                    s.shown, r.index, r.config_id
                ));
            }
            per_config[c].push(r.clone());
        }
        for row in &s.summary.configurations {
            if let Some(c) = configs.iter().position(|c| c.config_id == row.config_id) {
                // Completed only when every share completed it; else the first reason.
                let t = &mut terminations[c];
                if t.is_none_or(|t| t == Termination::Completed) {
                    *t = Some(row.termination);
                }
            }
        }
    }
    let states = per_config
        .into_iter()
        .zip(terminations)
        .map(|(records, t)| {
            ConfigState::from_records(records, Some(t.unwrap_or(Termination::Completed)))
        })
        .collect();
    let started_at = order
        .iter()
        .map(|&i| shares[i].summary.started_at.clone())
        .min()
        .unwrap_or_default();
    let duration_s = shares
        .iter()
        .map(|s| s.summary.duration_s)
        .fold(0.0, f64::max);
    Ok(Joined {
        design,
        design_value,
        design_file,
        seed,
        rows,
        states,
        started_at,
        duration_s,
        stopped,
        sources: order
            .iter()
            .map(|&i| (shares[i].shown.clone(), marked[i]))
            .collect(),
    })
}

/// The first top-level key whose value differs between two designs.
fn differing_key(a: &Value, b: &Value) -> String {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return "design".into();
    };
    a.keys()
        .chain(b.keys())
        .find(|k| a.get(*k) != b.get(*k))
        .cloned()
        .unwrap_or_else(|| "design".into())
}

/// `dbtest experiment merge RUN_DIR... [--out DIR]`: joins the shares into one run folder
/// (`--out`, else a new one under the project's experiments folder), with the design's
/// artifacts. Returns what to print.
pub fn merge(
    cwd: &Path,
    dirs: &[String],
    out: Option<&str>,
    yaml: &impl YamlText,
) -> Result<String, Error> {
    let shares = dirs
        .iter()
        .map(|d| Share::read(cwd, d))
        .collect::<Result<Vec<_>, _>>()?;
    let joined = join(shares).map_err(Error::Usage)?;
    // A signing key missing now would only be found after the folder was written.
    joined.design.artifacts.check_keys()?;
    let project = Project::find(cwd)?;
    let run_dir: PathBuf = match out {
        Some(dir) => {
            let run_dir = absolute(cwd, dir);
            if run_dir.join("samples.jsonl").exists() {
                return Err(Error::Usage(format!(
                    "--out {dir} already holds a run; choose another folder"
                )));
            }
            run_dir
        }
        None => crate::run::new_run_dir(
            &project.out_dir().join(&joined.design.experiment),
            jiff::Timestamp::now(),
        ),
    };
    write_merged(&joined, &run_dir, &project.relative(&run_dir), yaml).map_err(Error::Internal)
}

/// Writes the merged folder: `run.json`, `samples.jsonl`, then what a run writes at its end.
pub fn write_merged(
    j: &Joined,
    run_dir: &Path,
    rel_run_dir: &str,
    yaml: &impl YamlText,
) -> Result<String, String> {
    std::fs::create_dir_all(run_dir)
        .map_err(|e| format!("cannot create {}: {e}", run_dir.display()))?;
    let mut run = json!({
        "schema": crate::run::RUN_SCHEMA,
        "design_file": j.design_file,
        "started_at": j.started_at,
        "seed": j.seed,
        "security_level": j.design.artifacts.level,
        "design": j.design_value,
        "merged_from": j.sources.iter().map(|(dir, shard)| json!({"shard": shard, "run_dir": dir})).collect::<Vec<_>>(),
    });
    if let Some(rows) = j.rows {
        run["dataset_rows"] = json!(rows);
    }
    let text = serde_json::to_string_pretty(&run).map_err(|e| e.to_string())?;
    dbtest_report::write_atomic(&run_dir.join("run.json"), text.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut log = Vec::new();
    for r in j.states.iter().flat_map(|s| &s.records) {
        log.extend(serde_json::to_vec(r).map_err(|e| e.to_string())?);
        log.push(b'\n');
    }
    dbtest_report::write_atomic(&run_dir.join("samples.jsonl"), &log).map_err(|e| e.to_string())?;
    let (summary, written) = write_results(
        &Results {
            design: &j.design,
            run_seed: j.seed,
            run_dir,
            rel_run_dir,
            states: &j.states,
            started_at: &j.started_at,
            duration_s: j.duration_s,
            stopped: j.stopped,
            rows: j.rows,
            shard: None,
        },
        yaml,
    )?;
    let shares: Vec<String> = j.sources.iter().map(|(d, _)| d.clone()).collect();
    let mut text = crate::report::console(&summary);
    text.push_str(&format!(
        "\nmerged {} share{} ({}) -> {rel_run_dir}/: samples.jsonl ({} samples), baselines/ ({}), SUMMARY.md, summary.json\n",
        shares.len(),
        if shares.len() == 1 { "" } else { "s" },
        shares.join(", "),
        j.states.iter().map(|s| s.records.len()).sum::<usize>(),
        summary.configurations.len()
    ));
    text.push_str(&crate::artifacts::written_line(&written));
    Ok(text)
}

#[cfg(test)]
mod tests;
