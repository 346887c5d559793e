//! `ctx.llm` for Python use cases: the run's LLM layer (dbtest-llm), called from the
//! event loop (awaitable) or from a sync use case's thread (blocking, without the GIL).
//! A call answers a dict: the reply, or `error` with its `kind`; `dbtest._experiment`
//! turns it into a `Reply` or the matching exception.

use std::sync::Arc;

use dbtest_experiment::models::call_entry;
use dbtest_llm::{CallError, CallInfo, ChatRequest, Llm};
use pyo3::prelude::*;
use serde_json::{json, Value};

#[pyclass(module = "dbtest._core", frozen)]
pub struct LlmClient(pub Arc<Llm>);

/// What became of a call, as Python reads it.
fn answer(model: &str, done: Result<dbtest_llm::Reply, CallError>) -> Value {
    let call = call_entry(model, "use_case", done.as_ref());
    match done {
        Ok(reply) => json!({"reply": reply, "call": call}),
        Err(e) => {
            let kind = match e {
                CallError::Fatal { .. } => "fatal",
                CallError::Aborted { .. } => "aborted",
                _ => "error",
            };
            json!({"error": e.to_string(), "kind": kind, "call": call})
        }
    }
}

impl LlmClient {
    fn request(
        messages: &Bound<'_, PyAny>,
        params: &Bound<'_, PyAny>,
        config_id: String,
        index: u64,
        seed: u64,
    ) -> PyResult<(ChatRequest, CallInfo)> {
        let request = ChatRequest {
            messages: crate::from_python(messages)?,
            params: crate::from_python(params)?,
        };
        let call = CallInfo {
            config_id,
            sample_index: index,
            seed,
        };
        Ok((request, call))
    }
}

#[pymethods]
impl LlmClient {
    /// Awaitable: one call of the sample `index` of `config_id`.
    #[allow(clippy::too_many_arguments)]
    fn chat<'py>(
        &self,
        py: Python<'py>,
        model: String,
        messages: &Bound<'py, PyAny>,
        params: &Bound<'py, PyAny>,
        config_id: String,
        index: u64,
        seed: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, call) = Self::request(messages, params, config_id, index, seed)?;
        let llm = self.0.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let done = llm.chat(&model, request, call).await;
            let value = answer(&model, done);
            Python::attach(|py| crate::to_python(py, &value).map(Bound::unbind))
        })
    }

    /// The same, blocking the calling thread (a sync use case's), without the GIL.
    #[allow(clippy::too_many_arguments)]
    fn chat_sync<'py>(
        &self,
        py: Python<'py>,
        model: String,
        messages: &Bound<'py, PyAny>,
        params: &Bound<'py, PyAny>,
        config_id: String,
        index: u64,
        seed: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (request, call) = Self::request(messages, params, config_id, index, seed)?;
        let llm = self.0.clone();
        let value = py.detach(|| {
            let done =
                pyo3_async_runtimes::tokio::get_runtime().block_on(llm.chat(&model, request, call));
            answer(&model, done)
        });
        crate::to_python(py, &value)
    }
}
