//! `python: "module:Class"` middleware (DESIGN §8): the design's class, loaded and wrapped by
//! `dbtest._experiment.load_middleware`, as dbtest-llm's [`External`] middleware's hooks
//! (which decides what their answers mean), called as a [`Callee`].

use std::path::Path;
use std::sync::Arc;

use dbtest_llm::middleware::external::{External, Hook, Hooks};
use dbtest_llm::middleware::Middleware;
use futures::future::BoxFuture;
use pyo3::prelude::*;
use serde_json::Value;

use crate::{Callee, LoopSlot};

/// The hooks of one `python:` middleware (a `dbtest._experiment.LoadedMiddleware`):
/// `before` / `after`, whether the class has the hook and whether it is async.
struct PyHooks {
    obj: Callee,
    before: Option<bool>,
    after: Option<bool>,
}

impl PyHooks {
    fn is_async(&self, hook: Hook) -> Option<bool> {
        match hook {
            Hook::BeforeRequest => self.before,
            Hook::AfterResponse => self.after,
        }
    }
}

impl Hooks for PyHooks {
    fn has(&self, hook: Hook) -> bool {
        self.is_async(hook).is_some()
    }

    fn call(&self, hook: Hook, args: Vec<Value>) -> BoxFuture<'_, Result<Value, String>> {
        let is_async = self.is_async(hook).unwrap_or(false);
        let name = match hook {
            Hook::BeforeRequest => "before_request",
            Hook::AfterResponse => "after_response",
        };
        Box::pin(async move {
            let answer = self.obj.call(name, is_async, args).await;
            answer.map_err(|e| e.to_string())
        })
    }
}

/// Builds the `python:` middleware of a run or a verification: `target` imported from the
/// project `root` by `dbtest._experiment.load_middleware`, whose error says what is wrong.
pub(crate) fn import(
    slot: LoopSlot,
) -> impl Fn(&str, &Path) -> Result<Arc<dyn Middleware>, String> {
    move |target, root| {
        Python::attach(|py| {
            let loaded = py
                .import("dbtest._experiment")
                .and_then(|m| {
                    m.call_method1("load_middleware", (target, root.display().to_string()))
                })
                .map_err(|e| e.value(py).to_string())?;
            let hook = |name: &str| -> Result<Option<bool>, String> {
                loaded
                    .getattr(name)
                    .and_then(|v| v.extract())
                    .map_err(|e| e.to_string())
            };
            let hooks = PyHooks {
                before: hook("before_is_async")?,
                after: hook("after_is_async")?,
                obj: Callee::new(loaded.unbind(), slot.clone()),
            };
            Ok(Arc::new(External {
                target: target.to_string(),
                hooks,
            }) as Arc<dyn Middleware>)
        })
    }
}
