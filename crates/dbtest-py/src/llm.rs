//! `ctx.llm` for Python use cases: the run's LLM layer (dbtest-llm), called from the
//! event loop (awaitable) or from a sync use case's thread (blocking, without the GIL).
//! A call answers `dbtest_experiment::models::use_case_answer`'s dict; `dbtest._experiment`
//! turns it into a `Reply` or the matching exception.

use std::sync::Arc;

use dbtest_experiment::models::use_case_answer;
use dbtest_llm::{CallInfo, ChatRequest, Llm};
use pyo3::prelude::*;

#[pyclass(module = "dbtest._core", frozen)]
pub struct LlmClient(pub Arc<Llm>);

impl LlmClient {
    fn call(&self, request: &Bound<'_, PyAny>, call: &Bound<'_, PyAny>) -> PyResult<Call> {
        Ok((
            self.0.clone(),
            crate::from_python(request)?,
            crate::from_python(call)?,
        ))
    }
}

type Call = (Arc<Llm>, ChatRequest, CallInfo);

#[pymethods]
impl LlmClient {
    /// Awaitable: one call of `request` (`{messages, params}`) for the sample `call`
    /// (`{config_id, sample_index, seed}`).
    fn chat<'py>(
        &self,
        py: Python<'py>,
        model: String,
        request: &Bound<'py, PyAny>,
        call: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (llm, request, call) = self.call(request, call)?;
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let answer = use_case_answer(&model, llm.chat(&model, request, call).await);
            Python::attach(|py| crate::to_python(py, &answer).map(Bound::unbind))
        })
    }

    /// The same, blocking the calling thread (a sync use case's), without the GIL.
    fn chat_sync<'py>(
        &self,
        py: Python<'py>,
        model: String,
        request: &Bound<'py, PyAny>,
        call: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (llm, request, call) = self.call(request, call)?;
        let answer = py.detach(|| {
            let done =
                pyo3_async_runtimes::tokio::get_runtime().block_on(llm.chat(&model, request, call));
            use_case_answer(&model, done)
        });
        crate::to_python(py, &answer)
    }
}
