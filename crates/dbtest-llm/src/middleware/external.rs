//! A middleware whose hooks are code outside this crate (a design's `python:` class, which
//! only the binding can call): what its answers mean is decided here.
//!
//! `before_request` answers `{"request": {...}}` (the request to send, maybe changed) or
//! `{"abort": reason}`; `after_response` answers `{"text": ...}` (the reply's text, maybe
//! changed) or `{"refused": reason}`.

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Abort, CallContext, Middleware};
use crate::call::{CallNotes, ChatRequest, Reply};
use crate::transport::parse_json_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    BeforeRequest,
    AfterResponse,
}

/// Calls the outside code's hooks with JSON arguments. An `Err` is a failure of the call
/// itself (not of the hook's own checks, which answer `abort` / `refused`).
pub trait Hooks: Send + Sync {
    fn has(&self, hook: Hook) -> bool;
    fn call(&self, hook: Hook, args: Vec<Value>) -> BoxFuture<'_, Result<Value, String>>;
}

/// The middleware `target` (as the design names it) over its `hooks`.
pub struct External<H> {
    pub target: String,
    pub hooks: H,
}

impl<H: Hooks> External<H> {
    /// A failed call fails the sample: an unchecked request is never let through.
    async fn ask(&self, hook: Hook, args: Vec<Value>) -> Result<Value, String> {
        self.hooks
            .call(hook, args)
            .await
            .map_err(|e| format!("middleware {}: dbtest internal error: {e}", self.target))
    }
}

impl<H: Hooks> Middleware for External<H> {
    fn before_request<'a>(
        &'a self,
        _ctx: &'a CallContext,
        request: &'a mut ChatRequest,
        _notes: &'a mut CallNotes,
    ) -> BoxFuture<'a, Result<(), Abort>> {
        Box::pin(async move {
            if !self.hooks.has(Hook::BeforeRequest) {
                return Ok(());
            }
            let given = serde_json::to_value(&*request).unwrap_or_default();
            let answer = self
                .ask(Hook::BeforeRequest, vec![given])
                .await
                .map_err(|reason| Abort { reason })?;
            if let Some(reason) = answer.get("abort").and_then(Value::as_str) {
                return Err(Abort {
                    reason: reason.to_string(),
                });
            }
            *request = serde_json::from_value(answer["request"].clone()).map_err(|e| Abort {
                reason: format!(
                    "middleware {}: before_request gave a request that cannot be sent ({e}); \
                     return {{\"messages\": [{{\"role\", \"content\"}}], \"params\": {{}}}} or None",
                    self.target
                ),
            })?;
            Ok(())
        })
    }

    fn after_response<'a>(
        &'a self,
        _ctx: &'a CallContext,
        request: &'a ChatRequest,
        reply: &'a mut Reply,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if !self.hooks.has(Hook::AfterResponse) {
                return;
            }
            let args = vec![
                serde_json::to_value(request).unwrap_or_default(),
                serde_json::to_value(&*reply).unwrap_or_default(),
            ];
            let answer = match self.ask(Hook::AfterResponse, args).await {
                Ok(answer) => answer,
                Err(why) => {
                    reply.notes.refused = Some(why);
                    return;
                }
            };
            if let Some(reason) = answer.get("refused").and_then(Value::as_str) {
                reply.notes.refused = Some(reason.to_string());
            } else if let Some(text) = answer.get("text").and_then(Value::as_str) {
                if text != reply.text {
                    reply.json = parse_json_text(text);
                    reply.text = text.to_string();
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::call::{CallInfo, Message};

    /// Answers each hook with a fixed value.
    struct Fixed {
        before: Option<Result<Value, String>>,
        after: Option<Result<Value, String>>,
    }

    impl Hooks for Fixed {
        fn has(&self, hook: Hook) -> bool {
            match hook {
                Hook::BeforeRequest => self.before.is_some(),
                Hook::AfterResponse => self.after.is_some(),
            }
        }

        fn call(&self, hook: Hook, _: Vec<Value>) -> BoxFuture<'_, Result<Value, String>> {
            let answer = match hook {
                Hook::BeforeRequest => self.before.clone(),
                Hook::AfterResponse => self.after.clone(),
            };
            Box::pin(async move { answer.expect("only hooks it has are called") })
        }
    }

    fn ctx() -> CallContext {
        CallContext {
            model: "m".into(),
            call: CallInfo {
                config_id: "c".into(),
                sample_index: 0,
                seed: 1,
            },
        }
    }

    fn request() -> ChatRequest {
        ChatRequest {
            messages: vec![Message::new("user", "my secret".to_string())],
            params: Default::default(),
        }
    }

    async fn before(answer: Result<Value, String>) -> (Result<(), Abort>, ChatRequest) {
        let m = External {
            target: "mw:Redact".into(),
            hooks: Fixed {
                before: Some(answer),
                after: None,
            },
        };
        let mut r = request();
        let done = m
            .before_request(&ctx(), &mut r, &mut CallNotes::default())
            .await;
        (done, r)
    }

    #[tokio::test]
    async fn before_request_may_change_the_request_or_abort_it() {
        let changed = json!({"request": {"messages": [{"role": "user", "content": "my [REDACTED]"}], "params": {}}});
        let (done, r) = before(Ok(changed)).await;
        assert!(done.is_ok());
        assert_eq!(r.messages[0].content, "my [REDACTED]");
        let (done, r) = before(Ok(json!({"abort": "no secrets"}))).await;
        assert_eq!(done.unwrap_err().reason, "no secrets");
        assert_eq!(r, request());
        let (done, _) = before(Ok(json!({"request": {"messages": "hi"}}))).await;
        assert!(done.unwrap_err().reason.contains("cannot be sent"));
        let (done, _) = before(Err("the loop is gone".into())).await;
        assert_eq!(
            done.unwrap_err().reason,
            "middleware mw:Redact: dbtest internal error: the loop is gone"
        );
    }

    #[tokio::test]
    async fn after_response_may_change_the_text_or_refuse_the_reply() {
        let after = |answer: Result<Value, String>| External {
            target: "mw:Check".into(),
            hooks: Fixed {
                before: None,
                after: Some(answer),
            },
        };
        let reply = || Reply {
            text: "plain".into(),
            json: None,
            usage: Default::default(),
            cost_usd: None,
            latency_ms: 1,
            attempts: Vec::new(),
            cached: false,
            notes: CallNotes::default(),
        };
        let mut r = reply();
        after(Ok(json!({"text": "{\"a\": 1}"})))
            .after_response(&ctx(), &request(), &mut r)
            .await;
        assert_eq!(
            (r.text.as_str(), r.json.clone()),
            ("{\"a\": 1}", Some(json!({"a": 1})))
        );
        let mut r = reply();
        after(Ok(json!({"refused": "off topic"})))
            .after_response(&ctx(), &request(), &mut r)
            .await;
        assert_eq!(r.notes.refused.as_deref(), Some("off topic"));
        let mut r = reply();
        after(Err("boom".into()))
            .after_response(&ctx(), &request(), &mut r)
            .await;
        assert!(r
            .notes
            .refused
            .unwrap()
            .contains("dbtest internal error: boom"));
    }
}
