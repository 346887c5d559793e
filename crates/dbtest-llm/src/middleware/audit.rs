//! `audit_log`: a JSON line per attempt, for whoever must account for what was sent.
//!
//! Fields: `time`, `config`, `sample`, `attempt` (1-based), `model`, `status`, `error`,
//! `wait_ms`, `latency_ms`, and on the answering attempt `input_tokens`, `output_tokens`,
//! `cost_usd`. A call with no attempt (a cache hit, an abort, a cache miss) gets one line
//! with `attempt: null` saying why. Prompts (as sent, after masking) only with
//! `include_prompts: true`; keys never, since no value here can hold one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use super::{CallContext, Middleware};
use crate::call::{CallError, ChatRequest, Reply};
use crate::retry::Attempt;

/// The `audit_log` middleware: appends to its file, one write per line.
#[derive(Debug)]
pub struct AuditLog {
    file: Mutex<File>,
    include_prompts: bool,
}

impl AuditLog {
    pub fn open(path: &Path, include_prompts: bool) -> std::io::Result<AuditLog> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            file: Mutex::new(file),
            include_prompts,
        })
    }

    fn base(&self, ctx: &CallContext, request: &ChatRequest) -> Map<String, Value> {
        let mut line = Map::new();
        line.insert("time".into(), json!(jiff::Timestamp::now().to_string()));
        line.insert("config".into(), json!(ctx.call.config_id));
        line.insert("sample".into(), json!(ctx.call.sample_index));
        line.insert("model".into(), json!(ctx.model));
        if self.include_prompts {
            line.insert("prompts".into(), json!(request.messages));
        }
        line
    }

    fn write(&self, lines: Vec<Map<String, Value>>) {
        let mut text = String::new();
        for line in lines {
            text.push_str(&Value::Object(line).to_string());
            text.push('\n');
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // An audit line that cannot be written must not fail the sample that is being
        // audited; the file's absence of lines is itself visible.
        let _ = file.write_all(text.as_bytes());
    }

    fn attempt_lines(
        &self,
        ctx: &CallContext,
        request: &ChatRequest,
        attempts: &[Attempt],
    ) -> Vec<Map<String, Value>> {
        attempts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut line = self.base(ctx, request);
                line.insert("attempt".into(), json!(i + 1));
                line.insert("status".into(), json!(a.status));
                line.insert("error".into(), json!(a.error));
                line.insert("wait_ms".into(), json!(a.wait_ms));
                line.insert("latency_ms".into(), json!(a.duration_ms));
                line
            })
            .collect()
    }
}

impl Middleware for AuditLog {
    fn after_response<'a>(
        &'a self,
        ctx: &'a CallContext,
        request: &'a ChatRequest,
        reply: &'a mut Reply,
    ) -> BoxFuture<'a, ()> {
        let mut lines = self.attempt_lines(ctx, request, &reply.attempts);
        if lines.is_empty() {
            let mut line = self.base(ctx, request);
            line.insert("attempt".into(), Value::Null);
            line.insert("cached".into(), json!(reply.cached));
            lines.push(line);
        }
        if let Some(last) = lines.last_mut() {
            last.insert("input_tokens".into(), json!(reply.usage.input_tokens));
            last.insert("output_tokens".into(), json!(reply.usage.output_tokens));
            last.insert("cost_usd".into(), json!(reply.cost_usd));
        }
        self.write(lines);
        Box::pin(async {})
    }

    fn after_error<'a>(
        &'a self,
        ctx: &'a CallContext,
        request: &'a ChatRequest,
        error: &'a CallError,
    ) -> BoxFuture<'a, ()> {
        let mut lines = self.attempt_lines(ctx, request, error.attempts());
        if lines.is_empty() {
            let mut line = self.base(ctx, request);
            line.insert("attempt".into(), Value::Null);
            line.insert("error".into(), json!(error.to_string()));
            lines.push(line);
        }
        self.write(lines);
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{CallInfo, CallNotes, Message, Usage};

    fn ctx() -> CallContext {
        CallContext {
            model: "small".into(),
            call: CallInfo {
                config_id: "c1".into(),
                sample_index: 4,
                seed: 0,
            },
        }
    }

    fn reply() -> Reply {
        Reply {
            text: "hi".into(),
            json: None,
            usage: Usage {
                input_tokens: 10,
                output_tokens: 2,
            },
            cost_usd: Some(0.5),
            latency_ms: 7,
            attempts: vec![
                Attempt {
                    status: Some(429),
                    error: Some("429 slow down".into()),
                    wait_ms: 0,
                    duration_ms: 3,
                },
                Attempt {
                    status: Some(200),
                    error: None,
                    wait_ms: 900,
                    duration_ms: 7,
                },
            ],
            cached: false,
            notes: CallNotes::default(),
        }
    }

    fn read_lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_line_per_attempt_without_prompts_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/audit.jsonl");
        let log = AuditLog::open(&path, false).unwrap();
        let request = ChatRequest {
            messages: vec![Message::new("user", "private words")],
            ..ChatRequest::default()
        };
        log.after_response(&ctx(), &request, &mut reply()).await;
        let lines = read_lines(&path);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["attempt"], 1);
        assert_eq!(lines[0]["status"], 429);
        assert_eq!(lines[1]["status"], 200);
        assert_eq!(lines[1]["config"], "c1");
        assert_eq!(lines[1]["sample"], 4);
        assert_eq!(lines[1]["model"], "small");
        assert_eq!(lines[1]["input_tokens"], 10);
        assert_eq!(lines[1]["cost_usd"], 0.5);
        assert_eq!(lines[1]["wait_ms"], 900);
        assert!(lines[0].get("input_tokens").is_none());
        assert!(lines[1]["time"].as_str().unwrap().ends_with('Z'));
        assert!(!std::fs::read_to_string(&path)
            .unwrap()
            .contains("private words"));

        let with_prompts = AuditLog::open(&path, true).unwrap();
        let error = CallError::Aborted {
            reason: "prompt_shield: no".into(),
            notes: CallNotes::default(),
        };
        with_prompts.after_error(&ctx(), &request, &error).await;
        let last = read_lines(&path).pop().unwrap();
        assert_eq!(last["attempt"], Value::Null);
        assert_eq!(last["error"], "prompt_shield: no");
        assert_eq!(last["prompts"][0]["content"], "private words");
    }
}
