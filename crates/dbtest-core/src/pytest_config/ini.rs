//! The INI dialect pytest reads (pytest.ini, tox.ini, setup.cfg), parsed as iniconfig 2 parses
//! it with `IniConfig(path)`.
//!
//! Our own parser, not a crate: the INI crates on crates.io (rust-ini, configparser) follow
//! Windows INI or Python's `configparser`, and differ from iniconfig exactly where pytest
//! configurations rely on it: a value continues on every following indented line, blank and
//! comment lines inside it are dropped, a `#` or `;` after a value is part of the value
//! (`addopts = -q # x` gives pytest the words `#` and `x`), `name: value` works like
//! `name = value`, and a repeated name or section is an error.

use std::collections::HashMap;

const COMMENT_CHARS: [char; 2] = ['#', ';'];

/// One section: its names in file order, each with its value (continuation lines joined by
/// `\n`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) entries: Vec<(String, String)>,
}

/// A parsed file: sections by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ini {
    pub(crate) sections: HashMap<String, Section>,
}

/// A line iniconfig rejects. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IniError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

enum Parsed<'a> {
    Blank,
    Section(&'a str),
    Value(&'a str, &'a str),
    Continuation(&'a str),
}

/// The line breaks of Python's `str.splitlines`, which iniconfig splits on.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r'
            | '\x0b'
            | '\x0c'
            | '\x1c'
            | '\x1d'
            | '\x1e'
            | '\u{85}'
            | '\u{2028}'
            | '\u{2029}'
    )
}

fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(is_line_break) {
            Some(at) => {
                out.push(&rest[..at]);
                let skip = if rest[at..].starts_with("\r\n") {
                    2
                } else {
                    rest[at..].chars().next().map_or(1, char::len_utf8)
                };
                rest = &rest[at + skip..];
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    out
}

fn parse_line(line: &str) -> Result<Parsed<'_>, String> {
    // iniconfig treats a line whose first non-blank character is `#` or `;` (and an empty
    // line) as blank, wherever it is, also inside a multi-line value.
    let stripped = line.trim_start();
    if stripped.is_empty() || stripped.starts_with(COMMENT_CHARS) {
        return Ok(Parsed::Blank);
    }
    let line = line.trim_end();
    if line.starts_with('[') {
        let mut head = line;
        for c in COMMENT_CHARS {
            head = head.split(c).next().unwrap_or("").trim_end();
        }
        if let Some(name) = head.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return Ok(Parsed::Section(name));
        }
        // Not a section header after all: iniconfig reads it as a continuation line.
        return Ok(Parsed::Continuation(line.trim()));
    }
    if line.starts_with(char::is_whitespace) {
        return Ok(Parsed::Continuation(line.trim()));
    }
    let (name, value) = match line.split_once('=') {
        Some((name, value)) if !name.contains(':') => (name, value),
        _ => line
            .split_once(':')
            .ok_or_else(|| format!("unexpected line: '{line}'"))?,
    };
    Ok(Parsed::Value(name.trim(), value.trim()))
}

/// Parses `text` as iniconfig does (a UTF-8 byte order mark is dropped).
pub(crate) fn parse(text: &str) -> Result<Ini, IniError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut ini = Ini::default();
    let mut section: Option<String> = None;
    // The value being read: its section, name and lines so far.
    let mut open: Option<(String, String, Vec<String>)> = None;
    let mut seen_names: HashMap<String, Vec<String>> = HashMap::new();
    let close = |ini: &mut Ini, open: &mut Option<(String, String, Vec<String>)>| {
        if let Some((section, name, parts)) = open.take() {
            if let Some(s) = ini.sections.get_mut(&section) {
                s.entries.push((name, parts.join("\n")));
            }
        }
    };
    for (index, raw) in lines(text).into_iter().enumerate() {
        let fail = |message: String| IniError {
            line: index + 1,
            message,
        };
        match parse_line(raw).map_err(fail)? {
            Parsed::Blank => {}
            Parsed::Section(name) => {
                close(&mut ini, &mut open);
                if name.is_empty() {
                    return Err(fail("empty section name".into()));
                }
                if ini.sections.contains_key(name) {
                    return Err(fail(format!("duplicate section '{name}'")));
                }
                ini.sections.insert(name.to_owned(), Section::default());
                section = Some(name.to_owned());
            }
            Parsed::Value(name, value) => {
                close(&mut ini, &mut open);
                let Some(current) = &section else {
                    return Err(fail("no section header defined".into()));
                };
                let names = seen_names.entry(current.clone()).or_default();
                if names.iter().any(|n| n == name) {
                    return Err(fail(format!("duplicate name '{name}'")));
                }
                names.push(name.to_owned());
                let parts = if value.is_empty() {
                    Vec::new()
                } else {
                    vec![value.to_owned()]
                };
                open = Some((current.clone(), name.to_owned(), parts));
            }
            Parsed::Continuation(text) => match &mut open {
                Some((_, _, parts)) => parts.push(text.to_owned()),
                None => return Err(fail("unexpected value continuation".into())),
            },
        }
    }
    close(&mut ini, &mut open);
    Ok(ini)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section<'a>(ini: &'a Ini, name: &str) -> Vec<(&'a str, &'a str)> {
        ini.sections[name]
            .entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn values_continue_on_indented_lines_without_blank_or_comment_lines() {
        let ini = parse(
            "[pytest]\naddopts = -q\n  -x\n\n    # not part of it\n  --tb=short\nmarkers =\n    slow: slow tests\n    db\ntestpaths=tests\n",
        )
        .unwrap();
        assert_eq!(
            section(&ini, "pytest"),
            [
                ("addopts", "-q\n-x\n--tb=short"),
                ("markers", "slow: slow tests\ndb"),
                ("testpaths", "tests"),
            ]
        );
    }

    #[test]
    fn comments_are_whole_lines_only_and_colon_separates_too() {
        let ini = parse(
            "; top\n[pytest] # a comment\n# x = 1\nkey: value ; kept\nother = a:b\nodd:x = y\n",
        )
        .unwrap();
        assert_eq!(
            section(&ini, "pytest"),
            [("key", "value ; kept"), ("other", "a:b"), ("odd", "x = y")]
        );
    }

    #[test]
    fn sections_keep_their_exact_names() {
        let ini = parse("[tool:pytest]\na = 1\n[ pytest ]\nb = 2\r\n[x]\r\n").unwrap();
        assert_eq!(section(&ini, "tool:pytest"), [("a", "1")]);
        assert_eq!(section(&ini, " pytest "), [("b", "2")]);
        assert!(section(&ini, "x").is_empty());
    }

    #[test]
    fn a_bracket_line_that_is_not_a_header_continues_the_value() {
        let ini = parse("[pytest]\nmarkers =\n    a\n[not a header\n").unwrap();
        assert_eq!(section(&ini, "pytest"), [("markers", "a\n[not a header")]);
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line, message) in [
            ("a = 1\n", 1, "no section header defined"),
            ("[s]\n\nnot a pair\n", 3, "unexpected line: 'not a pair'"),
            ("[s]\na = 1\na = 2\n", 3, "duplicate name 'a'"),
            ("[s]\n[s]\n", 2, "duplicate section 's'"),
            ("[]\n", 1, "empty section name"),
            ("[s]\n  orphan\n", 2, "unexpected value continuation"),
        ] {
            assert_eq!(
                parse(text).unwrap_err(),
                IniError {
                    line,
                    message: message.into()
                },
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        let ini = parse("\u{feff}[pytest]\na = 1\n").unwrap();
        assert_eq!(section(&ini, "pytest"), [("a", "1")]);
    }
}
