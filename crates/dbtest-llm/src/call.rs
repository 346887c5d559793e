//! What a call takes and gives back: the request, the reply, and the ways a call fails.
//!
//! These are the values the engine puts in the sample log, hence `Serialize`; none of
//! them can hold a key (keys live only in [`crate::models::Secret`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::retry::Attempt;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A chat request as the use case makes it: messages and this call's parameters (which
/// override the model's `params`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub params: Map<String, Value>,
}

/// Which sample makes the call: for the cache key (repeated samples stay distinct), the
/// jitter seed and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallInfo {
    pub config_id: String,
    pub sample_index: u64,
    /// The run's seed; mixed with the sample index so each sample's jitter is its own and
    /// the same on a re-run.
    pub seed: u64,
}

/// Token counts as the server reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// What middleware did to a call, for the sample log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallNotes {
    /// Replacements by `pii_mask`, per kind (`email`, `card`, …).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pii_masked: std::collections::BTreeMap<String, u64>,
    /// Denied terms `prompt_shield` found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shield_events: Vec<ShieldEvent>,
    /// Why a middleware's `after_response` refused the reply (an output check): the
    /// sample fails, and what the reply cost still counts, since it was paid for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A denied term found in a message, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShieldEvent {
    pub term: String,
    /// Index of the message in the request.
    pub message: usize,
    /// `abort`, `mask` or `log`.
    pub action: String,
}

/// A model's answer to one call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    pub text: String,
    /// The text parsed as JSON (also from a ```json fenced block), if it parses.
    pub json: Option<Value>,
    pub usage: Usage,
    /// `usage` times the model's price; `None` when the model has no price. A cached
    /// reply carries the cost it had when it was recorded (see `cached`).
    pub cost_usd: Option<f64>,
    /// Duration of the attempt that answered (the model's latency, not the waits between
    /// retries, which are in `attempts`); 0 for a cached reply.
    pub latency_ms: u64,
    pub attempts: Vec<Attempt>,
    /// Served from the cache: nothing was sent and nothing spent.
    pub cached: bool,
    pub notes: CallNotes,
}

/// Why a call gave no reply. Each variant carries the attempts made, for the sample log.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// 401 or 403: the key is wrong for every sample, so the run must stop at once
    /// (exit 4). The message names the environment variable of the key.
    #[error("{message}")]
    Fatal {
        message: String,
        attempts: Vec<Attempt>,
    },
    /// Retries spent on connection errors, timeouts, 408/409/429/5xx: an infrastructure
    /// error of the sample.
    #[error("model `{model}`: gave up after {} attempts: {last}", attempts.len())]
    Exhausted {
        model: String,
        last: String,
        attempts: Vec<Attempt>,
    },
    /// Another 4xx (or an answer that is not a chat completion): not retried.
    #[error("model `{model}`: {message}")]
    Rejected {
        model: String,
        status: Option<u16>,
        message: String,
        attempts: Vec<Attempt>,
    },
    /// Middleware (`prompt_shield`) stopped the call before anything was sent: a failed
    /// sample.
    #[error("{reason}")]
    Aborted { reason: String, notes: CallNotes },
    /// `--cache replay` and the call is not in the cache: an infrastructure error.
    #[error("model `{model}`: not in the cache; run once with --cache record")]
    CacheMiss { model: String },
    /// The cache could not be read or written.
    #[error("LLM cache: {0}")]
    Cache(String),
    /// A model name the run does not define (the engine checks designs first, so this is
    /// a programming error of the caller).
    #[error("unknown model `{0}`")]
    UnknownModel(String),
}

impl CallError {
    /// The attempts made before the call failed (none for errors raised before sending).
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            CallError::Fatal { attempts, .. }
            | CallError::Exhausted { attempts, .. }
            | CallError::Rejected { attempts, .. } => attempts,
            _ => &[],
        }
    }

    /// Whether the run must stop at once (exit 4).
    pub fn is_fatal(&self) -> bool {
        matches!(self, CallError::Fatal { .. })
    }
}
