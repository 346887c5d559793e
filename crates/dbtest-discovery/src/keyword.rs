//! pytest's `-k` keyword expressions (`_pytest/mark/expression.py` and `KeywordMatcher` in
//! `_pytest/mark/__init__.py`), for `-k` in a project's pytest `addopts`. Not dbtest's own
//! `-k`, which is a glob on the id.
//!
//! Grammar, as pytest's:
//!
//! ```text
//! expression := expr? EOF
//! expr       := and_expr ("or" and_expr)*
//! and_expr   := not_expr ("and" not_expr)*
//! not_expr   := "not" not_expr | "(" expr ")" | ident
//! ident      := (\w | : | + | - | . | [ | ] | \ | /)+
//! ```
//!
//! An identifier is true when it is a case-insensitive substring of one of the test's names:
//! each folder of its path below the rootdir, its file name, its classes, its name with the
//! parameter id (`test_add[1-2]`), and its marks (dbtest's tags).

use std::fmt;

use dbtest_expr::{Bool, Connective, Depth, Language, LimitError};

/// A parsed keyword expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordExpr {
    source: String,
    /// Identifiers lowercased; `None` for an empty expression, which pytest evaluates to
    /// false.
    node: Option<Bool<String>>,
}

/// An expression pytest would refuse too; `column` is 1-based, as pytest reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("wrong expression passed to -k (pytest's keyword expression, from addopts) \"{expr}\": at column {column}: {message}")]
pub struct KeywordExprError {
    pub expr: String,
    pub column: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    LParen,
    RParen,
    Or,
    And,
    Not,
    Ident(String),
    Eof,
    Equal,
    Str,
    Comma,
}

impl fmt::Display for Kind {
    /// pytest's names for the tokens, used in its messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::LParen => "left parenthesis",
            Kind::RParen => "right parenthesis",
            Kind::Or => "or",
            Kind::And => "and",
            Kind::Not => "not",
            Kind::Ident(_) => "identifier",
            Kind::Eof => "end of input",
            Kind::Equal => "=",
            Kind::Str => "string literal",
            Kind::Comma => ",",
        })
    }
}

struct Token {
    kind: Kind,
    /// 0-based character position.
    pos: usize,
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | ':' | '+' | '-' | '.' | '[' | ']' | '\\' | '/')
}

fn lex(input: &str) -> Result<Vec<Token>, (usize, String)> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        let c = chars[pos];
        let single = match c {
            ' ' | '\t' => {
                pos += 1;
                continue;
            }
            '(' => Some(Kind::LParen),
            ')' => Some(Kind::RParen),
            '=' => Some(Kind::Equal),
            ',' => Some(Kind::Comma),
            _ => None,
        };
        if let Some(kind) = single {
            tokens.push(Token { kind, pos });
            pos += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            let Some(len) = chars[pos + 1..].iter().position(|&x| x == c) else {
                return Err((pos, format!("closing quote \"{c}\" is missing")));
            };
            let body = &chars[pos..pos + len + 2];
            if let Some(backslash) = body.iter().position(|&x| x == '\\') {
                return Err((
                    pos + backslash,
                    "escaping with \"\\\" not supported in marker expression".into(),
                ));
            }
            tokens.push(Token {
                kind: Kind::Str,
                pos,
            });
            pos += len + 2;
            continue;
        }
        let len = chars[pos..]
            .iter()
            .take_while(|&&x| is_ident_char(x))
            .count();
        if len == 0 {
            return Err((pos, format!("unexpected character \"{c}\"")));
        }
        let word: String = chars[pos..pos + len].iter().collect();
        let kind = match word.as_str() {
            "or" => Kind::Or,
            "and" => Kind::And,
            "not" => Kind::Not,
            _ => Kind::Ident(word),
        };
        tokens.push(Token { kind, pos });
        pos += len;
    }
    tokens.push(Token {
        kind: Kind::Eof,
        pos,
    });
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: Depth,
}

type ParseError = (usize, String);

