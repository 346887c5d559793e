//! dbtest's LLM layer (DESIGN §8), in pure Rust: the binding wraps it, the engine calls it.
//!
//! * [`models`] — the `models:` mapping parsed from JSON, then resolved against the
//!   environment (keys only from there, redacted everywhere).
//! * [`transport`] — one HTTP exchange (reqwest on rustls, one pool), request building and
//!   reply parsing.
//! * [`retry`] — what is retried, backoff with full jitter, `Retry-After`, the attempt log.
//! * [`limit`] — a model's smooth rate limit (requests and tokens per minute).
//! * [`cost`] — usage times price, and the check that a cost budget has prices.
//! * [`cache`] — the SQLite reply cache (`off | record | replay`).
//! * [`middleware`] — the hook trait and the built-ins `pii_mask`, `prompt_shield`,
//!   `audit_log`.
//! * [`Llm`] — the facade a run builds once and calls per sample.

pub mod cache;
pub mod call;
pub mod cost;
pub mod limit;
mod llm;
pub mod middleware;
pub mod models;
pub mod retry;
pub mod transport;

pub use call::{CallError, CallInfo, CallNotes, ChatRequest, Message, Reply, Usage};
pub use llm::Llm;
