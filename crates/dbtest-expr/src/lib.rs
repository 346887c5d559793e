//! What every dbtest expression language shares (tag expressions for `-t`, pytest's `-k`,
//! an experiment's `success`): the boolean core (`or`, `and`, `not`, parentheses, in that
//! precedence, chains kept flat) and the limits on how long and how deeply nested an
//! expression may be. Each language brings its own tokens, atoms and messages through
//! [`Language`]; [`parse`] is the one place that reads the connectives.
//!
//! Parsers and evaluators recurse on nesting, so an expression from a file or a flag that
//! nests without bound would overflow the stack and kill the process (a `success` nested
//! 50,000 deep did, with exit 139); within these limits no expression a person writes is
//! refused, and every refusal says which limit and where.

use std::fmt;

/// The longest expression, in characters.
pub const MAX_LEN: usize = 10_000;
/// The deepest nesting of parentheses and `not`.
pub const MAX_DEPTH: usize = 100;

/// An expression beyond a limit: the message for a usage error (exit 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitError {
    TooLong { len: usize },
    TooDeep { column: usize },
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitError::TooLong { len } => write!(
                f,
                "the expression is {len} characters long, more than the {MAX_LEN} allowed; \
                 split it, or name a tag for the group of tests it selects"
            ),
            // Each language says where, its own way (`at column N`, `column N:`).
            LimitError::TooDeep { .. } => write!(
                f,
                "the expression nests deeper than {MAX_DEPTH} levels of parentheses or `not`; \
                 write it flatter"
            ),
        }
    }
}

impl std::error::Error for LimitError {}

/// Refuses an expression longer than [`MAX_LEN`] characters, before it is read.
pub fn check_len(source: &str) -> Result<(), LimitError> {
    let len = source.chars().count();
    if len > MAX_LEN {
        return Err(LimitError::TooLong { len });
    }
    Ok(())
}

/// The nesting a recursive-descent parser is in: `enter` before it recurses into
/// parentheses or `not`, `leave` after.
#[derive(Debug, Default)]
pub struct Depth(usize);

impl Depth {
    pub fn enter(&mut self, column: usize) -> Result<(), LimitError> {
        if self.0 >= MAX_DEPTH {
            return Err(LimitError::TooDeep { column });
        }
        self.0 += 1;
        Ok(())
    }

    pub fn leave(&mut self) {
        self.0 = self.0.saturating_sub(1);
    }
}

/// A boolean expression over a language's atoms. `a and b and c` is one `All`: chains never
/// nest, so a long chain cannot overflow the stack either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bool<A> {
    Atom(A),
    Not(Box<Bool<A>>),
    All(Vec<Bool<A>>),
    Any(Vec<Bool<A>>),
}

impl<A> Bool<A> {
    /// Whether the expression holds, given what each atom is; `and` and `or` stop at the
    /// first atom that decides them, as Python's do.
    pub fn holds(&self, atom: &mut impl FnMut(&A) -> bool) -> bool {
        match self {
            Bool::Atom(a) => atom(a),
            Bool::Not(inner) => !inner.holds(atom),
            Bool::All(all) => all.iter().all(|b| b.holds(atom)),
            Bool::Any(any) => any.iter().any(|b| b.holds(atom)),
        }
    }

    /// [`Bool::holds`] for atoms that can fail to evaluate; the first failure is returned.
    pub fn try_holds<E>(&self, atom: &mut impl FnMut(&A) -> Result<bool, E>) -> Result<bool, E> {
        Ok(match self {
            Bool::Atom(a) => atom(a)?,
            Bool::Not(inner) => !inner.try_holds(atom)?,
            Bool::All(all) => {
                for b in all {
                    if !b.try_holds(atom)? {
                        return Ok(false);
                    }
                }
                true
            }
            Bool::Any(any) => {
                for b in any {
                    if b.try_holds(atom)? {
                        return Ok(true);
                    }
                }
                false
            }
        })
    }
}

/// What the boolean core needs to know of a language's next token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connective {
    And,
    Or,
    Not,
    /// A `(` that groups booleans. A language whose atoms take parentheses themselves (an
    /// experiment's `(a or b) == x`) reports `(` as [`Connective::Other`] and calls
    /// [`parse`] from its atom.
    Open,
    Close,
    /// Anything else: an atom's start, or a token the language's messages explain.
    Other,
}

