//! Deciding from a test's id and tags alone whether it runs.

use std::collections::HashSet;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::keyword::{KeywordExpr, KeywordExprError};
use crate::tags::{TagExpr, TagExprError};

const GLOB_META: &[char] = &['*', '?', '[', '{'];

/// The filters of one run: `-k` patterns, a `-t` tag expression, the
/// `path::name` prefixes, and pytest's `-k` keyword expression from a project's
/// addopts. A test runs when it passes all of them (an unset filter passes
/// everything).
#[derive(Debug, Clone)]
pub struct Selector {
    substrings: Vec<String>,
    globs: GlobSet,
    has_match: bool,
    tags: Option<TagExpr>,
    prefixes: HashSet<String>,
    keyword: Option<KeywordExpr>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    #[error(
        "invalid -k pattern \"{pattern}\": {reason}; use a glob on the test id such as \"*crud*\" or \"tests/test_a.py::*\", or a plain substring (write [[] for a literal \"[\")"
    )]
    BadMatch { pattern: String, reason: String },

    #[error(
        "empty -k pattern; give a substring or a glob on the test id such as \"*crud*\", or leave -k out to run every test"
    )]
    EmptyMatch,

    #[error(transparent)]
    Tags(#[from] TagExprError),

    #[error(transparent)]
    Keyword(#[from] KeywordExprError),
}

impl Selector {
    /// `match_patterns`: the `-k` values; a test is selected if ANY matches.
    /// Each is a case-sensitive glob on the whole test id in which `*` also
    /// crosses `/` and `::`; one without a glob metacharacter (`* ? [ {`) is a
    /// substring. `tags`: an optional tag expression. `id_prefixes`: from
    /// [`crate::Discovered`]; when non-empty an id must equal one of them or
    /// continue it with `::` or `[`.
    pub fn new(
        match_patterns: &[String],
        tags: Option<&str>,
        id_prefixes: Vec<String>,
    ) -> Result<Selector, SelectorError> {
        let mut substrings = Vec::new();
        let mut globs = GlobSetBuilder::new();
        for pattern in match_patterns {
            // An empty -k is nearly always an unset shell variable; matching
            // everything would hide the mistake.
            if pattern.is_empty() {
                return Err(SelectorError::EmptyMatch);
            }
            if pattern.contains(GLOB_META) {
                let glob = GlobBuilder::new(pattern)
                    .literal_separator(false)
                    .backslash_escape(true)
                    .build()
                    .map_err(|err| SelectorError::BadMatch {
                        pattern: pattern.clone(),
                        reason: err.kind().to_string(),
                    })?;
                globs.add(glob);
            } else {
                // A plain `contains` rather than `*pat*`, so that characters
                // such as `]` or `\` in a substring stay literal.
                substrings.push(pattern.clone());
            }
        }
        let globs = globs.build().map_err(|err| SelectorError::BadMatch {
            pattern: match_patterns.join(" "),
            reason: err.to_string(),
        })?;
        let tags = tags.map(TagExpr::parse).transpose()?;
        Ok(Selector {
            substrings,
            globs,
            has_match: !match_patterns.is_empty(),
            tags,
            prefixes: id_prefixes.into_iter().collect(),
            keyword: None,
        })
    }

    /// Adds pytest's keyword expression (`-k` in addopts), which a test must match as well.
    /// A blank one is no filter, as in pytest.
    pub fn with_keyword(mut self, keyword: Option<&str>) -> Result<Selector, SelectorError> {
        self.keyword = keyword
            .filter(|k| !k.trim_start().is_empty())
            .map(|k| KeywordExpr::parse(k.trim_start()))
            .transpose()?;
        Ok(self)
    }

    /// Whether the test `id`, carrying `tags`, is selected.
    pub fn matches(&self, id: &str, tags: &[String]) -> bool {
        self.matches_prefix(id)
            && self.matches_pattern(id)
            && self.tags.as_ref().is_none_or(|expr| expr.eval(tags))
            && self.keyword.as_ref().is_none_or(|k| k.matches(id, tags))
    }

    /// True when no filter is set, so callers can skip asking per test.
    pub fn is_everything(&self) -> bool {
        !self.has_match && self.tags.is_none() && self.prefixes.is_empty() && self.keyword.is_none()
    }

    fn matches_pattern(&self, id: &str) -> bool {
        !self.has_match
            || self.substrings.iter().any(|s| id.contains(s.as_str()))
            || self.globs.is_match(id)
    }

    /// Looks up each cut of `id` at a `::` or `[` instead of scanning every
    /// prefix, because a mixed command line can give one prefix per file.
    fn matches_prefix(&self, id: &str) -> bool {
        if self.prefixes.is_empty() || self.prefixes.contains(id) {
            return true;
        }
        id.char_indices()
            .filter(|&(i, c)| c == '[' || (c == ':' && id[i..].starts_with("::")))
            .any(|(i, _)| self.prefixes.contains(&id[..i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn by_match(patterns: &[&str]) -> Selector {
        Selector::new(&strings(patterns), None, Vec::new()).unwrap()
    }

    const NO_TAGS: &[String] = &[];

    #[test]
    fn no_filter_selects_everything() {
        let s = Selector::new(&[], None, Vec::new()).unwrap();
        assert!(s.is_everything());
        assert!(s.matches("tests/test_a.py::test_x", NO_TAGS));
        assert!(!by_match(&["x"]).is_everything());
        assert!(!Selector::new(&[], Some("db"), Vec::new())
            .unwrap()
            .is_everything());
        assert!(!Selector::new(&[], None, strings(&["tests/test_a.py"]))
            .unwrap()
            .is_everything());
    }

    #[test]
    fn a_plain_pattern_is_a_substring() {
        let s = by_match(&["crud"]);
        assert!(s.matches("tests/test_db.py::test_crud_insert", NO_TAGS));
        assert!(s.matches("tests/crud/test_a.py::test_x", NO_TAGS));
        assert!(!s.matches("tests/test_db.py::test_CRUD", NO_TAGS));
        // Characters that are not glob openers stay literal.
        let s = by_match(&["x]"]);
        assert!(s.matches("tests/test_a.py::test_p[x]", NO_TAGS));
        assert!(!s.matches("tests/test_a.py::test_x", NO_TAGS));
        let s = by_match(&["py::Suite::"]);
        assert!(s.matches("tests/test_a.py::Suite::test_x", NO_TAGS));
    }

    #[test]
    fn a_glob_matches_the_whole_id_and_star_crosses_separators() {
        let s = by_match(&["*crud*"]);
        assert!(s.matches("tests/sub/test_db.py::Suite::test_crud[p-1]", NO_TAGS));
        let s = by_match(&["tests/test_a.py::*"]);
        assert!(s.matches("tests/test_a.py::test_x", NO_TAGS));
        assert!(s.matches("tests/test_a.py::Suite::test_y", NO_TAGS));
        assert!(!s.matches("tests/test_b.py::test_x", NO_TAGS));
        // Anchored: no implicit leading or trailing star once a glob is used.
        let s = by_match(&["test_x*"]);
        assert!(!s.matches("tests/test_a.py::test_x", NO_TAGS));
        let s = by_match(&["tests*::test_?"]);
        assert!(s.matches("tests/deep/er/test_a.py::test_x", NO_TAGS));
        assert!(!s.matches("tests/test_a.py::test_xy", NO_TAGS));
        let s = by_match(&["*::test_{get,put}"]);
        assert!(s.matches("t/test_a.py::test_put", NO_TAGS));
        assert!(!s.matches("t/test_a.py::test_post", NO_TAGS));
        let s = by_match(&["*[[]big]"]);
        assert!(s.matches("t/test_a.py::test_p[big]", NO_TAGS));
        let s = by_match(&["*CRUD*"]);
        assert!(!s.matches("t/test_a.py::test_crud", NO_TAGS));
    }

    #[test]
    fn several_patterns_are_or_ed() {
        let s = by_match(&["insert", "*::test_delete"]);
        assert!(s.matches("t/test_a.py::test_insert", NO_TAGS));
        assert!(s.matches("t/test_a.py::test_delete", NO_TAGS));
        assert!(!s.matches("t/test_a.py::test_update", NO_TAGS));
    }

    #[test]
    fn tags_are_and_ed_with_patterns() {
        let s = Selector::new(&strings(&["crud"]), Some("db and not slow"), Vec::new()).unwrap();
        assert!(s.matches("t/test_a.py::test_crud", &strings(&["db"])));
        assert!(!s.matches("t/test_a.py::test_crud", &strings(&["db", "slow"])));
        assert!(!s.matches("t/test_a.py::test_crud", NO_TAGS));
        assert!(!s.matches("t/test_a.py::test_other", &strings(&["db"])));
    }

    #[test]
    fn id_prefixes_stop_at_a_name_boundary() {
        let s = Selector::new(
            &[],
            None,
            strings(&[
                "tests/test_a.py::test_x",
                "tests/test_a.py::Suite",
                "tests/test_b.py",
            ]),
        )
        .unwrap();
        assert!(s.matches("tests/test_a.py::test_x", NO_TAGS));
        assert!(s.matches("tests/test_a.py::test_x[big-1]", NO_TAGS));
        assert!(!s.matches("tests/test_a.py::test_xy", NO_TAGS));
        assert!(!s.matches("tests/test_a.py::test_y", NO_TAGS));
        assert!(s.matches("tests/test_a.py::Suite::test_y", NO_TAGS));
        assert!(s.matches("tests/test_a.py::Suite::test_y[p]", NO_TAGS));
        assert!(!s.matches("tests/test_a.py::SuiteTwo::test_y", NO_TAGS));
        assert!(
            s.matches("tests/test_b.py", NO_TAGS),
            "the import-error entry of a file"
        );
        assert!(s.matches("tests/test_b.py::anything", NO_TAGS));
        assert!(!s.matches("tests/test_b.pyx::anything", NO_TAGS));
        assert!(!s.matches("tests/test_a.py", NO_TAGS));
    }

    #[test]
    fn all_three_filters_combine() {
        let s = Selector::new(
            &strings(&["*::test_y*"]),
            Some("db"),
            strings(&["t/test_a.py"]),
        )
        .unwrap();
        assert!(s.matches("t/test_a.py::test_y", &strings(&["db"])));
        assert!(!s.matches("t/test_b.py::test_y", &strings(&["db"])));
        assert!(!s.matches("t/test_a.py::test_z", &strings(&["db"])));
        assert!(!s.matches("t/test_a.py::test_y", NO_TAGS));
    }

    #[test]
    fn a_keyword_expression_applies_besides_the_other_filters() {
        let s = Selector::new(&[], Some("db"), Vec::new())
            .unwrap()
            .with_keyword(Some("not slow and add"))
            .unwrap();
        assert!(!s.is_everything());
        assert!(s.matches("t/test_a.py::test_add", &strings(&["db"])));
        assert!(!s.matches("t/test_a.py::test_add", NO_TAGS));
        assert!(!s.matches("t/test_a.py::test_add", &strings(&["db", "slow"])));
        assert!(!s.matches("t/test_a.py::test_sub", &strings(&["db"])));
        // Unlike dbtest's -k, it is case-insensitive and matches names, not the id's text.
        let s = by_match(&[]).with_keyword(Some("ADD")).unwrap();
        assert!(s.matches("t/test_a.py::TestX::test_Add[1]", NO_TAGS));
        // A blank expression is no filter.
        assert!(by_match(&[])
            .with_keyword(Some("  "))
            .unwrap()
            .is_everything());
        assert!(by_match(&[]).with_keyword(None).unwrap().is_everything());
        let e = by_match(&[]).with_keyword(Some("add and")).unwrap_err();
        assert!(matches!(e, SelectorError::Keyword(_)), "{e:?}");
        assert!(e.to_string().contains("at column 8"), "{e}");
    }

    #[test]
    fn errors_say_what_is_wrong_and_how_to_fix_it() {
        let e = Selector::new(&strings(&["ok", "[a"]), None, Vec::new()).unwrap_err();
        assert!(matches!(e, SelectorError::BadMatch { ref pattern, .. } if pattern == "[a"));
        let text = e.to_string();
        assert!(
            text.starts_with("invalid -k pattern \"[a\": unclosed character class"),
            "{text}"
        );
        assert!(text.contains("\"*crud*\""), "{text}");

        let e = Selector::new(&strings(&["{a"]), None, Vec::new()).unwrap_err();
        assert!(e.to_string().contains("unclosed alternate group"), "{e}");

        let e = Selector::new(&strings(&[""]), None, Vec::new()).unwrap_err();
        assert_eq!(e, SelectorError::EmptyMatch);
        assert!(e.to_string().contains("leave -k out"), "{e}");

        let e = Selector::new(&[], Some("db and"), Vec::new()).unwrap_err();
        assert!(matches!(
            e,
            SelectorError::Tags(TagExprError { column: 6, .. })
        ));
        assert!(
            e.to_string()
                .starts_with("malformed tag expression \"db and\""),
            "{e}"
        );
    }
}
