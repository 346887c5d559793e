//! Lexical path helpers shared by the walk and the import computations.

use std::path::{Component, Path, PathBuf};

/// Resolves `path` against `base` and removes `.` and `..` lexically.
///
/// Lexical on purpose: it matches Python's `os.path.abspath`, which is what the
/// import side will see, and it never resolves symlinks, so ids keep the names
/// the user typed.
pub(crate) fn absolutize(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&base.join(path))
    }
}

pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped =
                    matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                // `..` above the filesystem root stays at the root, as in Python;
                // on a relative path it has to be kept or the meaning changes.
                if !popped && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// The id form of `file`: its path relative to `root` with `/` separators
/// (`tests/pkg/test_a.py`), or, for a file outside `root`, its whole path with
/// `/` separators. Both paths should be absolute (as `discover` returns them).
pub fn relative_id(root: &Path, file: &Path) -> String {
    let root = normalize(root);
    let file = normalize(file);
    match file.strip_prefix(&root) {
        Ok(rel) => join_slash(rel),
        Err(_) => join_slash(&file),
    }
}

fn join_slash(path: &Path) -> String {
    let mut out = String::new();
    for component in path.components() {
        match component {
            Component::RootDir => out.push('/'),
            Component::Prefix(prefix) => out.push_str(&prefix.as_os_str().to_string_lossy()),
            other => {
                if !out.is_empty() && !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(&other.as_os_str().to_string_lossy());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(normalize(Path::new("./")), PathBuf::from("."));
    }

    #[test]
    fn absolutize_joins_relative_paths_only() {
        let base = Path::new("/work/p");
        assert_eq!(
            absolutize(base, Path::new("tests/../t")),
            PathBuf::from("/work/p/t")
        );
        assert_eq!(absolutize(base, Path::new("/x/y")), PathBuf::from("/x/y"));
        assert_eq!(absolutize(base, Path::new(".")), PathBuf::from("/work/p"));
    }

    #[test]
    fn relative_id_uses_slashes_and_falls_back_to_the_full_path() {
        let root = Path::new("/p");
        assert_eq!(
            relative_id(root, Path::new("/p/tests/pkg/test_a.py")),
            "tests/pkg/test_a.py"
        );
        assert_eq!(
            relative_id(root, Path::new("/p/./tests/x/../test_b.py")),
            "tests/test_b.py"
        );
        assert_eq!(relative_id(root, Path::new("/q/test_c.py")), "/q/test_c.py");
    }
}