impl Connective {
    /// The word as written, for messages such as "expected a tag after `and`".
    pub fn word(self) -> &'static str {
        match self {
            Connective::And => "and",
            Connective::Or => "or",
            Connective::Not => "not",
            Connective::Open => "(",
            Connective::Close => ")",
            Connective::Other => "",
        }
    }
}

/// A language's tokens as the boolean core reads them.
pub trait Language {
    type Atom;
    type Error;
    /// The next token, not consumed.
    fn peek(&self) -> Connective;
    /// Consumes the next token.
    fn bump(&mut self);
    /// Reads an atom at the next token. `after` is the connective just read (`None` at the
    /// start), so that a missing operand can be reported as the language words it.
    fn atom(&mut self, after: Option<Connective>) -> Result<Self::Atom, Self::Error>;
    /// The `)` closing the group opened at `open` (the language's column) is missing: the
    /// next token is not [`Connective::Close`].
    fn unclosed(&self, open: usize) -> Self::Error;
    /// The next token's column, as the language counts columns.
    fn column(&self) -> usize;
    /// The nesting is beyond [`MAX_DEPTH`] at the next token.
    fn too_deep(&self, limit: LimitError) -> Self::Error;
    /// The nesting the parse is in; shared with the language's own recursion.
    fn depth(&mut self) -> &mut Depth;
}

/// Reads `or`-expressions: `and`-chains joined by `or`, of `not`-expressions, of atoms or
/// parenthesised groups. Stops at the first token that continues none of them (the caller
/// checks that it is the end).
pub fn parse<L: Language>(lang: &mut L) -> Result<Bool<L::Atom>, L::Error> {
    parse_after(lang, None)
}

fn parse_after<L: Language>(
    lang: &mut L,
    after: Option<Connective>,
) -> Result<Bool<L::Atom>, L::Error> {
    let mut any = vec![and_chain(lang, after)?];
    while lang.peek() == Connective::Or {
        lang.bump();
        any.push(and_chain(lang, Some(Connective::Or))?);
    }
    Ok(flat(any, Bool::Any))
}

fn and_chain<L: Language>(
    lang: &mut L,
    after: Option<Connective>,
) -> Result<Bool<L::Atom>, L::Error> {
    let mut all = vec![negation(lang, after)?];
    while lang.peek() == Connective::And {
        lang.bump();
        all.push(negation(lang, Some(Connective::And))?);
    }
    Ok(flat(all, Bool::All))
}

fn flat<A>(mut items: Vec<Bool<A>>, join: fn(Vec<Bool<A>>) -> Bool<A>) -> Bool<A> {
    if items.len() == 1 {
        items.remove(0)
    } else {
        join(items)
    }
}

fn negation<L: Language>(
    lang: &mut L,
    after: Option<Connective>,
) -> Result<Bool<L::Atom>, L::Error> {
    match lang.peek() {
        Connective::Not => {
            descend(lang)?;
            lang.bump();
            let inner = negation(lang, Some(Connective::Not))?;
            lang.depth().leave();
            Ok(Bool::Not(Box::new(inner)))
        }
        Connective::Open => {
            let open = lang.column();
            descend(lang)?;
            lang.bump();
            let inner = parse_after(lang, Some(Connective::Open))?;
            lang.depth().leave();
            if lang.peek() != Connective::Close {
                return Err(lang.unclosed(open));
            }
            lang.bump();
            Ok(inner)
        }
        _ => lang.atom(after).map(Bool::Atom),
    }
}

