//! Which files' tests may overlap in one process (DESIGN section 2): by default only files
//! written for dbtest, known by their source importing it. A suite written for pytest or
//! unittest was never meant to share a process with a neighbour running at the same time, so
//! its files run one test at a time unless the project says otherwise.

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// The overlap setting, compiled.
#[derive(Debug, Clone)]
pub enum OverlapRule {
    /// Files that import dbtest may overlap.
    Native,
    All,
    None,
    /// Files whose root-relative path, or a folder of it, matches may overlap.
    Paths(GlobSet),
}

/// A glob of `overlap` that does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid overlap glob \"{glob}\": {reason}; use a glob on paths relative to the project root such as \"tests/async/**\" or \"tests/test_db_*.py\"")]
pub struct OverlapError {
    pub glob: String,
    pub reason: String,
}

impl OverlapRule {
    /// `overlap = [globs]`: `*` stays within a folder, `**` crosses folders.
    pub fn paths(globs: &[String]) -> Result<OverlapRule, OverlapError> {
        let mut set = GlobSetBuilder::new();
        for glob in globs {
            let compiled = GlobBuilder::new(glob.trim_end_matches('/'))
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| OverlapError {
                    glob: glob.clone(),
                    reason: e.kind().to_string(),
                })?;
            set.add(compiled);
        }
        let set = set.build().map_err(|e| OverlapError {
            glob: globs.join(" "),
            reason: e.to_string(),
        })?;
        Ok(OverlapRule::Paths(set))
    }

    /// Whether the tests of the file `rel` (its id path) at `path` must run one at a time.
    /// Under [`OverlapRule::Native`] this reads the file; one that cannot be read is
    /// exclusive, the choice that never changes a verdict.
    pub fn exclusive(&self, rel: &str, path: &Path) -> bool {
        match self {
            OverlapRule::All => false,
            OverlapRule::None => true,
            OverlapRule::Native => match std::fs::read(path) {
                Ok(bytes) => !imports_dbtest(&String::from_utf8_lossy(&bytes)),
                Err(_) => true,
            },
            OverlapRule::Paths(set) => {
                let mut prefix = rel;
                loop {
                    if set.is_match(prefix) {
                        return false;
                    }
                    match prefix.rfind('/') {
                        Some(at) => prefix = &prefix[..at],
                        None => return true,
                    }
                }
            }
        }
    }
}

/// Whether `source` imports dbtest: `import dbtest`, `import dbtest as x`,
/// `import os, dbtest.sub`, `from dbtest import ...`, `from dbtest.x import ...`, at any
/// indentation and after `;` or `:`. Comments and strings (docstrings too) do not count.
pub fn imports_dbtest(source: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Code,
        Comment,
        Str { quote: char, triple: bool },
    }
    let mut state = State::Code;
    let mut depth = 0usize;
    let mut at_start = true;
    let mut escaped = false;
    let mut skip = 0;
    let mut prev = '\n';
    for (i, c) in source.char_indices() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        match state {
            State::Comment => {
                if c == '\n' {
                    state = State::Code;
                    at_start = depth == 0;
                }
            }
            State::Str { quote, triple } => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == quote {
                    if !triple {
                        state = State::Code;
                    } else if source[i..].starts_with(&quote.to_string().repeat(3)) {
                        skip = 2;
                        state = State::Code;
                    }
                } else if c == '\n' && !triple {
                    // An unterminated string: Python would not compile it; carry on.
                    state = State::Code;
                    at_start = depth == 0;
                }
            }
            State::Code => {
                if at_start && matches!(c, ' ' | '\t' | '\x0c') {
                    continue;
                }
                if at_start {
                    at_start = false;
                    if statement_imports_dbtest(&source[i..]) {
                        return true;
                    }
                }
                match c {
                    '#' => state = State::Comment,
                    '\'' | '"' => {
                        let triple = source[i..].starts_with(&c.to_string().repeat(3));
                        if triple {
                            skip = 2;
                        }
                        state = State::Str { quote: c, triple };
                    }
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' => depth = depth.saturating_sub(1),
                    '\n' if depth == 0 && prev != '\\' => at_start = true,
                    ';' | ':' if depth == 0 => at_start = true,
                    _ => {}
                }
            }
        }
        prev = c;
    }
    false
}

