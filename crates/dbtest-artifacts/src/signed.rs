//! The signed sink and its check: `manifest.json` lists each consumed file with its SHA-256
//! and size; `manifest.json.sig` is the hex HMAC-SHA256 of the manifest's exact bytes, so a
//! reader with the key can tell that neither the manifest nor any file it lists has changed.

use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::levels::SecurityLevel;

pub const MANIFEST_SCHEMA: &str = "dbtest.manifest/1";
const ALGORITHM: &str = "HMAC-SHA256";

type HmacSha256 = Hmac<Sha256>;

/// One listed file: its path relative to the manifest's folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub experiment: String,
    pub security_level: SecurityLevel,
    pub algorithm: String,
    /// Sorted by path, so the same files always give the same bytes.
    pub files: Vec<ManifestFile>,
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// The manifest's bytes and the signature file's bytes (hex and a newline).
pub(crate) fn sign(
    experiment: &str,
    level: SecurityLevel,
    mut files: Vec<ManifestFile>,
    key: &[u8],
) -> (Vec<u8>, Vec<u8>) {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.to_string(),
        experiment: experiment.to_string(),
        security_level: level,
        algorithm: ALGORITHM.to_string(),
        files,
    };
    let mut bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest serializes");
    bytes.push(b'\n');
    let mut m = mac(key);
    m.update(&bytes);
    let sig = format!("{}\n", hex(&m.finalize().into_bytes()));
    (bytes, sig.into_bytes())
}

/// What `verify_bundle` found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No manifest where one was looked for.
    MissingManifest(PathBuf),
    /// No `.sig` beside the manifest.
    MissingSignature(PathBuf),
    /// The signature is not the manifest's under this key: the manifest changed, or the key
    /// is not the one it was signed with.
    BadSignature(PathBuf),
    /// The manifest cannot be read as one.
    BadManifest { path: PathBuf, why: String },
    /// A listed file is not there.
    Missing(String),
    /// A listed file's size or digest differs.
    Changed { path: String, why: String },
    /// A listed path that points outside the bundle's folder.
    Outside(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingManifest(p) => write!(f, "{}: missing (no manifest)", p.display()),
            Problem::MissingSignature(p) => write!(f, "{}: missing (no signature)", p.display()),
            Problem::BadSignature(p) => write!(
                f,
                "{}: the signature does not match the manifest (the manifest changed, or the key is not the one it was signed with)",
                p.display()
            ),
            Problem::BadManifest { path, why } => write!(f, "{}: not a manifest: {why}", path.display()),
            Problem::Missing(p) => write!(f, "{p}: missing"),
            Problem::Changed { path, why } => write!(f, "{path}: changed ({why})"),
            Problem::Outside(p) => write!(f, "{p}: listed outside the bundle's folder"),
        }
    }
}

fn inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains(':')
        && path.split('/').all(|p| !p.is_empty() && p != "..")
}

