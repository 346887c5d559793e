//! Experiment artifacts (DESIGN §9), in pure Rust and independent of how a run gathers its
//! data: the [`levels`] of sensitivity, the [`sinks`] a design declares (checked up front and
//! put in dependency order), and the writers that render a [`RunData`] into the run folder,
//! every file written atomically. [`signed::verify_bundle`] checks a signed bundle.
//!
//! dbtest-experiment depends on this crate (to check a design and to run the sinks at the end
//! of a run), so this crate takes its own plain data types rather than the experiment's.

pub mod data;
pub mod html;
pub mod levels;
pub mod signed;
pub mod sinks;
mod tabular;
mod writer;
mod zipped;

pub use data::{Comparison, ConfigSummary, Interval, Latency, RunData, SampleRow, VerdictRow};
pub use levels::{LevelError, SecurityLevel};
pub use signed::{verify_bundle, Problem};
pub use sinks::{check_signing_keys, parse_sinks, Consumes, SinkContext, SinkKind, SinkSpec};
pub use writer::{run_sinks, run_sinks_with, Written, WrittenFile};

/// Why the artifacts of a design are refused, or could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `artifacts` list is wrong: a usage error, reported before any sample runs.
    #[error("{0}")]
    Invalid(String),
    /// A sink cleared below the data's level (no write-down): a usage error, reported before
    /// any sample runs.
    #[error(
        "{sink} is cleared for {clearance}, but the data is {data}: no artifact may be written \
         below the data's level; raise the sink's `security_level` to {data} or higher, or \
         remove it"
    )]
    WriteDown {
        sink: String,
        clearance: SecurityLevel,
        data: SecurityLevel,
    },
    /// A signed sink's key is not in the environment: a usage error, before any sample runs.
    #[error(
        "{sink} signs with the key in the environment variable {key_env}, which is not set (or \
         is empty); set it before the run"
    )]
    MissingKey { sink: String, key_env: String },
    /// Writing an artifact failed (an unwritable folder, a full disk).
    #[error("{sink}: {message}")]
    Write { sink: String, message: String },
}

impl Error {
    /// True for what the user must fix in the design or the environment (exit 4); false for
    /// a failure while writing (exit 3).
    pub fn is_usage(&self) -> bool {
        !matches!(self, Error::Write { .. })
    }
}