/// Enters one level of nesting at the next token, or refuses it.
pub fn descend<L: Language>(lang: &mut L) -> Result<(), L::Error> {
    let column = lang.column();
    lang.depth()
        .enter(column)
        .map_err(|limit| lang.too_deep(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_are_reached_and_not_before() {
        assert!(check_len(&"a".repeat(MAX_LEN)).is_ok());
        let err = check_len(&"é".repeat(MAX_LEN + 1)).unwrap_err();
        assert_eq!(err, LimitError::TooLong { len: MAX_LEN + 1 });
        let mut depth = Depth::default();
        for _ in 0..MAX_DEPTH {
            depth.enter(1).unwrap();
        }
        assert_eq!(depth.enter(7), Err(LimitError::TooDeep { column: 7 }));
        depth.leave();
        assert!(depth.enter(1).is_ok());
    }

    #[test]
    fn the_messages_say_which_limit_and_what_to_do() {
        let deep = LimitError::TooDeep { column: 3 }.to_string();
        assert!(
            deep.contains("100 levels") && deep.contains("flatter"),
            "{deep}"
        );
        let long = LimitError::TooLong { len: 12_000 }.to_string();
        assert!(long.contains("12000 characters"), "{long}");
    }

    /// A toy language: single letters are atoms, `&`, `|`, `!`, `(`, `)` the connectives.
    struct Toy {
        chars: Vec<char>,
        at: usize,
        depth: Depth,
    }

    fn toy(src: &str) -> Result<Bool<char>, String> {
        let mut lang = Toy {
            chars: src.chars().collect(),
            at: 0,
            depth: Depth::default(),
        };
        let parsed = parse(&mut lang)?;
        if lang.at < lang.chars.len() {
            return Err(format!("trailing {} at {}", lang.chars[lang.at], lang.at));
        }
        Ok(parsed)
    }

    impl Language for Toy {
        type Atom = char;
        type Error = String;
        fn peek(&self) -> Connective {
            match self.chars.get(self.at) {
                Some('&') => Connective::And,
                Some('|') => Connective::Or,
                Some('!') => Connective::Not,
                Some('(') => Connective::Open,
                Some(')') => Connective::Close,
                _ => Connective::Other,
            }
        }
        fn bump(&mut self) {
            self.at += 1;
        }
        fn atom(&mut self, after: Option<Connective>) -> Result<char, String> {
            match self.chars.get(self.at) {
                Some(c) if c.is_ascii_lowercase() => {
                    self.at += 1;
                    Ok(*c)
                }
                _ => Err(format!(
                    "expected a letter after {:?} at {}",
                    after.map(Connective::word),
                    self.at
                )),
            }
        }
        fn unclosed(&self, open: usize) -> String {
            format!("unclosed ( from {open}")
        }
        fn column(&self) -> usize {
            self.at
        }
        fn too_deep(&self, limit: LimitError) -> String {
            format!("{limit} at {}", self.at)
        }
        fn depth(&mut self) -> &mut Depth {
            &mut self.depth
        }
    }

    #[test]
    fn precedence_is_not_then_and_then_or_and_chains_stay_flat() {
        use Bool::{All, Any, Atom, Not};
        assert_eq!(
            toy("a|b&!c|d").unwrap(),
            Any(vec![
                Atom('a'),
                All(vec![Atom('b'), Not(Box::new(Atom('c')))]),
                Atom('d')
            ])
        );
        assert_eq!(
            toy("(a|b)&c").unwrap(),
            All(vec![Any(vec![Atom('a'), Atom('b')]), Atom('c')])
        );
        let long_chain = toy(&format!("{}a", "a&".repeat(5000))).unwrap();
        assert!(long_chain.holds(&mut |_| true));
    }

    #[test]
    fn the_language_words_the_errors() {
        assert_eq!(
            toy("a&").unwrap_err(),
            "expected a letter after Some(\"and\") at 2"
        );
        assert_eq!(toy("").unwrap_err(), "expected a letter after None at 0");
        assert_eq!(toy("(a|b").unwrap_err(), "unclosed ( from 0");
        assert_eq!(toy("a)").unwrap_err(), "trailing ) at 1");
        let deep = toy(&format!("{}a", "!".repeat(MAX_DEPTH + 1))).unwrap_err();
        assert!(deep.ends_with(&format!("at {MAX_DEPTH}")), "{deep}");
        assert!(toy(&format!("{}a", "!".repeat(MAX_DEPTH))).is_ok());
        let parens = format!("{}a{}", "(".repeat(50_000), ")".repeat(50_000));
        assert!(toy(&parens).unwrap_err().contains("100 levels"));
    }

    #[test]
    fn evaluation_short_circuits() {
        let expr = toy("a|b&c").unwrap();
        let mut seen = Vec::new();
        assert!(expr.holds(&mut |c| {
            seen.push(*c);
            *c == 'a'
        }));
        assert_eq!(seen, vec!['a']);
        let failing = toy("!a&b").unwrap();
        assert_eq!(
            failing.try_holds(&mut |c| if *c == 'a' { Ok(false) } else { Err(*c) }),
            Err('b')
        );
    }
}
