//! The tests a file holds, read from its source without importing it, for files simple enough
//! that the answer is certain: `def test_*` / `async def test_*` at the top level and in
//! `Test*` / `TestSuite` classes, with only decorators whose effect on the ids is known.
//! Anything else (parametrize, another decorator, inheritance, tests made by code, module-level
//! marks) makes [`static_tests`] answer `None`, and the file is imported as usual.

use std::collections::hash_map::{Entry, HashMap};

/// A test found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticTest {
    pub name: String,
    pub suite: Option<String>,
    /// The line of the `def`.
    pub line: u32,
    pub tags: Vec<String>,
}

/// Decorators (without arguments) that leave a test's id alone and add no tag.
const NEUTRAL: &[&str] = &[
    "dbtest.skip",
    "dbtest.skip_if",
    "dbtest.xfail",
    "dbtest.timeout",
    "dbtest.flaky",
    "dbtest.serial",
    "dbtest.concurrent",
    "dbtest.probabilistic_test",
    "pytest.mark.skip",
    "pytest.mark.skipif",
    "pytest.mark.xfail",
    "pytest.mark.asyncio",
    "pytest.mark.timeout",
];

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// String literals of a decorator's argument list: `("db", 'slow')` -> db, slow. `None` when
/// an argument is anything but a plain string.
fn string_args(args: &str) -> Option<Vec<String>> {
    let inner = args.trim().strip_prefix('(')?.strip_suffix(')')?;
    let mut out = Vec::new();
    for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let quote = part.chars().next()?;
        if !(quote == '"' || quote == '\'') || part.len() < 2 || !part.ends_with(quote) {
            return None;
        }
        let text = &part[1..part.len() - 1];
        if text.contains(['"', '\'', '\\']) {
            return None;
        }
        out.push(text.to_string());
    }
    Some(out)
}

/// The tags a decorator line adds, `Some(vec![])` for a neutral one, `None` if unknown.
fn decorator_tags(decorator: &str) -> Option<Vec<String>> {
    let (name, args) = match decorator.find('(') {
        Some(at) => (&decorator[..at], Some(&decorator[at..])),
        None => (decorator, None),
    };
    let name = name.trim();
    if name == "dbtest.tag" {
        return string_args(args?);
    }
    if NEUTRAL.contains(&name) {
        return Some(Vec::new());
    }
    // Other pytest marks become tags of their name (as when imported), if they have no
    // arguments that could matter.
    if let Some(mark) = name.strip_prefix("pytest.mark.") {
        let simple = mark.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if simple
            && !matches!(
                mark,
                "parametrize" | "usefixtures" | "flaky" | "filterwarnings"
            )
        {
            return Some(vec![mark.to_string()]);
        }
    }
    None
}

fn def_name(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("async def ")
        .or_else(|| line.strip_prefix("def "))?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    Some(&rest[..end])
}

/// A class line's name and whether its bases are ones collection understands.
fn class_header(line: &str) -> Option<(&str, bool)> {
    let rest = line.strip_prefix("class ")?;
    let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    let name = &rest[..end];
    let tail = rest[end..].trim();
    let known = match tail.strip_prefix('(') {
        None => tail.starts_with(':'),
        Some(bases) => {
            let bases = bases.split(')').next().unwrap_or("").trim();
            matches!(bases, "" | "object" | "dbtest.TestSuite" | "TestSuite")
        }
    };
    Some((name, known))
}

struct Class {
    name: String,
    collected: bool,
    tags: Vec<String>,
    body_indent: Option<usize>,
}

