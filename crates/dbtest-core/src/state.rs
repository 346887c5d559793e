//! What one run leaves for the next under `<root>/.dbtest/`: the tests that failed (for
//! `--lf`) and how long each file took (for sharding and longest-first scheduling).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn state_dir(root: &Path) -> PathBuf {
    root.join(".dbtest")
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    // A missing or damaged state file only loses a hint: it is never an error.
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn write<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}

/// Ids of the tests (and paths of the files) that failed in the last run.
pub fn last_failed(root: &Path) -> Option<Vec<String>> {
    read(&state_dir(root).join("lastfailed.json"))
}

pub fn save_last_failed(root: &Path, ids: &[String]) -> std::io::Result<()> {
    write(&state_dir(root).join("lastfailed.json"), &ids)
}

/// Seconds each test file took in earlier runs, by its id path.
pub fn durations(root: &Path) -> HashMap<String, f64> {
    read(&state_dir(root).join("durations.json")).unwrap_or_default()
}

/// Records this run's file durations over the earlier ones (files not run keep theirs).
pub fn save_durations(root: &Path, run: &HashMap<String, f64>) -> std::io::Result<()> {
    let mut all: BTreeMap<String, f64> = durations(root).into_iter().collect();
    all.extend(run.iter().map(|(k, v)| (k.clone(), *v)));
    write(&state_dir(root).join("durations.json"), &all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_missing_state_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(last_failed(dir.path()), None);
        save_last_failed(dir.path(), &["a.py::t".to_string()]).unwrap();
        assert_eq!(
            last_failed(dir.path()).unwrap(),
            vec!["a.py::t".to_string()]
        );
        save_durations(dir.path(), &HashMap::from([("a.py".to_string(), 1.5)])).unwrap();
        save_durations(dir.path(), &HashMap::from([("b.py".to_string(), 0.5)])).unwrap();
        let d = durations(dir.path());
        assert_eq!(d["a.py"], 1.5);
        assert_eq!(d["b.py"], 0.5);
    }
}
