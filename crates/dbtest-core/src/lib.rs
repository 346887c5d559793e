//! The dbtest model: what a test is, how it ended, what a run reports, and the
//! configuration users write. Nothing here knows about Python or about how tests run.

pub mod config;
pub mod coverage;
pub mod error;
pub mod model;
pub mod pytest_config;
pub mod state;
pub mod suggest;

pub use config::{
    BenchConfig, CaptureMode, ColorChoice, DebugSettings, Overlap, OverlapMode, Project, TbStyle,
    UnitConfig,
};
pub use error::{internal_message, Error, Result};
pub use model::{
    exit_code, exit_code_with, test_id, CollectedCase, Event, ExitCode, Outcome, RawOutcome,
    RawResult, Report, Summary, TeardownError, TestCase, TestResult, Xfail, REPORT_SCHEMA,
};
