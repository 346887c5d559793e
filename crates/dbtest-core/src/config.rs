//! `[tool.dbtest]` in pyproject.toml and the command-line flags, merged with flags winning.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

/// The settings of `dbtest unit`. The same struct reads `[tool.dbtest]` and the flags the
/// CLI passed, so a key means one thing in both places. `None` means "not set here".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitConfig {
    pub paths: Option<Vec<String>>,
    pub pattern: Option<String>,
    #[serde(rename = "match")]
    pub match_: Option<Vec<String>>,
    pub tags: Option<String>,
    pub jobs: Option<u32>,
    /// Worker processes: a number (0 = in-process) or "auto" (one per core).
    pub workers: Option<Workers>,
    pub timeout: Option<f64>,
    pub exitfirst: Option<bool>,
    pub maxfail: Option<u32>,
    #[serde(alias = "last-failed")]
    pub last_failed: Option<bool>,
    pub retries: Option<u32>,
    /// `K/N`: run the K-th of N shards.
    pub shard: Option<String>,
    #[serde(alias = "random-order")]
    pub random_order: Option<bool>,
    pub seed: Option<u64>,
    pub verbosity: Option<i8>,
    pub color: Option<ColorChoice>,
    pub durations: Option<u32>,
    pub json: Option<String>,
    #[serde(alias = "junit-xml")]
    pub junit_xml: Option<String>,
    pub markdown: Option<String>,
    #[serde(alias = "inconclusive-ok")]
    pub inconclusive_ok: Option<bool>,
    /// Command-line only: list the test ids and stop.
    #[serde(alias = "collect-only")]
    pub collect_only: Option<bool>,
    /// `[tool.dbtest.bench]`: the settings of `dbtest bench`.
    pub bench: Option<BenchConfig>,
    /// `[tool.dbtest.experiment]`: where `dbtest experiment` finds use cases and keeps specs
    /// and runs.
    pub experiment: Option<ExperimentConfig>,
}

/// The settings of `dbtest experiment` (`[tool.dbtest.experiment]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Folders (or files) holding use cases; default: the project root.
    pub paths: Option<Vec<String>>,
    /// Use-case file pattern; default `usecase_*.py`.
    pub pattern: Option<String>,
    /// Where approved specs live, relative to the project root; default `specs`.
    #[serde(alias = "specs-dir")]
    pub specs_dir: Option<String>,
    /// Where runs are written, relative to the project root; default `experiments`.
    pub out: Option<String>,
}

pub const DEFAULT_USECASE_PATTERN: &str = "usecase_*.py";
pub const DEFAULT_SPECS_DIR: &str = "specs";
pub const DEFAULT_EXPERIMENTS_DIR: &str = "experiments";

/// The settings of `dbtest bench` (`[tool.dbtest.bench]` and the flags).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    pub paths: Option<Vec<String>>,
    pub pattern: Option<String>,
    #[serde(rename = "match")]
    pub match_: Option<Vec<String>>,
    pub warmup: Option<u32>,
    #[serde(alias = "min-rounds")]
    pub min_rounds: Option<u32>,
    #[serde(alias = "max-time")]
    pub max_time: Option<f64>,
    #[serde(alias = "min-round-time")]
    pub min_round_time: Option<f64>,
    #[serde(alias = "disable-gc")]
    pub disable_gc: Option<bool>,
    pub save: Option<String>,
    pub compare: Option<String>,
    #[serde(alias = "fail-on-regression")]
    pub fail_on_regression: Option<f64>,
    pub json: Option<String>,
    pub markdown: Option<String>,
    pub plot: Option<String>,
    pub color: Option<ColorChoice>,
}

pub const DEFAULT_BENCH_PATTERN: &str = "bench_*.py";

impl BenchConfig {
    pub fn over(self, file: BenchConfig) -> BenchConfig {
        macro_rules! pick {
            ($($f:ident),*) => { BenchConfig { $($f: self.$f.or(file.$f)),* } };
        }
        pick!(
            paths,
            pattern,
            match_,
            warmup,
            min_rounds,
            max_time,
            min_round_time,
            disable_gc,
            save,
            compare,
            fail_on_regression,
            json,
            markdown,
            plot,
            color
        )
    }

    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Usage(format!("{origin}: `{key}` {why}")));
        for (key, value) in [
            ("max_time", self.max_time),
            ("min_round_time", self.min_round_time),
        ] {
            if value.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                return bad(key, "must be a positive number of seconds");
            }
        }
        if self.min_rounds == Some(0) {
            return bad("min_rounds", "must be at least 1");
        }
        if self
            .fail_on_regression
            .is_some_and(|v| !(v.is_finite() && v >= 0.0))
        {
            return bad(
                "fail_on_regression",
                "must be a percentage of 0 or more, e.g. 5",
            );
        }
        if self.fail_on_regression.is_some() && self.compare.is_none() {
            return bad(
                "fail_on_regression",
                "needs --compare NAME: the saved run to compare with",
            );
        }
        Ok(())
    }
}

/// `--workers N|auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Workers {
    Count(u32),
    Auto(AutoWord),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoWord {
    Auto,
}

