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

#[pymethods]
impl LlmClient {
    /// Awaitable: one call of `request` (`{messages, params}`) for the sample `call`
    /// (`{config_id, sample_index, seed}`).
    fn chat<'py>(
        &self,
        py: Python<'py>,
        model: String,
        #[pyo3(from_py_with = crate::from_python)] request: ChatRequest,
        #[pyo3(from_py_with = crate::from_python)] call: CallInfo,
    ) -> PyResult<Bound<'py, PyAny>> {
        let llm = self.0.clone();
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
        #[pyo3(from_py_with = crate::from_python)] request: ChatRequest,
        #[pyo3(from_py_with = crate::from_python)] call: CallInfo,
    ) -> PyResult<Bound<'py, PyAny>> {
        let llm = &self.0;
        let answer = py.detach(|| {
            let done =
                pyo3_async_runtimes::tokio::get_runtime().block_on(llm.chat(&model, request, call));
            use_case_answer(&model, done)
        });
        crate::to_python(py, &answer)
    }
}
