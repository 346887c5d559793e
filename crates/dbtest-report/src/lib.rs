//! The renderers of a dbtest run: the terminal reporter, and the JSON, JUnit XML and
//! Markdown files that scripts, CI systems and `$GITHUB_STEP_SUMMARY` read (DESIGN §4).
//! Nothing here knows how tests run; everything renders `dbtest_core` types.

pub mod console;
pub mod github;
pub mod json;
pub mod junit;
pub mod live;
pub mod markdown;
mod text;

pub use console::{color_enabled, Console, ConsoleOptions};
pub use live::LiveLines;
pub use text::write_atomic;

#[cfg(test)]
mod test_support;
