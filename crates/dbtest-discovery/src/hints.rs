//! Why a run found nothing: files that hold tests but that the file patterns leave out.

use std::path::{Path, PathBuf};

use crate::walk::{discover_from, Pattern};

/// Whether `source` looks like a test module: a `def test...` function or method, or a
/// `unittest.TestCase` subclass.
pub fn looks_like_tests(source: &str) -> bool {
    source.lines().any(|line| {
        let text = line.trim_start();
        let def = text
            .strip_prefix("async def ")
            .or_else(|| text.strip_prefix("def "));
        def.is_some_and(|rest| rest.starts_with("test"))
            || (text.starts_with("class ") && text.contains("TestCase"))
    })
}

/// The Python files under `paths` that look like tests (see [`looks_like_tests`]) although no
/// file pattern matched them, in walk order; `conftest.py` and `__init__.py` are left out.
pub fn unmatched_test_files(
    cwd: &Path,
    root: &Path,
    paths: &[String],
    norecurse: &[Pattern],
) -> Vec<PathBuf> {
    let every = [Pattern::Fnmatch("*.py".to_owned())];
    let Ok(found) = discover_from(cwd, root, paths, &every, norecurse) else {
        return Vec::new();
    };
    found
        .files
        .into_iter()
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name != "conftest.py"
                && name != "__init__.py"
                && std::fs::read_to_string(path).is_ok_and(|s| looks_like_tests(&s))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tree;

    #[test]
    fn test_functions_and_testcases_look_like_tests() {
        assert!(looks_like_tests("import x\n\ndef test_a():\n    pass\n"));
        assert!(looks_like_tests(
            "class Checks(unittest.TestCase):\n    def check(self): ...\n"
        ));
        assert!(looks_like_tests(
            "class A:\n    async def test_b(self): ...\n"
        ));
        assert!(!looks_like_tests(
            "def helper():\n    return 'def test_x'\n"
        ));
    }

    #[test]
    fn files_the_patterns_leave_out_are_found() {
        let dir = tree(&[
            "tests/checks_math.py",
            "tests/helpers.py",
            "tests/conftest.py",
        ]);
        let root = dir.path();
        std::fs::write(
            root.join("tests/checks_math.py"),
            "def test_add():\n    pass\n",
        )
        .unwrap();
        std::fs::write(root.join("tests/helpers.py"), "def make():\n    pass\n").unwrap();
        std::fs::write(root.join("tests/conftest.py"), "def test_like(): ...\n").unwrap();
        let found = unmatched_test_files(root, root, &["tests".to_owned()], &[]);
        assert_eq!(found, vec![root.join("tests/checks_math.py")]);
    }
}