impl Parser {
    fn current(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn reject(&self, expected: &[&str]) -> ParseError {
        let current = self.current();
        (
            current.pos,
            format!("expected {}; got {}", expected.join(" OR "), current.kind),
        )
    }
}

impl Language for Parser {
    type Atom = String;
    type Error = ParseError;

    fn peek(&self) -> Connective {
        match self.current().kind {
            Kind::Or => Connective::Or,
            Kind::And => Connective::And,
            Kind::Not => Connective::Not,
            Kind::LParen => Connective::Open,
            Kind::RParen => Connective::Close,
            _ => Connective::Other,
        }
    }

    fn bump(&mut self) {
        if self.current().kind != Kind::Eof {
            self.at += 1;
        }
    }

    fn atom(&mut self, _after: Option<Connective>) -> Result<String, ParseError> {
        let Kind::Ident(name) = &self.current().kind else {
            return Err(self.reject(&["not", "left parenthesis", "identifier"]));
        };
        let name = name.to_lowercase();
        self.at += 1;
        if self.current().kind == Kind::LParen {
            // pytest parses `name(key=value)` and then refuses it for -k.
            return Err((
                self.current().pos,
                "Keyword expressions do not support call parameters".into(),
            ));
        }
        Ok(name)
    }

    fn unclosed(&self, _open: usize) -> ParseError {
        self.reject(&["right parenthesis"])
    }

    fn column(&self) -> usize {
        self.current().pos + 1
    }

    fn too_deep(&self, limit: LimitError) -> ParseError {
        (self.current().pos, limit.to_string())
    }

