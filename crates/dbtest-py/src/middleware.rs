//! `python: "module:Class"` middleware (DESIGN §8): the design's class, loaded and wrapped by
//! `dbtest._experiment.load_middleware`, as dbtest-llm's [`External`] middleware's hooks
//! (which decides what their answers mean). A sync hook runs
//! on a blocking thread, an async one on the run's event loop; neither waits with the GIL.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use dbtest_llm::middleware::external::{External, Hook, Hooks};
use dbtest_llm::middleware::Middleware;
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

/// The hooks of one `python:` middleware (a `dbtest._experiment.LoadedMiddleware`):
/// `before` / `after`, whether the class has the hook and whether it is async.
struct PyHooks {
    obj: Arc<Py<PyAny>>,
    slot: LoopSlot,
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
        let method = match (hook, is_async) {
            (Hook::BeforeRequest, false) => "before_request_sync",
            (Hook::BeforeRequest, true) => "before_request_async",
            (Hook::AfterResponse, false) => "after_response_sync",
            (Hook::AfterResponse, true) => "after_response_async",
        };
        Box::pin(async move {
            call_hook(self.obj.clone(), self.slot.get(), is_async, method, args)
                .await
                .map_err(|e| e.to_string())
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
                obj: Arc::new(loaded.unbind()),
                slot: slot.clone(),
            };
            Ok(Arc::new(External {
                target: target.to_string(),
                hooks,
            }) as Arc<dyn Middleware>)
        })
    }
}
