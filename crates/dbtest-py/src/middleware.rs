//! `python: "module:Class"` middleware (DESIGN §8): the design's class, loaded and wrapped by
//! `dbtest._experiment.load_middleware`, behind dbtest-llm's [`Middleware`]. A sync hook runs
//! on a blocking thread, an async one on the run's event loop; neither waits with the GIL.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use dbtest_llm::middleware::{Abort, CallContext, Middleware};
use dbtest_llm::transport::parse_json_text;
use dbtest_llm::{CallNotes, ChatRequest, Reply};
use futures::future::BoxFuture;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_async_runtimes::TaskLocals;
use serde_json::Value;

/// The run's event loop. A run is prepared, and its middleware built, before `asyncio.run`
/// starts the loop, so the loop is filled in when the run starts on it.
pub(crate) type LoopSlot = Arc<OnceLock<TaskLocals>>;

/// Calls `method` of `obj` with `args`: on a blocking thread, or (`is_async`) as a
/// coroutine on the loop of `locals`. The answer comes back as JSON.
pub(crate) async fn call_hook(
    obj: Arc<Py<PyAny>>,
    locals: Option<&TaskLocals>,
    is_async: bool,
    method: &'static str,
    args: Vec<Value>,
) -> PyResult<Value> {
    let call = move |py: Python<'_>, obj: &Py<PyAny>| {
        let args = args
            .iter()
            .map(|v| crate::to_python(py, v))
            .collect::<PyResult<Vec<_>>>()?;
        obj.bind(py)
            .call_method1(method, PyTuple::new(py, args)?)
            .map(Bound::unbind)
    };
    if !is_async {
        return tokio::task::spawn_blocking(move || {
            Python::attach(|py| crate::from_python(call(py, &obj)?.bind(py)))
        })
        .await
        .map_err(|e| crate::DbtestError::new_err(e.to_string()))?;
    }
    let locals = locals.ok_or_else(|| {
        crate::DbtestError::new_err("an async hook was called before the run's event loop started")
    })?;
    let fut = Python::attach(|py| {
        pyo3_async_runtimes::into_future_with_locals(locals, call(py, &obj)?.into_bound(py))
    })?;
    let done = fut.await?;
    Python::attach(|py| crate::from_python(done.bind(py)))
}

/// One `python:` middleware. `before` / `after`: whether the class has the hook, and whether
/// it is async.
struct PyMiddleware {
    target: String,
    obj: Arc<Py<PyAny>>,
    slot: LoopSlot,
    before: Option<bool>,
    after: Option<bool>,
}

impl PyMiddleware {
    async fn call(&self, hook: &'static str, is_async: bool, args: Vec<Value>) -> Value {
        let method = match (hook, is_async) {
            ("before", false) => "before_request_sync",
            ("before", true) => "before_request_async",
            (_, false) => "after_response_sync",
            (_, true) => "after_response_async",
        };
        call_hook(self.obj.clone(), self.slot.get(), is_async, method, args)
            .await
            .unwrap_or_else(|e| {
                // dbtest's own failure fails the sample, never lets an unchecked call through.
                let why = format!("middleware {}: dbtest internal error: {e}", self.target);
                serde_json::json!({ "abort": why, "refused": why })
            })
    }
}

impl Middleware for PyMiddleware {
    fn before_request<'a>(
        &'a self,
        _ctx: &'a CallContext,
        request: &'a mut ChatRequest,
        _notes: &'a mut CallNotes,
    ) -> BoxFuture<'a, Result<(), Abort>> {
        Box::pin(async move {
            let Some(is_async) = self.before else {
                return Ok(());
            };
            let arg = serde_json::to_value(&*request).unwrap_or_default();
            let answer = self.call("before", is_async, vec![arg]).await;
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
            let Some(is_async) = self.after else {
                return;
            };
            let args = vec![
                serde_json::to_value(request).unwrap_or_default(),
                serde_json::to_value(&*reply).unwrap_or_default(),
            ];
            let answer = self.call("after", is_async, args).await;
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
            Ok(Arc::new(PyMiddleware {
                target: target.to_string(),
                before: hook("before_is_async")?,
                after: hook("after_is_async")?,
                obj: Arc::new(loaded.unbind()),
                slot: slot.clone(),
            }) as Arc<dyn Middleware>)
        })
    }
}
