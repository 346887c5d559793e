//! Python's `shlex.split` (POSIX mode, no comments), which pytest applies to `args` and
//! `paths` values read as text. Our own: the `shlex` crate follows the POSIX shell, which
//! differs where Python's module does not (`#` starts a comment there; a backslash before a
//! newline is removed there and kept here).

const WHITESPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// Why a value cannot be split; the message is Python's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitError(pub(crate) &'static str);

enum State {
    Between,
    Word,
    Quoted(char),
    /// After a backslash; the state to return to.
    Escaped(Box<State>),
}

/// The words of `text`, as `shlex.split(text)` returns them.
pub(crate) fn split(text: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // An empty pair of quotes is still a word ('' gives "").
    let mut quoted = false;
    let mut state = State::Between;
    for c in text.chars() {
        state = match state {
            State::Between | State::Word if WHITESPACE.contains(&c) => {
                if !word.is_empty() || quoted {
                    words.push(std::mem::take(&mut word));
                    quoted = false;
                }
                State::Between
            }
            State::Between | State::Word => match c {
                '\\' => State::Escaped(Box::new(State::Word)),
                '\'' | '"' => State::Quoted(c),
                _ => {
                    word.push(c);
                    State::Word
                }
            },
            State::Quoted(q) => {
                quoted = true;
                if c == q {
                    State::Word
                } else if c == '\\' && q == '"' {
                    State::Escaped(Box::new(State::Quoted(q)))
                } else {
                    word.push(c);
                    State::Quoted(q)
                }
            }
            State::Escaped(back) => {
                // Inside double quotes only the quote and the backslash can be escaped; any
                // other backslash stays.
                if let State::Quoted(q) = *back {
                    if c != '\\' && c != q {
                        word.push('\\');
                    }
                }
                word.push(c);
                *back
            }
        };
    }
    match state {
        State::Quoted(_) => Err(SplitError("No closing quotation")),
        State::Escaped(_) => Err(SplitError("No escaped character")),
        State::Between | State::Word => {
            if !word.is_empty() || quoted {
                words.push(word);
            }
            Ok(words)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<String> {
        split(text).unwrap()
    }

    #[test]
    fn splits_like_python() {
        // Each case checked with python3 -c "import shlex; print(shlex.split(...))".
        assert_eq!(ok("  -q   -x\n--tb=short\t"), ["-q", "-x", "--tb=short"]);
        assert_eq!(ok("-m 'not slow'"), ["-m", "not slow"]);
        assert_eq!(ok("-k \"a and b\" x"), ["-k", "a and b", "x"]);
        assert_eq!(ok("a'b c'd"), ["ab cd"]);
        assert_eq!(ok("'' x \"\""), ["", "x", ""]);
        assert_eq!(ok(r"a\ b \x"), ["a b", "x"]);
        assert_eq!(ok(r#""a\"b\\c\d""#), [r#"a"b\c\d"#]);
        assert_eq!(ok(r"'a\b'"), [r"a\b"]);
        assert_eq!(ok("-q # not a comment"), ["-q", "#", "not", "a", "comment"]);
        assert!(ok("").is_empty());
        assert!(ok(" \n ").is_empty());
    }

    #[test]
    fn unbalanced_input_is_an_error() {
        assert_eq!(split("-m 'slow"), Err(SplitError("No closing quotation")));
        assert_eq!(split("a\\"), Err(SplitError("No escaped character")));
    }
}
