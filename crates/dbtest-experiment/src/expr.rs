//! The design's `success` expression: a tiny, safe language judged against a sample's result.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | compare
//! compare := value (op value)*          op: < <= > >= == != in "not in"   (chains like Python)
//! value   := "(" expr ")" | literal | name
//! literal := number | -number | 'string' | "string" | true | false | null (True/False/None too)
//! name    := ident ("." (ident | digits))*      looked up in the result; digits index a list
//! ```
//!
//! Nothing else: no calls, no arithmetic, no attribute access on Python objects. Truthiness
//! is Python's (`null`, `false`, `0`, `""`, `[]`, `{}` are false). `in` tests membership of
//! a list, a substring of a string, or a key of a mapping. Ordering compares two numbers or
//! two strings; anything else is an evaluation error, as is a name the result lacks.

use std::cmp::Ordering;
use std::fmt;

use dbtest_expr::{Bool, Connective, Depth, Language, LimitError};
use serde_json::Value;

/// A parse error, with the 1-based column where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

/// Why an expression could not be evaluated against a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    In,
    NotIn,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::In => "in",
            Op::NotIn => "not in",
        })
    }
}

/// A comparison chain `a < b <= c` (each adjacent pair compared, all must hold), or a lone
/// value judged by its truth.
#[derive(Debug, Clone, PartialEq)]
struct Atom {
    first: Operand,
    rest: Vec<(Op, Operand)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(Value),
    Name(Vec<String>),
    /// `(a or b)`: a group may be compared, as in Python.
    Group(Box<Bool<Atom>>),
}

/// A parsed `success` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: String,
    root: Bool<Atom>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Value),
    Str(String),
    Ident(String),
    Dot,
    LParen,
    RParen,
    Op(Op),
    Minus,
    End,
}

struct Lexer<'a> {
    chars: Vec<(usize, char)>,
    pos: usize,
    src: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            chars: src.char_indices().collect(),
            pos: 0,
            src,
        }
    }

    /// 1-based column (in characters) of the character at `pos`.
    fn column(&self, pos: usize) -> usize {
        pos + 1
    }

    fn err(&self, pos: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            column: self.column(pos),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    /// All tokens with the column each starts at.
    fn tokens(mut self) -> Result<Vec<(Tok, usize)>, ParseError> {
        let mut out = Vec::new();
        // After a `.` a run of digits is a list index, not a number.
        let mut after_dot = false;
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += 1;
                continue;
            }
            let tok = if after_dot && c.is_ascii_digit() {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                Tok::Ident(self.slice(start, self.pos))
            } else if c.is_ascii_digit() {
                self.number(start)?
            } else if c.is_alphabetic() || c == '_' {
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.pos += 1;
                }
                Tok::Ident(self.slice(start, self.pos))
            } else if c == '\'' || c == '"' {
                self.string(start, c)?
            } else {
                self.pos += 1;
                let next = self.peek();
                let (tok, wide) = match (c, next) {
                    ('<', Some('=')) => (Tok::Op(Op::Le), true),
                    ('>', Some('=')) => (Tok::Op(Op::Ge), true),
                    ('=', Some('=')) => (Tok::Op(Op::Eq), true),
                    ('!', Some('=')) => (Tok::Op(Op::Ne), true),
                    ('<', _) => (Tok::Op(Op::Lt), false),
                    ('>', _) => (Tok::Op(Op::Gt), false),
                    ('(', _) => (Tok::LParen, false),
                    (')', _) => (Tok::RParen, false),
                    ('.', _) => (Tok::Dot, false),
                    ('-', _) => (Tok::Minus, false),
                    ('=', _) => {
                        return Err(self.err(start, "`=` is not allowed; compare with `==`"))
                    }
                    ('&' | '|', _) => {
                        return Err(
                            self.err(start, format!("`{c}` is not allowed; use `and` / `or`"))
                        )
                    }
                    ('!', _) => return Err(self.err(start, "`!` is not allowed; use `not`")),
                    _ => return Err(self.err(start, format!("unexpected character `{c}`"))),
                };
                if wide {
                    self.pos += 1;
                }
                tok
            };
            after_dot = tok == Tok::Dot;
            out.push((tok, self.column(start)));
        }
        out.push((Tok::End, self.column(self.chars.len())));
        Ok(out)
    }

    fn slice(&self, start: usize, end: usize) -> String {
        let from = self.chars[start].0;
        let to = self.chars.get(end).map_or(self.src.len(), |&(i, _)| i);
        self.src[from..to].to_string()
    }

    fn number(&mut self, start: usize) -> Result<Tok, ParseError> {
        let mut float = false;
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || c == '_' {
                self.pos += 1;
            } else if c == '.' && !float {
                // `1.` followed by a digit is a float; `x.0` never reaches here.
                float = true;
                self.pos += 1;
            } else if (c == 'e' || c == 'E') && self.pos > start {
                float = true;
                self.pos += 1;
                if matches!(self.peek(), Some('+') | Some('-')) {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
        let text: String = self.slice(start, self.pos).replace('_', "");
        let value = if float {
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
        } else {
            text.parse::<i64>().ok().map(Value::from)
        };
        value
            .map(Tok::Num)
            .ok_or_else(|| self.err(start, format!("invalid number `{text}`")))
    }

    fn string(&mut self, start: usize, quote: char) -> Result<Tok, ParseError> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err(self.err(start, "unterminated string")),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(Tok::Str(s));
                }
                Some('\\') => {
                    self.pos += 1;
                    let escaped = match self.peek() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('\\') => '\\',
                        Some('\'') => '\'',
                        Some('"') => '"',
                        _ => return Err(self.err(self.pos, "unknown escape in string")),
                    };
                    s.push(escaped);
                    self.pos += 1;
                }
                Some(c) => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: dbtest_expr::Depth,
}