/// The tests of `source`, or `None` when only importing it can tell.
pub fn static_tests(source: &str) -> Option<Vec<StaticTest>> {
    let mut tests: Vec<StaticTest> = Vec::new();
    // Where each (suite, name) sits in `tests`.
    let mut places: HashMap<(Option<String>, String), usize> = HashMap::new();
    // Decorators seen since the last definition; what they mean is asked only of those that
    // decorate a test (a fixture's decorator is no concern here).
    let mut pending: Vec<&str> = Vec::new();
    let mut class: Option<Class> = None;
    let mut in_string: Option<&str> = None;
    // Inside a function's body (deeper than this indent) nothing is collected.
    let mut function_indent: Option<usize> = None;
    for (index, raw) in source.lines().enumerate() {
        let number = index as u32 + 1;
        // Skip the inside of triple-quoted strings: a docstring may show `def test_x():`.
        if let Some(quote) = in_string {
            if raw.contains(quote) {
                in_string = None;
                if raw.matches(quote).count() % 2 == 0 {
                    return None;
                }
            }
            continue;
        }
        for quote in ["\"\"\"", "'''"] {
            if raw.matches(quote).count() % 2 == 1 {
                in_string = Some(quote);
            }
        }
        let line = raw.trim_end();
        let text = line.trim_start();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let indent = indent_of(line);
        if line.ends_with('\\') {
            return None;
        }
        match function_indent {
            Some(f) if indent > f => continue,
            _ => function_indent = None,
        }
        if indent == 0 {
            class = None;
        }
        let at_suite_level = class
            .as_ref()
            .is_some_and(|c| c.body_indent.is_none_or(|b| b == indent) && indent > 0);
        if indent == 0 || at_suite_level {
            if let Some(c) = class.as_mut() {
                if indent > 0 {
                    c.body_indent = Some(indent);
                }
            }
            if let Some(decorator) = text.strip_prefix('@') {
                // A decorator's arguments spread over lines cannot be read here.
                if decorator.matches('(').count() != decorator.matches(')').count() {
                    return None;
                }
                pending.push(decorator);
                continue;
            }
            if let Some(name) = def_name(text) {
                function_indent = Some(indent);
                if name.starts_with("test") {
                    // Only a whole, well-formed signature line (a broken one is the import's
                    // to report).
                    let code = text.split('#').next().unwrap_or("").trim_end();
                    let closed = code.matches('(').count() == code.matches(')').count();
                    if !closed
                        || !(code.ends_with(':') || code.contains("):") || code.contains(") ->"))
                    {
                        return None;
                    }
                    let (suite, mut tags) = match &class {
                        Some(c) if indent > 0 => {
                            if !c.collected {
                                pending.clear();
                                continue;
                            }
                            (Some(c.name.clone()), c.tags.clone())
                        }
                        _ => (None, Vec::new()),
                    };
                    for decorator in pending.drain(..) {
                        tags.extend(decorator_tags(decorator)?);
                    }
                    let test = StaticTest {
                        name: name.to_string(),
                        suite,
                        line: number,
                        tags: dedup(tags),
                    };
                    // A name defined twice keeps its first place and its last definition,
                    // as in the namespace Python collects from.
                    match places.entry((test.suite.clone(), test.name.clone())) {
                        Entry::Occupied(place) => tests[*place.get()] = test,
                        Entry::Vacant(place) => {
                            place.insert(tests.len());
                            tests.push(test);
                        }
                    }
                } else if (name == "__init__"
                    && class.as_ref().is_some_and(|c| c.collected && indent > 0))
                    || (name == "pytest_generate_tests" && indent == 0)
                {
                    // A constructor keeps pytest from collecting the class; a module's
                    // pytest_generate_tests parametrizes its tests.
                    return None;
                }
                pending.clear();
                continue;
            }
            if indent == 0 {
                if let Some((name, known_bases)) = class_header(text) {
                    let is_suite = text.contains("TestSuite");
                    let collected = name.starts_with("Test") || is_suite;
                    // Any base may be a unittest.TestCase (collected whatever the class's
                    // name) or bring test methods of its own.
                    if !known_bases {
                        return None;
                    }
                    let mut tags = Vec::new();
                    for decorator in pending.drain(..) {
                        if collected {
                            tags.extend(decorator_tags(decorator)?);
                        }
                    }
                    class = Some(Class {
                        name: name.to_string(),
                        collected,
                        tags,
                        body_indent: None,
                    });
                    continue;
                }
                if !pending.is_empty() {
                    return None;
                }
                // Module-level names that change collection, or make tests, need the import.
                let target = text.split(['=', ':', ' ', '(']).next().unwrap_or("");
                if text.contains('=') && matches!(target, "tags" | "concurrent" | "pytestmark")
                    || target.starts_with("test")
                    || ((text.starts_with("from ") || text.starts_with("import "))
                        && text.contains(" test"))
                    || text.starts_with("if ")
                    || text.starts_with("try")
                    || text.starts_with("for ")
                    || text.starts_with("with ")
                {
                    return None;
                }
            } else if let Some(c) = class.as_mut() {
                // A suite's class attributes: tags it gives its tests, or names that need
                // the import to be understood.
                if c.collected {
                    let target = text.split(['=', ' ']).next().unwrap_or("");
                    if target == "tags" {
                        let value = text.split_once('=')?.1.trim();
                        let inner = value
                            .strip_prefix('(')
                            .and_then(|v| v.strip_suffix(')'))
                            .or_else(|| {
                                value.strip_prefix('[').and_then(|v| v.strip_suffix(']'))
                            })?;
                        c.tags.extend(string_args(&format!("({inner})"))?);
                    } else if target.starts_with("test") {
                        return None;
                    }
                }
            }
        } else if text.starts_with("def test") || text.starts_with("async def test") {
            // A test defined where this reader does not look (in an `if`, a function...).
            if class.as_ref().is_none_or(|c| c.collected) {
                return None;
            }
        }
    }
    if in_string.is_some() || !pending.is_empty() {
        return None;
    }
    Some(tests)
}

