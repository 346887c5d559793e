//! `dbtest experiment` (DESIGN §6), in pure Rust: designs and their configurations, the
//! `success` expression, the sampling scheduler (generic over the engine that runs one
//! sample), the JSON-lines sample log, baselines, the run summary, specs and verdicts; and
//! the commands themselves (`run`, `verify`, `approve`) over the project's folders.

pub mod artifacts;
pub mod compare;
pub mod dataset;
pub mod design;
pub mod expr;
pub mod job;
pub mod models;
pub mod project;
pub mod report;
pub mod run;
pub mod sample;
pub mod schedule;
pub mod shard;
pub mod spec;
pub mod verify;
