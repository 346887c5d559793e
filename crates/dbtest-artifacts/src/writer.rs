//! Runs the sinks in their order over what a run gathered, each file written atomically.

use std::collections::HashMap;
use std::path::Path;

use crate::data::RunData;
use crate::signed::{self, sha256_hex, ManifestFile};
use crate::sinks::{SinkKind, SinkSpec};
use crate::{html, tabular, zipped, Error};

/// One file a sink wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Relative to the run folder, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// What one sink wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// As [`SinkSpec::name`] gives it.
    pub sink: String,
    pub kind: SinkKind,
    pub files: Vec<WrittenFile>,
}

/// [`run_sinks_with`] with the signing keys taken from the process's environment.
pub fn run_sinks(
    specs: &[SinkSpec],
    data: &RunData,
    run_dir: &Path,
) -> Result<Vec<Written>, Error> {
    run_sinks_with(specs, data, run_dir, &|name| std::env::var(name).ok())
}

/// Writes every sink of `specs` (as [`crate::parse_sinks`] ordered them) into `run_dir`; `env`
/// gives the signing keys. A sink that fails stops the rest: a bundle is never made of
/// files that were not all written.
pub fn run_sinks_with(
    specs: &[SinkSpec],
    data: &RunData,
    run_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Written>, Error> {
    let mut by_position: HashMap<usize, Vec<WrittenFile>> = HashMap::new();
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let fail = |message: String| Error::Write {
            sink: spec.name(),
            message,
        };
        let inputs: Vec<&WrittenFile> = spec
            .inputs
            .iter()
            .map(|p| {
                by_position.get(p).ok_or_else(|| {
                    fail(format!(
                        "sink {} has not run before it (a bug in the order)",
                        p + 1
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        let files: Vec<(String, Vec<u8>)> = match spec.kind {
            SinkKind::Csv => vec![(spec.path.clone(), tabular::csv_bytes(data).map_err(fail)?)],
            SinkKind::Jsonl => vec![(spec.path.clone(), tabular::jsonl_bytes(data).map_err(fail)?)],
            SinkKind::Html => vec![(spec.path.clone(), html::page(data).into_bytes())],
            SinkKind::Signed => {
                let name = spec.key_env.as_deref().unwrap_or_default();
                let key = env(name)
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| Error::MissingKey {
                        sink: spec.name(),
                        key_env: name.to_string(),
                    })?;
                let base = parent(&spec.path);
                let listed = inputs
                    .iter()
                    .map(|f| ManifestFile {
                        path: f.path.strip_prefix(&base).unwrap_or(&f.path).to_string(),
                        sha256: f.sha256.clone(),
                        size: f.size,
                    })
                    .collect();
                let (manifest, sig) =
                    signed::sign(&data.experiment, data.level, listed, key.as_bytes());
                vec![
                    (spec.path.clone(), manifest),
                    (format!("{}.sig", spec.path), sig),
                ]
            }
            SinkKind::Zip => {
                let mut members = Vec::with_capacity(inputs.len());
                for f in &inputs {
                    let bytes = std::fs::read(run_dir.join(&f.path))
                        .map_err(|e| fail(format!("cannot read {}: {e}", f.path)))?;
                    members.push((f.path.clone(), bytes));
                }
                vec![(spec.path.clone(), zipped::zip_bytes(members).map_err(fail)?)]
            }
        };
        let mut written = Vec::with_capacity(files.len());
        for (path, bytes) in files {
            dbtest_report::write_atomic(&run_dir.join(&path), &bytes)
                .map_err(|e| fail(e.to_string()))?;
            written.push(WrittenFile {
                size: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
                path,
            });
        }
        by_position.insert(spec.position, written.clone());
        out.push(Written {
            sink: spec.name(),
            kind: spec.kind,
            files: written,
        });
    }
    Ok(out)
}

/// `a/b/` for `a/b/manifest.json`; empty at the top of the run folder.
fn parent(path: &str) -> String {
    path.rfind('/')
        .map_or_else(String::new, |i| path[..=i].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::example;
    use crate::levels::SecurityLevel;
    use crate::sinks::{parse_sinks, SinkContext};
    use crate::verify_bundle;
    use serde_json::json;

    const KEY: &str = "a-very-secret-signing-key-0123456789";

    fn specs(v: serde_json::Value) -> Vec<SinkSpec> {
        let ctx = SinkContext {
            experiment_level: SecurityLevel::OfficialSensitive,
            data_level: SecurityLevel::OfficialSensitive,
            reserved: &[],
        };
        parse_sinks(Some(&v), &ctx).unwrap()
    }

    fn env(name: &str) -> Option<String> {
        (name == "SIGN").then(|| KEY.to_string())
    }

    #[test]
    fn every_sink_in_order_and_a_bundle_that_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let sinks = specs(json!([
            {"sink": "zip", "consumes": "all"},
            {"sink": "csv"},
            {"sink": "jsonl", "path": "out/samples.jsonl"},
            {"sink": "html"},
            {"sink": "signed", "key_env": "SIGN", "consumes": ["csv", "html", "jsonl"]},
        ]));
        let written = run_sinks_with(&sinks, &example(), dir.path(), &env).unwrap();
        let kinds: Vec<SinkKind> = written.iter().map(|w| w.kind).collect();
        use SinkKind::*;
        assert_eq!(kinds, [Csv, Jsonl, Html, Signed, Zip]);
        for w in &written {
            for f in &w.files {
                let bytes = std::fs::read(dir.path().join(&f.path)).unwrap();
                assert_eq!(
                    (bytes.len() as u64, sha256_hex(&bytes)),
                    (f.size, f.sha256.clone())
                );
            }
        }
        assert_eq!(verify_bundle(dir.path(), KEY.as_bytes()), Ok(()));
        let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
        assert!(
            manifest.contains("\"path\": \"out/samples.jsonl\""),
            "{manifest}"
        );
        assert!(manifest.contains("\"security_level\": \"official-sensitive\""));
        let zip = std::fs::File::open(dir.path().join("bundle.zip")).unwrap();
        let archive = zip::ZipArchive::new(zip).unwrap();
        let mut names: Vec<&str> = archive.file_names().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "manifest.json",
                "manifest.json.sig",
                "out/samples.jsonl",
                "report.html",
                "results.csv"
            ]
        );
        // The key is in no file the sinks wrote, nor anywhere else in the folder.
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(
                !bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()),
                "{} holds the key",
                entry.display()
            );
        }
        // The same data gives the same bytes: a re-render leaves the bundle valid.
        let again = run_sinks_with(&sinks, &example(), dir.path(), &env).unwrap();
        assert_eq!(again, written);
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn a_missing_key_writes_no_manifest_and_never_shows_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let sinks = specs(json!([{"sink": "csv"}, {"sink": "signed", "key_env": "NOPE"}]));
        let e = run_sinks_with(&sinks, &example(), dir.path(), &env).unwrap_err();
        assert!(matches!(e, Error::MissingKey { .. }), "{e}");
        assert!(!dir.path().join("manifest.json").exists());
        assert!(!e.to_string().contains(KEY));
    }

    #[test]
    fn an_unwritable_folder_is_a_write_error_naming_the_sink() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the sink needs a folder.
        std::fs::write(dir.path().join("out"), "").unwrap();
        let sinks = specs(json!([{"sink": "csv", "path": "out/r.csv"}]));
        let e = run_sinks_with(&sinks, &example(), dir.path(), &env).unwrap_err();
        assert!(!e.is_usage());
        assert!(
            e.to_string()
                .starts_with("sink 1 (csv, out/r.csv): cannot write"),
            "{e}"
        );
        // No temporary file is left behind looking like an artifact.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
