//! Where a test file is imported from, as pytest's default "prepend" import
//! mode decides it, worked out from the file system alone.

use std::path::{Path, PathBuf};

use crate::paths::normalize;

/// What the importer needs: put `sys_path_entry` at the front of `sys.path`,
/// then import `module`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImportTarget {
    pub sys_path_entry: PathBuf,
    pub module: String,
}

/// For an absolute `file`, climbs from its folder while the folder is a
/// package (holds `__init__.py`). The first folder that is not a package
/// becomes `sys_path_entry`, and `module` is the dotted path from there:
/// `/p/tests/pkg/test_a.py` with `/p/tests/pkg/__init__.py` and no
/// `/p/tests/__init__.py` gives (`/p/tests`, `pkg.test_a`).
pub fn import_target(file: &Path) -> ImportTarget {
    let file = normalize(file);
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = vec![stem];
    let mut dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    while dir.join("__init__.py").is_file() {
        // A package at the file-system root has no name to import it by, so
        // the climb has to stop there.
        let (Some(name), Some(parent)) = (dir.file_name(), dir.parent()) else {
            break;
        };
        parts.push(name.to_string_lossy().into_owned());
        dir = parent.to_path_buf();
    }
    parts.reverse();
    // A package's `__init__.py` is the package itself (pytest's `module_name_from_path`).
    if parts.len() > 1 && parts.last().is_some_and(|p| p == "__init__") {
        parts.pop();
    }
    ImportTarget {
        sys_path_entry: dir,
        module: parts.join("."),
    }
}

/// The `conftest.py` files that apply to `file`: the one in `root` and in each
/// folder down to the file's own folder, outermost first, existing ones only.
/// For a file outside `root` only its own folder is looked at.
pub fn conftests_for(root: &Path, file: &Path) -> Vec<PathBuf> {
    let root = normalize(root);
    let file = normalize(file);
    let Some(file_dir) = file.parent() else {
        return Vec::new();
    };
    let dirs: Vec<PathBuf> = match file_dir.strip_prefix(&root) {
        Ok(rel) => {
            let mut dir = root.clone();
            let mut dirs = vec![dir.clone()];
            for component in rel.components() {
                dir.push(component);
                dirs.push(dir.clone());
            }
            dirs
        }
        Err(_) => vec![file_dir.to_path_buf()],
    };
    dirs.into_iter()
        .map(|dir| dir.join("conftest.py"))
        .filter(|conftest| conftest.is_file())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tree;
    use std::fs;

    #[test]
    fn a_plain_folder_is_its_own_sys_path_entry() {
        let dir = tree(&["tests/test_a.py"]);
        let target = import_target(&dir.path().join("tests/test_a.py"));
        assert_eq!(
            target,
            ImportTarget {
                sys_path_entry: dir.path().join("tests"),
                module: "test_a".to_owned()
            }
        );
    }

    #[test]
    fn packages_are_climbed_to_the_first_plain_folder() {
        let dir = tree(&[
            "tests/pkg/__init__.py",
            "tests/pkg/test_a.py",
            "tests/pkg/sub/__init__.py",
            "tests/pkg/sub/test_b.py",
            "tests/pkg/loose/test_c.py",
        ]);
        let tests = dir.path().join("tests");
        assert_eq!(
            import_target(&tests.join("pkg/test_a.py")),
            ImportTarget {
                sys_path_entry: tests.clone(),
                module: "pkg.test_a".to_owned()
            }
        );
        assert_eq!(
            import_target(&tests.join("pkg/sub/test_b.py")),
            ImportTarget {
                sys_path_entry: tests.clone(),
                module: "pkg.sub.test_b".to_owned()
            }
        );
        // A folder without __init__.py breaks the chain, even inside a package.
        assert_eq!(
            import_target(&tests.join("pkg/loose/test_c.py")),
            ImportTarget {
                sys_path_entry: tests.join("pkg/loose"),
                module: "test_c".to_owned()
            }
        );
        // A package's __init__.py is the package.
        assert_eq!(import_target(&tests.join("pkg/__init__.py")).module, "pkg");
        // A conftest inside a package is imported as a package module too.
        assert_eq!(
            import_target(&tests.join("pkg/conftest.py")).module,
            "pkg.conftest"
        );
    }

    #[test]
    fn an_init_directory_does_not_count_as_a_package_marker() {
        let dir = tree(&["tests/pkg/test_a.py"]);
        fs::create_dir(dir.path().join("tests/pkg/__init__.py")).unwrap();
        assert_eq!(
            import_target(&dir.path().join("tests/pkg/test_a.py")).module,
            "test_a"
        );
    }

    #[test]
    fn conftests_run_outermost_first_and_only_existing_ones() {
        let dir = tree(&[
            "conftest.py",
            "tests/test_top.py",
            "tests/unit/conftest.py",
            "tests/unit/deep/conftest.py",
            "tests/unit/deep/test_a.py",
            "other/conftest.py",
        ]);
        let root = dir.path();
        assert_eq!(
            conftests_for(root, &root.join("tests/unit/deep/test_a.py")),
            [
                root.join("conftest.py"),
                root.join("tests/unit/conftest.py"),
                root.join("tests/unit/deep/conftest.py"),
            ]
        );
        assert_eq!(
            conftests_for(root, &root.join("tests/test_top.py")),
            [root.join("conftest.py")]
        );
        assert_eq!(
            conftests_for(root, &root.join("test_root.py")),
            [root.join("conftest.py")]
        );
    }

    #[test]
    fn outside_the_root_only_the_files_own_folder_counts() {
        let dir = tree(&[
            "conftest.py",
            "proj/conftest.py",
            "elsewhere/conftest.py",
            "elsewhere/test_x.py",
        ]);
        let root = dir.path().join("proj");
        assert_eq!(
            conftests_for(&root, &dir.path().join("elsewhere/test_x.py")),
            [dir.path().join("elsewhere/conftest.py")]
        );
        // A sibling whose name merely starts with the root's is not under it.
        let dir = tree(&["proj/conftest.py", "proj2/conftest.py", "proj2/test_y.py"]);
        assert_eq!(
            conftests_for(
                &dir.path().join("proj"),
                &dir.path().join("proj2/test_y.py")
            ),
            [dir.path().join("proj2/conftest.py")]
        );
    }

    #[test]
    fn conftest_paths_are_normalized() {
        let dir = tree(&["conftest.py", "tests/conftest.py"]);
        let root = dir.path().join("tests/..");
        assert_eq!(
            conftests_for(&root, &dir.path().join("tests/./test_a.py")),
            [
                dir.path().join("conftest.py"),
                dir.path().join("tests/conftest.py")
            ]
        );
    }
}