const KEYWORDS: &[&str] = &["and", "or", "not", "in"];

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn column(&self) -> usize {
        self.toks[self.pos].1
    }

    fn bump(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn err(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            column: self.column(),
            message: message.into(),
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            Tok::End => "the end of the expression".into(),
            Tok::Num(v) => format!("the number {v}"),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Dot => "`.`".into(),
            Tok::LParen => "`(`".into(),
            Tok::RParen => "`)`".into(),
            Tok::Op(op) => format!("`{op}`"),
            Tok::Minus => "`-`".into(),
        }
    }

    fn op(&mut self) -> Option<Op> {
        match self.peek() {
            Tok::Op(op) => {
                let op = *op;
                self.bump();
                Some(op)
            }
            Tok::Ident(s) if s == "in" => {
                self.bump();
                Some(Op::In)
            }
            Tok::Ident(s) if s == "not" => {
                let next = self.toks.get(self.pos + 1).map(|t| &t.0);
                if matches!(next, Some(Tok::Ident(s)) if s == "in") {
                    self.bump();
                    self.bump();
                    Some(Op::NotIn)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn value(&mut self) -> Result<Operand, ParseError> {
        match self.peek().clone() {
            Tok::LParen => {
                dbtest_expr::descend(self)?;
                self.bump();
                let inner = dbtest_expr::parse(self)?;
                self.depth.leave();
                if *self.peek() != Tok::RParen {
                    return Err(self.err(format!("expected `)`, found {}", self.describe())));
                }
                self.bump();
                Ok(Operand::Group(Box::new(inner)))
            }
            Tok::Num(v) => {
                self.bump();
                Ok(Operand::Literal(v))
            }
            Tok::Minus => {
                let column = self.column();
                self.bump();
                match self.bump() {
                    Tok::Num(v) => Ok(Operand::Literal(negate(&v))),
                    _ => Err(ParseError {
                        column,
                        message: "`-` must be followed by a number".into(),
                    }),
                }
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Operand::Literal(Value::String(s)))
            }
            Tok::Ident(name) => {
                let literal = match name.as_str() {
                    "true" | "True" => Some(Value::Bool(true)),
                    "false" | "False" => Some(Value::Bool(false)),
                    "null" | "None" => Some(Value::Null),
                    _ => None,
                };
                if let Some(v) = literal {
                    self.bump();
                    return Ok(Operand::Literal(v));
                }
                if KEYWORDS.contains(&name.as_str()) {
                    return Err(self.err(format!("expected a value, found `{name}`")));
                }
                if name.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(self.err(format!("expected a value, found `{name}`")));
                }
                self.bump();
                let mut path = vec![name];
                while *self.peek() == Tok::Dot {
                    self.bump();
                    match self.peek().clone() {
                        Tok::Ident(part) => {
                            self.bump();
                            path.push(part);
                        }
                        _ => {
                            return Err(self.err(format!(
                                "expected a name after `.`, found {}",
                                self.describe()
                            )))
                        }
                    }
                }
                Ok(Operand::Name(path))
            }
            _ => Err(self.err(format!("expected a value, found {}", self.describe()))),
        }
    }
}

impl Language for Parser {
    type Atom = Atom;
    type Error = ParseError;

    fn peek(&self) -> Connective {
        match Parser::peek(self) {
            Tok::Ident(s) if s == "and" => Connective::And,
            Tok::Ident(s) if s == "or" => Connective::Or,
            Tok::Ident(s) if s == "not" => Connective::Not,
            // A `(` opens an operand, which may then be compared: `(a or b) == c`.
            Tok::RParen => Connective::Close,
            _ => Connective::Other,
        }
    }

    fn bump(&mut self) {
        Parser::bump(self);
    }

    fn atom(&mut self, _after: Option<Connective>) -> Result<Atom, ParseError> {
        let first = self.value()?;
        let mut rest = Vec::new();
        while let Some(op) = self.op() {
            rest.push((op, self.value()?));
        }
        Ok(Atom { first, rest })
    }

    fn unclosed(&self, _open: usize) -> ParseError {
        self.err(format!("expected `)`, found {}", self.describe()))
    }

    fn column(&self) -> usize {
        Parser::column(self)
    }

    fn too_deep(&self, limit: LimitError) -> ParseError {
        self.err(limit.to_string())
    }

    fn depth(&mut self) -> &mut Depth {
        &mut self.depth
    }
}

fn negate(v: &Value) -> Value {
    if let Some(i) = v.as_i64() {
        return Value::from(-i);
    }
    v.as_f64()
        .and_then(|f| serde_json::Number::from_f64(-f))
        .map_or(Value::Null, Value::Number)
}

impl Expr {
    /// Parses `source`; the error names the column.
    pub fn parse(source: &str) -> Result<Expr, ParseError> {
        dbtest_expr::check_len(source).map_err(|e| ParseError {
            column: 1,
            message: e.to_string(),
        })?;
        let toks = Lexer::new(source).tokens()?;
        let mut parser = Parser {
            toks,
            pos: 0,
            depth: Depth::default(),
        };
        if *parser.peek() == Tok::End {
            return Err(parser.err("the expression is empty"));
        }
        let root = dbtest_expr::parse(&mut parser)?;
        if *parser.peek() != Tok::End {
            return Err(parser.err(format!(
                "unexpected {}; combine conditions with `and` / `or`",
                parser.describe()
            )));
        }
        Ok(Expr {
            source: source.to_string(),
            root,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `result` satisfies the expression.
    pub fn eval(&self, result: &Value) -> Result<bool, EvalError> {
        holds(&self.root, result)
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn lookup<'v>(path: &[String], result: &'v Value) -> Result<&'v Value, EvalError> {
    let mut current = result;
    for (i, part) in path.iter().enumerate() {
        let here = || path[..i].join(".");
        let next = match current {
            Value::Object(map) => map.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|k| items.get(k)),
            _ => None,
        };
        current = match next {
            Some(v) => v,
            None if i == 0 => {
                let keys = match result {
                    Value::Object(map) if !map.is_empty() => {
                        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
                        format!("its keys: {}", keys.join(", "))
                    }
                    Value::Object(_) => "it is an empty mapping".to_string(),
                    other => format!("it is {}", kind(other)),
                };
                return Err(EvalError(format!("`{part}` is not in the result ({keys})")));
            }
            None => {
                return Err(EvalError(format!(
                    "`{}` has no `{part}` (it is {})",
                    here(),
                    kind(current)
                )))
            }
        };
    }
    Ok(current)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn holds(expr: &Bool<Atom>, result: &Value) -> Result<bool, EvalError> {
    expr.try_holds(&mut |atom| atom_holds(atom, result))
}

fn atom_holds(atom: &Atom, result: &Value) -> Result<bool, EvalError> {
    let mut left = operand(&atom.first, result)?;
    if atom.rest.is_empty() {
        return Ok(truthy(&left));
    }
    for (op, right) in &atom.rest {
        let right = operand(right, result)?;
        if !compare(*op, &left, &right)? {
            return Ok(false);
        }
        left = right;
    }
    Ok(true)
}

fn operand(operand: &Operand, result: &Value) -> Result<Value, EvalError> {
    Ok(match operand {
        Operand::Literal(v) => v.clone(),
        Operand::Name(path) => lookup(path, result)?.clone(),
        Operand::Group(inner) => Value::Bool(holds(inner, result)?),
    })
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

fn compare(op: Op, a: &Value, b: &Value) -> Result<bool, EvalError> {
    let order = || -> Result<Ordering, EvalError> {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                x.partial_cmp(&y)
                    .ok_or_else(|| EvalError(format!("cannot order {x} and {y}")))
            }
            (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
            _ => Err(EvalError(format!(
                "`{op}` needs two numbers or two strings, got {} ({a}) and {} ({b})",
                kind(a),
                kind(b)
            ))),
        }
    };
    Ok(match op {
        Op::Eq => equal(a, b),
        Op::Ne => !equal(a, b),
        Op::Lt => order()? == Ordering::Less,
        Op::Le => order()? != Ordering::Greater,
        Op::Gt => order()? == Ordering::Greater,
        Op::Ge => order()? != Ordering::Less,
        Op::In | Op::NotIn => {
            let found = match b {
                Value::Array(items) => items.iter().any(|x| equal(x, a)),
                Value::String(s) => match a {
                    Value::String(needle) => s.contains(needle.as_str()),
                    _ => {
                        return Err(EvalError(format!(
                            "`{op}` a string needs a string on the left, got {}",
                            kind(a)
                        )))
                    }
                },
                Value::Object(map) => match a {
                    Value::String(key) => map.contains_key(key),
                    _ => false,
                },
                _ => {
                    return Err(EvalError(format!(
                        "`{op}` needs a list, a string or a mapping on the right, got {}",
                        kind(b)
                    )))
                }
            };
            found == (op == Op::In)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(src: &str, v: &Value) -> bool {
        Expr::parse(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .eval(v)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn the_design_example() {
        let e = Expr::parse("valid_json and latency_ms < 800").unwrap();
        assert!(e
            .eval(&json!({"valid_json": true, "latency_ms": 310}))
            .unwrap());
        assert!(!e
            .eval(&json!({"valid_json": true, "latency_ms": 900}))
            .unwrap());
        assert!(!e
            .eval(&json!({"valid_json": false, "latency_ms": 1}))
            .unwrap());
    }

    #[test]
    fn precedence_and_parentheses() {
        let v = json!({"a": true, "b": false, "c": true});
        assert!(check("a or b and c", &v)); // and binds tighter
        assert!(!check("(a or b) and not c", &v));
        assert!(check("not b and c", &v));
        assert!(!check("not (a and c)", &v));
        assert!(check("not not a", &v));
    }

    #[test]
    fn comparisons_literals_and_chains() {
        let v = json!({"n": 5, "x": 2.5, "s": "ok", "none": null, "flag": false});
        for src in [
            "n == 5",
            "n == 5.0",
            "n != 4",
            "n >= 5",
            "n <= 5",
            "x > 2",
            "-1 < x",
            "0 < x < 3",
            "1 <= n <= 5 < 6",
            "s == 'ok'",
            "s == \"ok\"",
            "s < 'p'",
            "none == null",
            "none == None",
            "flag == false",
            "flag == False",
            "1e3 > n",
            "1_000 > n",
        ] {
            assert!(check(src, &v), "{src}");
        }
        assert!(!check("0 < x < 2", &v));
    }

    #[test]
    fn membership_and_dotted_names() {
        let v = json!({
            "tags": ["a", "b"],
            "text": "hello world",
            "meta": {"model": "small", "scores": [0.1, 0.9]},
        });
        for src in [
            "'a' in tags",
            "'z' not in tags",
            "'world' in text",
            "'model' in meta",
            "meta.model == 'small'",
            "meta.model in ['small']",
            "meta.scores.1 > 0.5",
        ] {
            if src.contains('[') {
                // List literals are not part of the language.
                assert!(Expr::parse(src).is_err());
                continue;
            }
            assert!(check(src, &v), "{src}");
        }
    }

    #[test]
    fn truthiness_is_pythons() {
        let v = json!({"z": 0, "e": "", "l": [], "m": {}, "n": null, "one": 1, "s": "x"});
        for name in ["z", "e", "l", "m", "n"] {
            assert!(!check(name, &v), "{name}");
        }
        assert!(check("one and s", &v));
    }

    #[test]
    fn parse_errors_name_the_column() {
        for (src, column, needle) in [
            ("valid_json and", 15, "expected a value"),
            ("a = 1", 3, "`==`"),
            ("a && b", 3, "`and`"),
            ("(a or b", 8, "expected `)`"),
            ("a b", 3, "unexpected `b`"),
            ("", 1, "empty"),
            ("x < 'abc", 5, "unterminated"),
            ("__import__('os').system('x')", 11, "unexpected `(`"),
            ("a.", 3, "after `.`"),
            ("a < - b", 5, "followed by a number"),
            ("a ! b", 3, "`not`"),
        ] {
            let err = Expr::parse(src).unwrap_err();
            assert_eq!(err.column, column, "{src}: {err}");
            assert!(err.message.contains(needle), "{src}: {err}");
        }
    }

    #[test]
    fn eval_errors_say_what_is_missing() {
        let e = Expr::parse("latency_ms < 800").unwrap();
        let err = e.eval(&json!({"valid": true})).unwrap_err();
        assert!(
            err.0
                .contains("`latency_ms` is not in the result (its keys: valid)"),
            "{err}"
        );
        let err = e.eval(&json!({"latency_ms": "fast"})).unwrap_err();
        assert!(err.0.contains("two numbers or two strings"), "{err}");
        let err = Expr::parse("a.b")
            .unwrap()
            .eval(&json!({"a": 1}))
            .unwrap_err();
        assert!(err.0.contains("`a` has no `b`"), "{err}");
        let err = Expr::parse("x").unwrap().eval(&json!(true)).unwrap_err();
        assert!(err.0.contains("it is a bool"), "{err}");
    }

    #[test]
    fn and_or_short_circuit() {
        // The right side is not evaluated (and so cannot fail) once the left decides.
        let v = json!({"ok": false});
        assert!(!check("ok and missing > 1", &v));
        assert!(check("not ok or missing > 1", &v));
    }

    #[test]
    fn hostile_nesting_and_length_are_refused_without_overflowing() {
        // Once a segfault (exit 139): a `success` nested 50,000 deep.
        let deep = format!("{}x{}", "(".repeat(50_000), ")".repeat(50_000));
        let err = Expr::parse(&deep).unwrap_err();
        assert!(err.message.contains("characters long"), "{err}");
        let nested = format!("{}x{}", "(".repeat(150), ")".repeat(150));
        let err = Expr::parse(&nested).unwrap_err();
        assert!(err.message.contains("nests deeper than 100"), "{err}");
        let nots = format!("{}x", "not ".repeat(150));
        assert!(Expr::parse(&nots)
            .unwrap_err()
            .message
            .contains("nests deeper"));
        // A long flat chain nests nothing: it parses and evaluates.
        let chain = vec!["x"; 2000].join(" or ");
        assert!(Expr::parse(&chain)
            .unwrap()
            .eval(&json!({"x": true}))
            .unwrap());
        let within = format!("{}x{}", "(".repeat(90), ")".repeat(90));
        assert!(Expr::parse(&within).is_ok());
    }
}
