//! Tag expressions for `-t/--tags`: `db and not (slow or flaky)`.
//!
//! Grammar (keywords are lowercase and case-sensitive):
//!
//! ```text
//! or-expr  := and-expr ("or" and-expr)*
//! and-expr := not-expr ("and" not-expr)*
//! not-expr := "not" not-expr | atom
//! atom     := TAG | "(" or-expr ")"
//! TAG      := one or more of [A-Za-z0-9_.:-], other than a keyword
//! ```

use std::fmt;
use std::str::FromStr;

use dbtest_expr::{Bool, Connective, Depth, Language, LimitError};

const EXAMPLE: &str = "-t \"db and not slow\"";

/// A parsed tag expression. A tag is true when the test carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagExpr {
    source: String,
    node: Bool<String>,
}

/// A tag expression that does not parse. `column` is 0-based and counts
/// characters, so a caret can be printed under the culprit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed tag expression \"{expr}\": {message} at column {column}; example: {EXAMPLE}")]
pub struct TagExprError {
    pub expr: String,
    pub column: usize,
    pub message: String,
}

impl TagExpr {
    pub fn parse(expr: &str) -> Result<TagExpr, TagExprError> {
        let fail = |column: usize, message: String| TagExprError {
            expr: expr.to_owned(),
            column,
            message,
        };
        dbtest_expr::check_len(expr).map_err(|e| fail(0, e.to_string()))?;
        let tokens = tokenize(expr).map_err(|(column, message)| fail(column, message))?;
        let mut parser = Parser {
            tokens: &tokens,
            pos: 0,
            depth: Depth::default(),
        };
        let node =
            dbtest_expr::parse(&mut parser).map_err(|(column, message)| fail(column, message))?;
        let next = parser.next();
        match &next.kind {
            Kind::End => Ok(TagExpr {
                source: expr.to_owned(),
                node,
            }),
            Kind::RParen => Err(fail(
                next.column,
                "unexpected \")\" with no matching \"(\"".to_owned(),
            )),
            _ => Err(fail(
                next.column,
                format!(
                    "expected \"and\", \"or\" or the end, found {}{}",
                    next.kind.describe(),
                    keyword_case_hint(&next.kind)
                ),
            )),
        }
    }

    /// True when the test's `tags` satisfy the expression.
    pub fn eval(&self, tags: &[String]) -> bool {
        self.node.holds(&mut |tag| tags.iter().any(|t| t == tag))
    }

    /// The expression as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl FromStr for TagExpr {
    type Err = TagExprError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        TagExpr::parse(expr)
    }
}

impl fmt::Display for TagExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Tag(String),
    And,
    Or,
    Not,
    LParen,
    RParen,
    End,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Tag(tag) => format!("\"{tag}\""),
            Kind::And => "\"and\"".to_owned(),
            Kind::Or => "\"or\"".to_owned(),
            Kind::Not => "\"not\"".to_owned(),
            Kind::LParen => "\"(\"".to_owned(),
            Kind::RParen => "\")\"".to_owned(),
            Kind::End => "the end".to_owned(),
        }
    }
}

#[derive(Debug)]
struct Token {
    kind: Kind,
    column: usize,
}

type ParseError = (usize, String);

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')
}

fn tokenize(expr: &str) -> Result<Vec<Token>, ParseError> {
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let kind = match c {
            '(' => Kind::LParen,
            ')' => Kind::RParen,
            c if is_tag_char(c) => {
                let start = i;
                while i < chars.len() && is_tag_char(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(Token {
                    kind: match word.as_str() {
                        "and" => Kind::And,
                        "or" => Kind::Or,
                        "not" => Kind::Not,
                        _ => Kind::Tag(word),
                    },
                    column,
                });
                continue;
            }
            other => return Err((column, unexpected_char(other))),
        };
        tokens.push(Token { kind, column });
        i += 1;
    }
    tokens.push(Token {
        kind: Kind::End,
        column: chars.len(),
    });
    Ok(tokens)
}

fn unexpected_char(c: char) -> String {
    let hint = match c {
        '!' | '~' => "; write \"not\"",
        '&' => "; write \"and\"",
        '|' => "; write \"or\"",
        ',' => "; combine tags with \"and\" or \"or\"",
        '"' | '\'' => "; tags are written without quotes",
        _ => "; tags are made of letters, digits and _ . : -",
    };
    format!("unexpected character \"{c}\"{hint}")
}