fn dedup(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    type Found = (Option<String>, String, u32, Vec<String>);

    fn names(source: &str) -> Option<Vec<Found>> {
        static_tests(source).map(|ts| {
            ts.into_iter()
                .map(|t| (t.suite, t.name, t.line, t.tags))
                .collect()
        })
    }

    #[test]
    fn classes_with_bases_and_generated_parameters_need_the_import() {
        // unittest collects a TestCase whatever its name; a mixin may bring test methods.
        let unittest_case = "import unittest\n\nclass LRUCacheTest(unittest.TestCase, Mixin):\n    def test_lru(self):\n        pass\n";
        assert_eq!(names(unittest_case), None);
        let generated = "def pytest_generate_tests(metafunc):\n    metafunc.parametrize('x', [1])\n\ndef test_x(x):\n    pass\n";
        assert_eq!(names(generated), None);
    }

    #[test]
    fn reads_functions_suites_and_tags() {
        let source = r#"import asyncio
import dbtest

@dbtest.fixture
def pool(): ...

def helper(): ...

@dbtest.tag("db", 'crud')
@dbtest.timeout(2.0)
async def test_insert(pool):
    assert True

def test_plain():
    """A docstring that shows
def test_not_real():
    """
    assert 1

@dbtest.tag("db")
class TestUsers(dbtest.TestSuite):
    tags = ("suite",)

    async def setup_suite(self): ...

    @dbtest.skip("later")
    def test_create(self, pool):
        def test_inner(): ...

class Helper:
    def test_not_collected(self): ...

class TestPlain:
    def test_m(self): ...
"#;
        assert_eq!(
            names(source).unwrap(),
            vec![
                (
                    None,
                    "test_insert".into(),
                    11,
                    vec!["db".into(), "crud".into()]
                ),
                (None, "test_plain".into(), 14, vec![]),
                (
                    Some("TestUsers".into()),
                    "test_create".into(),
                    27,
                    vec!["db".into(), "suite".into()]
                ),
                (Some("TestPlain".into()), "test_m".into(), 34, vec![]),
            ]
        );
    }

    #[test]
    fn anything_uncertain_needs_the_import() {
        for source in [
            "@dbtest.parametrize('a', [1, 2])\ndef test_a(a): ...\n",
            "@my_decorator\ndef test_a(): ...\n",
            "class TestA(Base):\n    def test_a(self): ...\n",
            "if True:\n    def test_a(): ...\n",
            "test_a = make_test()\n",
            "from helpers import test_shared\n",
            "tags = ('db',)\ndef test_a(): ...\n",
            "@dbtest.tag(\n    'db')\ndef test_a(): ...\n",
            "def test_x(:\n    pass\n",
            "def test_x(\n    a,\n):\n    pass\n",
            "class TestA:\n    def __init__(self): ...\n    def test_a(self): ...\n",
        ] {
            assert_eq!(static_tests(source), None, "{source}");
        }
    }

    #[test]
    fn pytest_marks_are_tags() {
        let t = static_tests(
            "import pytest\n@pytest.mark.slow\n@pytest.mark.skip(reason='x')\ndef test_a(): ...\n",
        )
        .unwrap();
        assert_eq!(t[0].tags, vec!["slow".to_string()]);
    }

    #[test]
    fn a_redefined_test_keeps_its_first_place_and_its_last_line() {
        // As Python sees it: the module's namespace keeps a name where it was first bound.
        let t = static_tests("def test_a(): ...\ndef test_b(): ...\ndef test_a(): ...\n").unwrap();
        let found: Vec<(&str, u32)> = t.iter().map(|t| (t.name.as_str(), t.line)).collect();
        assert_eq!(found, vec![("test_a", 3), ("test_b", 2)]);
    }
}