/// Checks a signed bundle: `dir` is the folder holding `manifest.json` (or the manifest file
/// itself). Every problem is listed, not only the first: a bad signature and each changed or
/// missing file.
pub fn verify_bundle(dir: &Path, key: &[u8]) -> Result<(), Vec<Problem>> {
    let manifest_path = if dir.is_file() {
        dir.to_path_buf()
    } else {
        dir.join("manifest.json")
    };
    let base = manifest_path
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut sig_path = manifest_path.clone().into_os_string();
    sig_path.push(".sig");
    let sig_path = PathBuf::from(sig_path);
    let Ok(bytes) = std::fs::read(&manifest_path) else {
        return Err(vec![Problem::MissingManifest(manifest_path)]);
    };
    let mut problems = Vec::new();
    match std::fs::read_to_string(&sig_path) {
        Err(_) => problems.push(Problem::MissingSignature(sig_path.clone())),
        Ok(text) => {
            let mut m = mac(key);
            m.update(&bytes);
            // `verify_slice` compares in constant time.
            let good = unhex(text.trim()).is_some_and(|sig| m.verify_slice(&sig).is_ok());
            if !good {
                problems.push(Problem::BadSignature(sig_path.clone()));
            }
        }
    }
    let manifest: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            problems.push(Problem::BadManifest {
                path: manifest_path,
                why: e.to_string(),
            });
            return Err(problems);
        }
    };
    for f in &manifest.files {
        if !inside(&f.path) {
            problems.push(Problem::Outside(f.path.clone()));
            continue;
        }
        let Ok(content) = std::fs::read(base.join(&f.path)) else {
            problems.push(Problem::Missing(f.path.clone()));
            continue;
        };
        let why = if content.len() as u64 != f.size {
            Some(format!(
                "{} bytes, the manifest says {}",
                content.len(),
                f.size
            ))
        } else if sha256_hex(&content) != f.sha256 {
            Some("its SHA-256 differs from the manifest's".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            problems.push(Problem::Changed {
                path: f.path.clone(),
                why,
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(dir: &Path, key: &[u8]) {
        let files: Vec<ManifestFile> = [("b.csv", "x,y\n"), ("a/r.html", "<p>hi</p>")]
            .into_iter()
            .map(|(p, text)| {
                std::fs::create_dir_all(dir.join(p).parent().unwrap()).unwrap();
                std::fs::write(dir.join(p), text).unwrap();
                ManifestFile {
                    path: p.into(),
                    sha256: sha256_hex(text.as_bytes()),
                    size: text.len() as u64,
                }
            })
            .collect();
        let (manifest, sig) = sign("e", SecurityLevel::Protected, files, key);
        std::fs::write(dir.join("manifest.json"), manifest).unwrap();
        std::fs::write(dir.join("manifest.json.sig"), sig).unwrap();
    }

    #[test]
    fn a_signed_bundle_verifies() {
        let dir = tempfile::tempdir().unwrap();
        bundle(dir.path(), b"k3y");
        assert_eq!(verify_bundle(dir.path(), b"k3y"), Ok(()));
        assert_eq!(
            verify_bundle(&dir.path().join("manifest.json"), b"k3y"),
            Ok(())
        );
        let text = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
        let m: Manifest = serde_json::from_str(&text).unwrap();
        // Sorted by path, whatever order the files came in.
        assert_eq!(m.files[0].path, "a/r.html");
        assert_eq!(m.files[1].size, 4);
        assert_eq!(m.security_level, SecurityLevel::Protected);
        let sig = std::fs::read_to_string(dir.path().join("manifest.json.sig")).unwrap();
        assert_eq!(sig.trim().len(), 64);
    }

    #[test]
    fn the_signature_is_the_known_hmac() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut m = mac(b"Jefe");
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tampering_and_a_wrong_key_are_named() {
        let dir = tempfile::tempdir().unwrap();
        bundle(dir.path(), b"k3y");
        assert_eq!(
            verify_bundle(dir.path(), b"other"),
            Err(vec![Problem::BadSignature(
                dir.path().join("manifest.json.sig")
            )])
        );
        std::fs::write(dir.path().join("b.csv"), "x,z\n").unwrap();
        std::fs::remove_file(dir.path().join("a/r.html")).unwrap();
        let problems = verify_bundle(dir.path(), b"k3y").unwrap_err();
        assert_eq!(
            problems,
            [
                Problem::Missing("a/r.html".into()),
                Problem::Changed {
                    path: "b.csv".into(),
                    why: "its SHA-256 differs from the manifest's".into()
                },
            ]
        );
        assert_eq!(problems[0].to_string(), "a/r.html: missing");
        assert_eq!(
            problems[1].to_string(),
            "b.csv: changed (its SHA-256 differs from the manifest's)"
        );
        std::fs::write(dir.path().join("b.csv"), "longer\n").unwrap();
        let problems = verify_bundle(dir.path(), b"k3y").unwrap_err();
        assert!(problems[1]
            .to_string()
            .contains("7 bytes, the manifest says 4"));
    }

    #[test]
    fn an_edited_manifest_breaks_the_signature() {
        let dir = tempfile::tempdir().unwrap();
        bundle(dir.path(), b"k3y");
        let path = dir.path().join("manifest.json");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("protected", "unofficial")).unwrap();
        let problems = verify_bundle(dir.path(), b"k3y").unwrap_err();
        assert!(
            matches!(problems[..], [Problem::BadSignature(_)]),
            "{problems:?}"
        );
        std::fs::remove_file(dir.path().join("manifest.json.sig")).unwrap();
        let problems = verify_bundle(dir.path(), b"k3y").unwrap_err();
        assert!(matches!(problems[..], [Problem::MissingSignature(_)]));
        let empty = tempfile::tempdir().unwrap();
        let problems = verify_bundle(empty.path(), b"k3y").unwrap_err();
        assert!(problems[0]
            .to_string()
            .ends_with("manifest.json: missing (no manifest)"));
    }

    #[test]
    fn a_listed_path_outside_the_folder_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![ManifestFile {
            path: "../etc/passwd".into(),
            sha256: String::new(),
            size: 0,
        }];
        let (manifest, sig) = sign("e", SecurityLevel::Official, files, b"k");
        std::fs::write(dir.path().join("manifest.json"), manifest).unwrap();
        std::fs::write(dir.path().join("manifest.json.sig"), sig).unwrap();
        assert_eq!(
            verify_bundle(dir.path(), b"k"),
            Err(vec![Problem::Outside("../etc/passwd".into())])
        );
    }
}