/// `DB AND SLOW` is a likely slip; say why "AND" was taken as a tag.
fn keyword_case_hint(kind: &Kind) -> &'static str {
    match kind {
        Kind::Tag(word)
            if ["and", "or", "not"]
                .iter()
                .any(|k| word.eq_ignore_ascii_case(k)) =>
        {
            " (keywords are lowercase: and, or, not)"
        }
        _ => "",
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    depth: Depth,
}

impl Parser<'_> {
    fn next(&self) -> &Token {
        // The token list always ends with `End`, which is never consumed.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }
}

impl Language for Parser<'_> {
    type Atom = String;
    type Error = ParseError;

    fn peek(&self) -> Connective {
        match self.next().kind {
            Kind::And => Connective::And,
            Kind::Or => Connective::Or,
            Kind::Not => Connective::Not,
            Kind::LParen => Connective::Open,
            Kind::RParen => Connective::Close,
            Kind::Tag(_) | Kind::End => Connective::Other,
        }
    }

    fn bump(&mut self) {
        if !matches!(self.next().kind, Kind::End) {
            self.pos += 1;
        }
    }

    fn atom(&mut self, after: Option<Connective>) -> Result<String, ParseError> {
        let token = self.next();
        if let Kind::Tag(tag) = &token.kind {
            let tag = tag.clone();
            self.bump();
            return Ok(tag);
        }
        let mut message = match after {
            Some(word) => format!("expected a tag or \"(\" after \"{}\"", word.word()),
            None if token.kind == Kind::End => {
                "the expression is empty; expected a tag or \"(\"".to_owned()
            }
            None => "expected a tag or \"(\"".to_owned(),
        };
        if token.kind != Kind::End {
            message.push_str(&format!(", found {}", token.kind.describe()));
        }
        Err((token.column, message))
    }

    fn unclosed(&self, open: usize) -> ParseError {
        let close = self.next();
        match &close.kind {
            Kind::End => (
                close.column,
                format!("expected \")\" to close the \"(\" from column {open}"),
            ),
            other => (
                close.column,
                format!(
                    "expected \"and\", \"or\" or \")\", found {}{}",
                    other.describe(),
                    keyword_case_hint(other)
                ),
            ),
        }
    }

    fn column(&self) -> usize {
        self.next().column
    }

    fn too_deep(&self, limit: LimitError) -> ParseError {
        (self.next().column, limit.to_string())
    }

    fn depth(&mut self) -> &mut Depth {
        &mut self.depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    fn eval(expr: &str, list: &[&str]) -> bool {
        TagExpr::parse(expr).unwrap().eval(&tags(list))
    }

    fn error(expr: &str) -> TagExprError {
        TagExpr::parse(expr).unwrap_err()
    }

    #[test]
    fn a_tag_is_true_when_present() {
        assert!(eval("db", &["db", "slow"]));
        assert!(!eval("db", &["slow"]));
        assert!(!eval("db", &[]));
        assert!(eval("py3.12:unit-fast_x", &["py3.12:unit-fast_x"]));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        // a or (b and (not c))
        let expr = "a or b and not c";
        assert!(eval(expr, &["a", "c"]));
        assert!(eval(expr, &["b"]));
        assert!(!eval(expr, &["b", "c"]));
        assert!(!eval(expr, &[]));
        // (not a) and b, not not (a and b)
        assert!(eval("not a and b", &["b"]));
        assert!(!eval("not a and b", &["a", "b"]));
        assert!(eval("not not a", &["a"]));
    }

    #[test]
    fn parentheses_override_precedence() {
        let expr = "db and not (slow or flaky)";
        assert!(eval(expr, &["db"]));
        assert!(!eval(expr, &["db", "slow"]));
        assert!(!eval(expr, &["db", "flaky"]));
        assert!(!eval(expr, &["slow"]));
        assert!(eval("(a or b) and c", &["b", "c"]));
        assert!(!eval("(a or b) and c", &["a"]));
        assert!(eval("((a))", &["a"]));
        assert!(eval("(a)and(b)", &["a", "b"]));
    }

    #[test]
    fn keywords_are_lowercase_only() {
        // Uppercase words are ordinary tags.
        assert!(eval("NOT", &["NOT"]));
        assert!(eval("android and oracle", &["android", "oracle"]));
        assert!(eval("notify", &["notify"]));
        assert!(eval("and-more", &["and-more"]));
    }

    #[test]
    fn keeps_and_displays_the_source() {
        let expr: TagExpr = " db and not slow ".parse().unwrap();
        assert_eq!(expr.as_str(), " db and not slow ");
        assert_eq!(expr.to_string(), " db and not slow ");
    }

    #[test]
    fn a_missing_operand_is_reported_at_its_column() {
        let e = error("db and");
        assert_eq!(e.column, 6);
        assert_eq!(
            e.to_string(),
            "malformed tag expression \"db and\": expected a tag or \"(\" after \"and\" at column 6; example: -t \"db and not slow\""
        );
        let e = error("db or ) x");
        assert_eq!(
            (e.column, e.message.as_str()),
            (6, "expected a tag or \"(\" after \"or\", found \")\"")
        );
        let e = error("not");
        assert_eq!(
            (e.column, e.message.as_str()),
            (3, "expected a tag or \"(\" after \"not\"")
        );
        let e = error("and db");
        assert_eq!(
            (e.column, e.message.as_str()),
            (0, "expected a tag or \"(\", found \"and\"")
        );
        let e = error("()");
        assert_eq!(
            (e.column, e.message.as_str()),
            (1, "expected a tag or \"(\" after \"(\", found \")\"")
        );
    }

    #[test]
    fn an_empty_expression_is_an_error() {
        for expr in ["", "   "] {
            let e = error(expr);
            assert_eq!(e.column, expr.len());
            assert!(e.message.contains("empty"), "{e}");
        }
    }

    #[test]
    fn unbalanced_parentheses_are_errors() {
        let e = error("db and (slow or flaky");
        assert_eq!(e.column, 21);
        assert_eq!(e.message, "expected \")\" to close the \"(\" from column 7");
        let e = error("db)");
        assert_eq!(
            (e.column, e.message.as_str()),
            (2, "unexpected \")\" with no matching \"(\"")
        );
        let e = error("(a b)");
        assert_eq!(
            (e.column, e.message.as_str()),
            (3, "expected \"and\", \"or\" or \")\", found \"b\"")
        );
    }

    #[test]
    fn trailing_tokens_are_errors() {
        let e = error("db slow");
        assert_eq!(
            (e.column, e.message.as_str()),
            (3, "expected \"and\", \"or\" or the end, found \"slow\"")
        );
        let e = error("db not slow");
        assert_eq!(e.column, 3);
        let e = error("db AND slow");
        assert_eq!(e.column, 3);
        assert!(
            e.message
                .ends_with("(keywords are lowercase: and, or, not)"),
            "{e}"
        );
        let e = error("(db)(slow)");
        assert_eq!(e.column, 4);
    }

    #[test]
    fn unknown_characters_are_errors_with_a_hint() {
        let e = error("db && slow");
        assert_eq!(e.column, 3);
        assert_eq!(e.message, "unexpected character \"&\"; write \"and\"");
        assert_eq!(
            error("!slow").message,
            "unexpected character \"!\"; write \"not\""
        );
        assert_eq!(
            error("a | b").message,
            "unexpected character \"|\"; write \"or\""
        );
        assert_eq!(error("a, b").column, 1);
        assert!(error("\"db\"").message.contains("without quotes"));
        // Columns count characters, not bytes.
        let e = error("é and ü");
        assert_eq!(e.column, 0);
        let e = error("db and ü");
        assert_eq!(e.column, 7);
        assert!(e.message.contains("letters, digits"), "{e}");
    }

    #[test]
    fn absurd_nesting_is_refused_without_overflowing() {
        let long = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(error(&long).message.contains("characters long"));
        let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
        assert!(error(&deep).message.contains("nests deeper"));
        let nots = format!("{}a", "not ".repeat(200));
        assert!(error(&nots).message.contains("nests deeper"));
        let fine = format!("{}a{}", "(".repeat(50), ")".repeat(50));
        assert!(eval(&fine, &["a"]));
    }
}