impl Workers {
    /// How many worker processes to start; 0 runs in-process.
    pub fn count(self) -> usize {
        match self {
            Workers::Count(n) => n as usize,
            Workers::Auto(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// The part of pyproject.toml dbtest reads.
#[derive(Debug, Default, Deserialize)]
struct PyProject {
    tool: Option<Tool>,
}

#[derive(Debug, Default, Deserialize)]
struct Tool {
    dbtest: Option<UnitConfig>,
}

pub const DEFAULT_PATTERN: &str = "test_*.py";
pub const DEFAULT_JOBS: u32 = 32;

impl UnitConfig {
    /// `[tool.dbtest]` of the pyproject.toml at `path`; `Ok(None)` when it has no such table.
    pub fn from_pyproject(path: &Path) -> Result<Option<UnitConfig>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        let doc: PyProject = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!(
                "invalid [tool.dbtest] settings: {}",
                e.to_string().trim_end()
            ),
        })?;
        Ok(doc.tool.and_then(|t| t.dbtest))
    }

    /// Flags as JSON (the CLI's encoding); keys are those of `[tool.dbtest]`.
    pub fn from_flags_json(json: &str) -> Result<UnitConfig> {
        serde_json::from_str(json).map_err(|e| Error::Usage(format!("invalid option: {e}")))
    }

    /// `self` (the flags) over `file` (pyproject.toml).
    pub fn over(self, file: UnitConfig) -> UnitConfig {
        macro_rules! pick {
            ($($f:ident),*) => { UnitConfig { $($f: self.$f.or(file.$f)),* } };
        }
        pick!(
            paths,
            pattern,
            match_,
            tags,
            jobs,
            workers,
            timeout,
            exitfirst,
            maxfail,
            last_failed,
            retries,
            shard,
            random_order,
            seed,
            verbosity,
            color,
            durations,
            json,
            junit_xml,
            markdown,
            inconclusive_ok,
            collect_only,
            bench,
            experiment
        )
    }

    /// Checks values that the types alone allow but that make no sense.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |key: &str, why: &str| Err(Error::Usage(format!("{origin}: `{key}` {why}")));
        if self.jobs == Some(0) {
            return bad("jobs", "must be at least 1");
        }
        if let Some(t) = self.timeout {
            if !(t.is_finite() && t > 0.0) {
                return bad("timeout", "must be a positive number of seconds");
            }
        }
        if self.maxfail == Some(0) {
            return bad(
                "maxfail",
                "must be at least 1 (leave it out to never stop early)",
            );
        }
        if let Some(p) = &self.pattern {
            if p.trim().is_empty() {
                return bad("pattern", "must not be empty (the default is test_*.py)");
            }
        }
        if let Some(bench) = &self.bench {
            bench.validate(&format!("{origin} [bench]"))?;
        }
        Ok(())
    }

    /// How many failing tests stop the run, if any.
    pub fn stop_after(&self) -> Option<u32> {
        match (self.exitfirst, self.maxfail) {
            (Some(true), _) => Some(1),
            (_, m) => m,
        }
    }
}

/// Where the project's configuration lives: the first pyproject.toml with a `[tool.dbtest]`
/// table in `start` or a parent; ids and relative paths are relative to its folder.
pub fn find_project(start: &Path) -> Result<(PathBuf, Option<(PathBuf, UnitConfig)>)> {
    for dir in start.ancestors() {
        let candidate = dir.join("pyproject.toml");
        if candidate.is_file() {
            if let Some(cfg) = UnitConfig::from_pyproject(&candidate)? {
                cfg.validate(&format!("{} [tool.dbtest]", candidate.display()))?;
                return Ok((dir.to_path_buf(), Some((candidate, cfg))));
            }
        }
    }
    Ok((start.to_path_buf(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("pyproject.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_tool_table_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "[project]\nname='x'\n[tool.dbtest]\npaths=['t']\njobs=4\njunit-xml='j.xml'\n",
        );
        let (root, found) = find_project(&dir.path().join("sub")).unwrap();
        assert_eq!(root, dir.path());
        let (_, file) = found.unwrap();
        assert_eq!(file.jobs, Some(4));
        assert_eq!(file.junit_xml.as_deref(), Some("j.xml"));
        let flags = UnitConfig::from_flags_json(r#"{"jobs": 2, "match": ["*a*"]}"#).unwrap();
        let merged = flags.over(file);
        assert_eq!(merged.jobs, Some(2));
        assert_eq!(merged.paths, Some(vec!["t".to_string()]));
        assert_eq!(merged.match_, Some(vec!["*a*".to_string()]));
    }

    #[test]
    fn unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "[tool.dbtest]\njbos = 3\n");
        let err = UnitConfig::from_pyproject(&p).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("jbos"), "{msg}");
        assert!(msg.contains("pyproject.toml"), "{msg}");
        assert_eq!(err.exit_code(), 4);
    }

    #[test]
    fn bad_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "[tool.dbtest]\njobs = 0\n");
        let msg = find_project(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("`jobs` must be at least 1"), "{msg}");
        write(dir.path(), "[tool.dbtest]\njobs = 'many'\n");
        let msg = find_project(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("jobs"), "{msg}");
    }

    #[test]
    fn workers_are_a_number_or_auto() {
        let c = UnitConfig::from_flags_json(r#"{"workers": "auto"}"#).unwrap();
        assert!(c.workers.unwrap().count() >= 1);
        let c = UnitConfig::from_flags_json(r#"{"workers": 3}"#).unwrap();
        assert_eq!(c.workers.unwrap().count(), 3);
        assert!(UnitConfig::from_flags_json(r#"{"workers": "many"}"#).is_err());
    }

    #[test]
    fn exitfirst_means_stop_after_one() {
        let c = UnitConfig {
            exitfirst: Some(true),
            maxfail: Some(5),
            ..Default::default()
        };
        assert_eq!(c.stop_after(), Some(1));
    }
}
