//! Middleware: code that sees every request before it leaves and every reply after it
//! comes back (DESIGN §8 `middleware:`).
//!
//! The built-ins are here — [`pii::PiiMask`], [`shield::PromptShield`],
//! [`audit::AuditLog`] — and the [`Middleware`] trait is object-safe with boxed futures so
//! the binding can add a Python one (`python: "mypkg.middleware:Redact"`), sync or async.
//! Middleware runs in the order written, before the cache key is made, so the cache and the
//! server only ever see what the middleware let through.

pub mod audit;
pub mod external;
pub mod pii;
pub mod shield;

use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::call::{CallError, CallInfo, CallNotes, ChatRequest, Reply};
use crate::models::did_you_mean;

/// The model and sample a call is for, given to every middleware hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    pub model: String,
    pub call: CallInfo,
}

/// A middleware's refusal to let a request go: the sample fails with `reason`, and
/// nothing is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Abort {
    pub reason: String,
}

/// A hook on every call. `before_request` may change the request or abort it;
/// `after_response` may change the reply, or refuse it by setting `reply.notes.refused`
/// (the call's cost is spent by then, so it stays a reply); `after_error` sees failed
/// calls (for logs).
pub trait Middleware: Send + Sync {
    fn before_request<'a>(
        &'a self,
        ctx: &'a CallContext,
        request: &'a mut ChatRequest,
        notes: &'a mut CallNotes,
    ) -> BoxFuture<'a, Result<(), Abort>> {
        let _ = (ctx, request, notes);
        Box::pin(async { Ok(()) })
    }

    fn after_response<'a>(
        &'a self,
        ctx: &'a CallContext,
        request: &'a ChatRequest,
        reply: &'a mut Reply,
    ) -> BoxFuture<'a, ()> {
        let _ = (ctx, request, reply);
        Box::pin(async {})
    }

    fn after_error<'a>(
        &'a self,
        ctx: &'a CallContext,
        request: &'a ChatRequest,
        error: &'a CallError,
    ) -> BoxFuture<'a, ()> {
        let _ = (ctx, request, error);
        Box::pin(async {})
    }
}

/// One entry of the `middleware:` list, parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum MiddlewareSpec {
    PiiMask {
        kinds: Vec<pii::PiiKind>,
    },
    PromptShield {
        denied_terms: Vec<String>,
        on_violation: shield::OnViolation,
    },
    AuditLog {
        path: String,
        include_prompts: bool,
    },
    /// `module:Class`; built by the binding, which alone knows Python.
    Python {
        target: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: middleware {index}: {message}")]
pub struct MiddlewareError {
    pub file: String,
    /// 1-based position in the list.
    pub index: usize,
    pub message: String,
}

const NAMES: &[&str] = &["pii_mask", "prompt_shield", "audit_log", "python"];

/// Parses the `middleware:` list of `file` (the name is only used in errors).
pub fn parse_middleware(file: &str, value: &Value) -> Result<Vec<MiddlewareSpec>, MiddlewareError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => {
            return Err(MiddlewareError {
                file: file.into(),
                index: 0,
                message: "`middleware` must be a list, e.g. `- pii_mask: {kinds: [email]}`".into(),
            })
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            parse_one(item).map_err(|message| MiddlewareError {
                file: file.into(),
                index: i + 1,
                message,
            })
        })
        .collect()
}

