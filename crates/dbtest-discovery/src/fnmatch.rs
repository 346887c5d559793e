//! Python's `fnmatch.fnmatch` and pytest's `fnmatch_ex`, which pytest matches `python_files`,
//! `norecursedirs` and `testpaths` with. Not globset: fnmatch has no `{a,b}` groups and no
//! escapes (`\` is an ordinary character), its `*` crosses `/`, and an unclosed `[` is a
//! literal `[` instead of an error.

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    /// `[...]`: its ranges (a single character is a range of one), negated by `!`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A compiled fnmatch pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fnmatch {
    pattern: String,
    tokens: Vec<Token>,
}

impl Fnmatch {
    /// Compiles `pattern` as `fnmatch.translate` reads it; every pattern is valid.
    pub fn new(pattern: &str) -> Fnmatch {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' => {
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => tokens.push(Token::Any),
                '[' => match class(&chars, i) {
                    Some((token, next)) => {
                        tokens.push(token);
                        i = next;
                    }
                    None => tokens.push(Token::Char('[')),
                },
                c => tokens.push(Token::Char(c)),
            }
        }
        Fnmatch {
            pattern: pattern.to_owned(),
            tokens,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole of `name` matches (case-sensitively, as on POSIX).
    pub fn is_match(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // The classic wildcard walk: on a mismatch, let the last `*` take one more character.
        let (mut t, mut n) = (0, 0);
        let mut retry: Option<(usize, usize)> = None;
        while n < name.len() {
            match self.tokens.get(t) {
                Some(Token::Star) => {
                    retry = Some((t, n));
                    t += 1;
                    continue;
                }
                Some(token) if matches_one(token, name[n]) => {
                    t += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
            match retry {
                Some((star, from)) => {
                    t = star + 1;
                    n = from + 1;
                    retry = Some((star, from + 1));
                }
                None => return false,
            }
        }
        self.tokens[t..].iter().all(|token| *token == Token::Star)
    }

    /// pytest's `fnmatch_ex`: a pattern without `/` matches the last component of `path`;
    /// one with `/` matches the whole path, after a `*/` when the path is absolute and the
    /// pattern is not, so `tests/*.py` matches `/any/where/tests/a.py`.
    pub fn matches_path(&self, path: &Path) -> bool {
        if !self.pattern.contains(std::path::MAIN_SEPARATOR) && !self.pattern.contains('/') {
            return path
                .file_name()
                .is_some_and(|name| self.is_match(&name.to_string_lossy()));
        }
        let text = path.to_string_lossy();
        if path.is_absolute() && !Path::new(&self.pattern).is_absolute() {
            Fnmatch::new(&format!("*/{}", self.pattern)).is_match(&text)
        } else {
            self.is_match(&text)
        }
    }
}

fn matches_one(token: &Token, c: char) -> bool {
    match token {
        Token::Char(want) => *want == c,
        Token::Any => true,
        Token::Star => false,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
        }
    }
}

/// The class that starts after a `[` at `start`, and where the pattern goes on; `None`
/// when it is never closed (the `[` is then a literal).
fn class(chars: &[char], start: usize) -> Option<(Token, usize)> {
    let mut j = start;
    if chars.get(j) == Some(&'!') {
        j += 1;
    }
    // A `]` right after `[` or `[!` belongs to the class.
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    while chars.get(j).is_some_and(|&c| c != ']') {
        j += 1;
    }
    if j >= chars.len() {
        return None;
    }
    let mut body = &chars[start..j];
    let negated = body.first() == Some(&'!');
    if negated {
        body = &body[1..];
    }
    // `a-z` is a range (an empty one when a > z, which Python drops); a `-` first, last or
    // right after a range is itself.
    let mut ranges = Vec::new();
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == '-' {
            ranges.push((body[k], body[k + 2]));
            k += 3;
        } else {
            ranges.push((body[k], body[k]));
            k += 1;
        }
    }
    Some((Token::Class { negated, ranges }, j + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        Fnmatch::new(pattern).is_match(name)
    }

    #[test]
    fn matches_as_python_fnmatch() {
        // Each checked with python3 -c "import fnmatch; print(fnmatch.fnmatchcase(name, pattern))".
        let cases = [
            ("test_*.py", "test_a.py", true),
            ("test_*.py", "test_.py", true),
            ("test_*.py", "atest_a.py", false),
            ("*_test.py", "a_test.py", true),
            ("*", "", true),
            ("*.egg", "pkg.egg", true),
            (".*", ".git", true),
            (".*", "git", false),
            ("?", "ab", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("[abc]x", "bx", true),
            ("[!abc]x", "bx", false),
            ("[!abc]x", "dx", true),
            ("[a-c]", "b", true),
            ("[c-a]", "b", false),
            ("[]]", "]", true),
            ("[!]]", "a", true),
            ("[a-]", "-", true),
            ("[-a]", "-", true),
            ("[a-b-d]", "-", true),
            ("[a-b-d]", "c", false),
            ("[a", "[a", true),
            ("{arch}", "{arch}", true),
            ("{a,b}", "a", false),
            (r"a\*", r"a\b", true),
            ("*/x", "a/b/x", true),
            ("CVS", "cvs", false),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(m(pattern, name), want, "fnmatch({name:?}, {pattern:?})");
        }
    }

    #[test]
    fn path_patterns_match_the_whole_path() {
        let p = Fnmatch::new("tests/*_spec.py");
        assert!(p.matches_path(Path::new("/proj/tests/a_spec.py")));
        assert!(p.matches_path(Path::new("/proj/deep/tests/sub/a_spec.py")));
        assert!(!p.matches_path(Path::new("/proj/other/a_spec.py")));
        let name_only = Fnmatch::new("build");
        assert!(name_only.matches_path(Path::new("/proj/build")));
        assert!(!name_only.matches_path(Path::new("/proj/build/x")));
    }

    #[test]
    fn many_stars_do_not_blow_up() {
        let p = Fnmatch::new(&"*a".repeat(20));
        assert!(!p.is_match(&"a".repeat(19)));
        assert!(p.is_match(&"a".repeat(40)));
    }
}
