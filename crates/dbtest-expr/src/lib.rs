//! What every dbtest expression language shares (tag expressions for `-t`, pytest's `-k`
//! and `-m`, an experiment's `success`): the limits on how long and how deeply nested an
//! expression may be. Parsers and evaluators recurse on nesting, so an expression from a
//! file or a flag that nests without bound would overflow the stack and kill the process
//! (a `success` nested 50,000 deep did, with exit 139); within these limits no expression a
//! person writes is refused, and every refusal says which limit and where.

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
}