/// `s` starts a statement: is it an import of dbtest?
fn statement_imports_dbtest(s: &str) -> bool {
    let keyword = |kw: &str| {
        s.strip_prefix(kw)
            .filter(|rest| rest.starts_with([' ', '\t', '\\']))
    };
    if let Some(rest) = keyword("import") {
        return logical_line(rest)
            .split(',')
            .any(|name| top_package(name) == Some("dbtest"));
    }
    if let Some(rest) = keyword("from") {
        let line = logical_line(rest);
        let module = line.split_whitespace().next().unwrap_or("");
        // `from . import dbtest` is a module of the test's own package.
        return !module.starts_with('.') && top_package(module) == Some("dbtest");
    }
    false
}

/// The statement's text up to its end (a newline not escaped by `\`, a `;` or a `#`), with
/// line continuations as spaces.
fn logical_line(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'\n') => {
                chars.next();
                out.push(' ');
            }
            '\n' | ';' | '#' => break,
            c => out.push(c),
        }
    }
    out
}

/// `dbtest.sub as x` gives `dbtest`.
fn top_package(name: &str) -> Option<&str> {
    let dotted = name.split_whitespace().next()?;
    dotted.split('.').next().map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tree;

    #[test]
    fn finds_every_spelling_of_importing_dbtest() {
        for source in [
            "import dbtest\n",
            "import dbtest as d\n",
            "from dbtest import fixture, tag\n",
            "from dbtest import (\n    fixture,\n)\n",
            "from dbtest.testing import x\n",
            "import os, dbtest\n",
            "import os.path as p, dbtest.sub as s\n",
            "import os; import dbtest\n",
            "def f():\n    import dbtest\n",
            "if True:\n\timport  dbtest\n",
            "try: import dbtest\nexcept ImportError: pass\n",
            "x = (1,\n     2)\nimport dbtest\n",
            "\"\"\"Docs.\"\"\"\nimport dbtest\n",
            "from \\\n    dbtest import x\n",
            "import os, \\\n    dbtest\n",
        ] {
            assert!(imports_dbtest(source), "{source:?}");
        }
    }

    #[test]
    fn other_mentions_are_not_imports() {
        for source in [
            "import pytest\n",
            "import dbtest_helpers\n",
            "from dbtestx import y\n",
            "import mydbtest\n",
            "from . import dbtest\n",
            "from .dbtest import x\n",
            "from pkg import dbtest\n",
            "# import dbtest\n",
            "x = 'import dbtest'\n",
            "\"\"\"\nimport dbtest\n\"\"\"\n",
            "'''\nfrom dbtest import x\n'''\n",
            "s = \"\"\"a \\\"\"\" still\nimport dbtest\n\"\"\"\n",
            "f(\n    import_dbtest=1,\n)\n",
            "reimport dbtest\n",
            "",
        ] {
            assert!(!imports_dbtest(source), "{source:?}");
        }
    }

    #[test]
    fn native_overlaps_dbtest_files_only() {
        let dir = tree(&["tests/test_native.py", "tests/test_pytest.py"]);
        std::fs::write(dir.path().join("tests/test_native.py"), "import dbtest\n").unwrap();
        std::fs::write(dir.path().join("tests/test_pytest.py"), "import pytest\n").unwrap();
        let native = OverlapRule::Native;
        let at = |rel: &str| dir.path().join(rel);
        assert!(!native.exclusive("tests/test_native.py", &at("tests/test_native.py")));
        assert!(native.exclusive("tests/test_pytest.py", &at("tests/test_pytest.py")));
        assert!(native.exclusive("tests/gone.py", &at("tests/gone.py")));
        for rel in ["tests/test_native.py", "tests/test_pytest.py"] {
            assert!(!OverlapRule::All.exclusive(rel, &at(rel)));
            assert!(OverlapRule::None.exclusive(rel, &at(rel)));
        }
    }

    #[test]
    fn path_globs_name_files_or_folders() {
        let globs: Vec<String> = ["tests/async/**", "tests/test_db_*.py", "integration/"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let rule = OverlapRule::paths(&globs).unwrap();
        let nowhere = Path::new("/nonexistent");
        assert!(!rule.exclusive("tests/async/test_a.py", nowhere));
        assert!(!rule.exclusive("tests/async/deep/test_b.py", nowhere));
        assert!(!rule.exclusive("tests/test_db_users.py", nowhere));
        assert!(!rule.exclusive("integration/sub/test_c.py", nowhere));
        assert!(rule.exclusive("tests/test_other.py", nowhere));
        // `*` stays within one folder.
        assert!(rule.exclusive("tests/sub/test_db_users.py", nowhere));
        let none = OverlapRule::paths(&[]).unwrap();
        assert!(none.exclusive("tests/test_a.py", nowhere));
        let e = OverlapRule::paths(&["tests/[a".to_owned()]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid overlap glob \"tests/[a\": unclosed character class"),
            "{e}"
        );
    }
}
