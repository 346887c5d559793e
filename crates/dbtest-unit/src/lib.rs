//! `dbtest unit` (DESIGN §4), in pure Rust: the plan made before anything is imported, and
//! the run over any [`dbtest_runner::Engine`] (Python's, in dbtest-py) or worker processes,
//! ending with its reports, its recorded state and its exit code.

pub mod command;
pub mod plan;
pub mod static_first;
pub mod worker;

pub use command::{execute, execute_without_driver, merge_reports, CoverageFinish, Executor};
pub use plan::{prepare, run_options, selected, worker_spec, Prepared, WorkerSetup};