fn parse_one(item: &Value) -> Result<MiddlewareSpec, String> {
    let (name, settings) = match item {
        Value::Object(map) if map.len() == 1 => map.iter().next().expect("one entry"),
        _ => {
            return Err(format!(
                "each entry is one name ({}) with its settings",
                NAMES.join(", ")
            ))
        }
    };
    let fields = |allowed: &[&str]| -> Result<serde_json::Map<String, Value>, String> {
        let map = match settings {
            Value::Null => serde_json::Map::new(),
            Value::Object(map) => map.clone(),
            _ => {
                return Err(format!(
                    "`{name}` takes a mapping of settings ({})",
                    allowed.join(", ")
                ))
            }
        };
        if let Some(key) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!(
                "`{name}`: unknown setting `{key}`{}",
                did_you_mean(key, allowed)
            ));
        }
        Ok(map)
    };
    let strings = |v: &Value, what: &str| -> Result<Vec<String>, String> {
        v.as_array()
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| format!("`{name}`: `{what}` must be a list of strings"))
    };
    match name.as_str() {
        "pii_mask" => {
            let map = fields(&["kinds"])?;
            let kinds = match map.get("kinds") {
                None => pii::PiiKind::ALL.to_vec(),
                Some(v) => strings(v, "kinds")?
                    .iter()
                    .map(|k| {
                        k.parse::<pii::PiiKind>()
                            .map_err(|e| format!("`pii_mask`: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            // Kept in the order they apply (see `pii`), whatever order the design lists.
            let mut kinds = kinds;
            kinds.sort();
            kinds.dedup();
            Ok(MiddlewareSpec::PiiMask { kinds })
        }
        "prompt_shield" => {
            let map = fields(&["denied_terms", "on_violation"])?;
            let denied_terms = strings(
                map.get("denied_terms").unwrap_or(&Value::Null),
                "denied_terms",
            )?;
            if denied_terms.iter().any(|t| t.trim().is_empty()) {
                return Err("`prompt_shield`: a denied term is empty".into());
            }
            let on_violation = match map.get("on_violation") {
                None => shield::OnViolation::Abort,
                Some(Value::String(s)) => s.parse().map_err(|e| format!("`prompt_shield`: {e}"))?,
                Some(_) => {
                    return Err("`prompt_shield`: `on_violation` must be abort, mask or log".into())
                }
            };
            Ok(MiddlewareSpec::PromptShield {
                denied_terms,
                on_violation,
            })
        }
        "audit_log" => {
            let map = fields(&["path", "include_prompts"])?;
            let path = map
                .get("path")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .ok_or("`audit_log`: `path` is missing")?
                .to_owned();
            let include_prompts = match map.get("include_prompts") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err("`audit_log`: `include_prompts` must be true or false".into())
                }
            };
            Ok(MiddlewareSpec::AuditLog {
                path,
                include_prompts,
            })
        }
        "python" => match settings {
            Value::String(target) if target.contains(':') => Ok(MiddlewareSpec::Python {
                target: target.clone(),
            }),
            _ => Err("`python` takes \"module:Class\"".into()),
        },
        other => Err(format!(
            "unknown middleware `{other}`{} ({})",
            did_you_mean(other, NAMES),
            NAMES.join(", ")
        )),
    }
}

impl MiddlewareSpec {
    /// Builds a built-in middleware; relative audit log paths are under `base_dir`.
    /// Returns `None` for `python`, which the binding builds.
    pub fn build(&self, base_dir: &Path) -> std::io::Result<Option<Arc<dyn Middleware>>> {
        Ok(Some(match self {
            MiddlewareSpec::PiiMask { kinds } => Arc::new(pii::PiiMask::new(kinds)),
            MiddlewareSpec::PromptShield {
                denied_terms,
                on_violation,
            } => Arc::new(shield::PromptShield::new(denied_terms, *on_violation)),
            MiddlewareSpec::AuditLog {
                path,
                include_prompts,
            } => Arc::new(audit::AuditLog::open(
                &base_dir.join(path),
                *include_prompts,
            )?),
            MiddlewareSpec::Python { .. } => return Ok(None),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_design_example() {
        let specs = parse_middleware(
            "design.yaml",
            &json!([
                {"pii_mask": {"kinds": ["email", "phone", "card", "iban", "ip"]}},
                {"prompt_shield": {"denied_terms": ["secret project"], "on_violation": "mask"}},
                {"audit_log": {"path": "audit.jsonl", "include_prompts": false}},
                {"python": "mypkg.middleware:Redact"}
            ]),
        )
        .unwrap();
        assert_eq!(specs.len(), 4);
        assert_eq!(
            specs[0],
            MiddlewareSpec::PiiMask {
                kinds: pii::PiiKind::ALL.to_vec()
            }
        );
        assert_eq!(
            specs[1],
            MiddlewareSpec::PromptShield {
                denied_terms: vec!["secret project".into()],
                on_violation: shield::OnViolation::Mask
            }
        );
        assert_eq!(
            specs[3],
            MiddlewareSpec::Python {
                target: "mypkg.middleware:Redact".into()
            }
        );
        assert!(specs[3].build(Path::new(".")).unwrap().is_none());
    }

    #[test]
    fn clear_errors() {
        let err = |v: Value| parse_middleware("d.yaml", &v).unwrap_err().to_string();
        assert!(err(json!([{"pii_mas": {}}])).contains(
            "d.yaml: middleware 1: unknown middleware `pii_mas` (did you mean `pii_mask`?)"
        ));
        assert!(err(json!([{"pii_mask": {"kind": ["email"]}}]))
            .contains("unknown setting `kind` (did you mean `kinds`?)"));
        assert!(err(json!([{"pii_mask": {"kinds": ["emial"]}}])).contains("did you mean `email`"));
        assert!(
            err(json!([{"prompt_shield": {"denied_terms": ["x"], "on_violation": "stop"}}]))
                .contains("abort, mask or log")
        );
        assert!(err(json!([{"prompt_shield": {}}])).contains("`denied_terms` must be a list"));
        assert!(err(json!([{"audit_log": {}}])).contains("`path` is missing"));
        assert!(err(json!([{"python": "nocolon"}])).contains("module:Class"));
        assert!(err(json!([{"a": 1, "b": 2}])).contains("each entry is one name"));
        assert!(err(json!({"pii_mask": {}})).contains("must be a list"));
        assert_eq!(parse_middleware("d", &Value::Null).unwrap(), []);
    }
}
