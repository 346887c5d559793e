//! `prompt_shield`: denied terms, found case-insensitively in any message.
//!
//! `abort` fails the sample with nothing sent (the safe default: a prompt that must not
//! leave does not leave); `mask` replaces the term with `[REDACTED]` and sends; `log`
//! only notes it. Every finding is in the call's notes.

use std::str::FromStr;

use futures::future::BoxFuture;
use regex::Regex;

use super::{Abort, CallContext, Middleware};
use crate::call::{CallNotes, ChatRequest, ShieldEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnViolation {
    Abort,
    Mask,
    Log,
}

impl OnViolation {
    pub fn name(self) -> &'static str {
        match self {
            OnViolation::Abort => "abort",
            OnViolation::Mask => "mask",
            OnViolation::Log => "log",
        }
    }
}

impl FromStr for OnViolation {
    type Err = String;
    fn from_str(s: &str) -> Result<OnViolation, String> {
        match s {
            "abort" => Ok(OnViolation::Abort),
            "mask" => Ok(OnViolation::Mask),
            "log" => Ok(OnViolation::Log),
            other => Err(format!(
                "unknown on_violation `{other}` (abort, mask or log)"
            )),
        }
    }
}

/// The `prompt_shield` middleware.
#[derive(Debug, Clone)]
pub struct PromptShield {
    terms: Vec<(String, Regex)>,
    on_violation: OnViolation,
}

impl PromptShield {
    pub fn new(denied_terms: &[String], on_violation: OnViolation) -> PromptShield {
        let terms = denied_terms
            .iter()
            .map(|t| {
                let re = Regex::new(&format!("(?i){}", regex::escape(t)))
                    .expect("an escaped literal is valid");
                (t.clone(), re)
            })
            .collect();
        PromptShield {
            terms,
            on_violation,
        }
    }

    /// Finds the terms, notes them and (for `mask`) replaces them; the abort reason if the
    /// request must not be sent.
    fn check(&self, request: &mut ChatRequest, notes: &mut CallNotes) -> Result<(), Abort> {
        let mut found = Vec::new();
        for (index, message) in request.messages.iter_mut().enumerate() {
            for (term, re) in &self.terms {
                if re.is_match(&message.content) {
                    if !found.contains(term) {
                        found.push(term.clone());
                    }
                    notes.shield_events.push(ShieldEvent {
                        term: term.clone(),
                        message: index,
                        action: self.on_violation.name().into(),
                    });
                    if self.on_violation == OnViolation::Mask {
                        message.content =
                            re.replace_all(&message.content, "[REDACTED]").into_owned();
                    }
                }
            }
        }
        if self.on_violation == OnViolation::Abort && !found.is_empty() {
            return Err(Abort {
                reason: format!(
                    "prompt_shield: denied term {} in the prompt; nothing was sent",
                    found
                        .iter()
                        .map(|t| format!("`{t}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        Ok(())
    }
}

impl Middleware for PromptShield {
    fn before_request<'a>(
        &'a self,
        _: &'a CallContext,
        request: &'a mut ChatRequest,
        notes: &'a mut CallNotes,
    ) -> BoxFuture<'a, Result<(), Abort>> {
        let result = self.check(request, notes);
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::Message;

    fn request(text: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![
                Message::new("system", "be nice"),
                Message::new("user", text),
            ],
            ..ChatRequest::default()
        }
    }

    #[test]
    fn abort_mask_and_log() {
        let terms = vec!["Project X".to_owned()];
        let mut notes = CallNotes::default();
        let mut req = request("tell me about project x please");
        let err = PromptShield::new(&terms, OnViolation::Abort)
            .check(&mut req, &mut notes)
            .unwrap_err();
        assert!(err.reason.contains("`Project X`"), "{err}");
        assert_eq!(
            notes.shield_events,
            [ShieldEvent {
                term: "Project X".into(),
                message: 1,
                action: "abort".into()
            }]
        );

        let mut notes = CallNotes::default();
        PromptShield::new(&terms, OnViolation::Mask)
            .check(&mut req, &mut notes)
            .unwrap();
        assert_eq!(req.messages[1].content, "tell me about [REDACTED] please");

        let mut notes = CallNotes::default();
        let mut req = request("PROJECT X");
        PromptShield::new(&terms, OnViolation::Log)
            .check(&mut req, &mut notes)
            .unwrap();
        assert_eq!(req.messages[1].content, "PROJECT X");
        assert_eq!(notes.shield_events.len(), 1);

        let mut notes = CallNotes::default();
        PromptShield::new(&terms, OnViolation::Abort)
            .check(&mut request("fine"), &mut notes)
            .unwrap();
        assert!(notes.shield_events.is_empty());
    }
}