    fn depth(&mut self) -> &mut Depth {
        &mut self.depth
    }
}

impl KeywordExpr {
    pub fn parse(expr: &str) -> Result<KeywordExpr, KeywordExprError> {
        let fail = |(pos, message): (usize, String)| KeywordExprError {
            expr: expr.to_owned(),
            column: pos + 1,
            message,
        };
        dbtest_expr::check_len(expr).map_err(|e| fail((0, e.to_string())))?;
        let tokens = lex(expr).map_err(fail)?;
        let mut parser = Parser {
            tokens,
            at: 0,
            depth: Depth::default(),
        };
        let node = if parser.current().kind == Kind::Eof {
            None
        } else {
            let node = dbtest_expr::parse(&mut parser).map_err(fail)?;
            if parser.current().kind != Kind::Eof {
                return Err(fail(parser.reject(&["end of input"])));
            }
            Some(node)
        };
        Ok(KeywordExpr {
            source: expr.to_owned(),
            node,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the test `id` (`path/to/test_mod.py::Class::test_name[p]`) with `tags`
    /// matches.
    pub fn matches(&self, id: &str, tags: &[String]) -> bool {
        let Some(node) = &self.node else {
            return false;
        };
        let names = names(id, tags);
        node.holds(&mut |sub| names.iter().any(|n| n.contains(sub.as_str())))
    }
}

/// The names pytest matches a test's keywords against, lowercased: its folders below the
/// rootdir and file name, its classes, its name with the parameter id, and its marks.
fn names(id: &str, tags: &[String]) -> Vec<String> {
    let (path, rest) = id.split_once("::").unwrap_or((id, ""));
    let mut out: Vec<String> = path.split('/').map(str::to_lowercase).collect();
    if !rest.is_empty() {
        // A parameter id may hold `::` itself; it belongs to the last name.
        let (names, params) = match rest.find('[') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let mut parts: Vec<String> = names.split("::").map(str::to_owned).collect();
        if let Some(last) = parts.last_mut() {
            last.push_str(params);
        }
        out.extend(parts.iter().map(|p| p.to_lowercase()));
    }
    out.extend(tags.iter().map(|t| t.to_lowercase()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The items of a pytest project: tests/sub/test_mod.py holding test_add, test_add_slow
    /// (marked slow), TestCalc::test_mul and TestCalc::test_param[1] / [2] (parametrized).
    fn items() -> Vec<(&'static str, Vec<String>)> {
        vec![
            ("tests/sub/test_mod.py::test_add", tags(&[])),
            ("tests/sub/test_mod.py::test_add_slow", tags(&["slow"])),
            ("tests/sub/test_mod.py::TestCalc::test_mul", tags(&[])),
            (
                "tests/sub/test_mod.py::TestCalc::test_param[1]",
                tags(&["parametrize"]),
            ),
            (
                "tests/sub/test_mod.py::TestCalc::test_param[2]",
                tags(&["parametrize"]),
            ),
        ]
    }

    fn selected(expr: &str) -> Vec<&'static str> {
        let k = KeywordExpr::parse(expr).unwrap();
        items()
            .into_iter()
            .filter(|(id, t)| k.matches(id, t))
            .map(|(id, _)| id.rsplit("::").next().unwrap())
            .collect()
    }

    #[test]
    fn selects_what_pytest_selects() {
        // Each checked with `pytest --co -q -k EXPR` on that project (pytest 9.2).
        let all = [
            "test_add",
            "test_add_slow",
            "test_mul",
            "test_param[1]",
            "test_param[2]",
        ];
        assert_eq!(selected("not slow and add"), ["test_add"]);
        assert_eq!(selected("tests"), all);
        assert_eq!(selected("sub"), all);
        assert_eq!(selected("test_mod"), all);
        assert_eq!(selected("py"), all);
        assert_eq!(
            selected("TestCalc"),
            ["test_mul", "test_param[1]", "test_param[2]"]
        );
        assert_eq!(selected("1"), ["test_param[1]"]);
        assert_eq!(selected("param[1"), ["test_param[1]"]);
        assert_eq!(selected("parametrize"), ["test_param[1]", "test_param[2]"]);
        assert_eq!(selected("ADD"), ["test_add", "test_add_slow"]);
        assert!(selected("True").is_empty());
        assert!(selected("tests/sub").is_empty());
        assert_eq!(
            selected("TestCalc and not mul"),
            ["test_param[1]", "test_param[2]"]
        );
        assert_eq!(
            selected("(mul or slow) and not param"),
            ["test_add_slow", "test_mul"]
        );
        assert_eq!(selected("not not add"), ["test_add", "test_add_slow"]);
    }

    #[test]
    fn an_empty_expression_is_false() {
        assert!(selected("").is_empty());
        assert!(selected("  ").is_empty());
    }

    #[test]
    fn parameter_ids_with_colons_stay_whole() {
        let k = KeywordExpr::parse("b]").unwrap();
        assert!(k.matches("t/test_a.py::test_x[a::b]", &[]));
        let k = KeywordExpr::parse("test_x[a::b]").unwrap();
        assert!(k.matches("t/test_a.py::test_x[a::b]", &[]));
    }

    #[test]
    fn errors_read_as_pytests() {
        for (expr, column, message) in [
            (
                "add and",
                8,
                "expected not OR left parenthesis OR identifier; got end of input",
            ),
            ("(add", 5, "expected right parenthesis; got end of input"),
            ("add sub", 5, "expected end of input; got identifier"),
            ("a & b", 3, "unexpected character \"&\""),
            ("'open", 1, "closing quote \"'\" is missing"),
            (
                "add(x=1)",
                4,
                "Keyword expressions do not support call parameters",
            ),
            (
                "or",
                1,
                "expected not OR left parenthesis OR identifier; got or",
            ),
        ] {
            let e = KeywordExpr::parse(expr).unwrap_err();
            assert_eq!((e.column, e.message.as_str()), (column, message), "{expr}");
            assert!(e.to_string().contains(&format!("\"{expr}\"")), "{e}");
        }
        let deep = format!("{}x{}", "(".repeat(500), ")".repeat(500));
        assert!(KeywordExpr::parse(&deep).is_err());
        let nots = format!("{}x", "not ".repeat(500));
        assert!(KeywordExpr::parse(&nots).is_err());
    }
}
