//! dbtest's local OpenAI-compatible server (dbtest-llm-mock) for Python: tests and the
//! example start it in-process; it serves on the run's Tokio runtime, without the GIL.

use std::sync::Mutex;

use dbtest_llm_mock::{MockConfig, MockServer};
use pyo3::prelude::*;

#[pyclass(module = "dbtest._core", frozen)]
pub struct MockLlmServer {
    server: Mutex<Option<MockServer>>,
    #[pyo3(get)]
    url: String,
    #[pyo3(get)]
    azure_endpoint: String,
}

#[pymethods]
impl MockLlmServer {
    #[new]
    #[pyo3(signature = (script_json="{}", port=0))]
    fn new(py: Python<'_>, script_json: &str, port: u16) -> PyResult<Self> {
        let config: MockConfig = serde_json::from_str(script_json)
            .map_err(|e| crate::UsageError::new_err(format!("mock server script: {e}")))?;
        let server = py
            .detach(|| {
                pyo3_async_runtimes::tokio::get_runtime()
                    .block_on(MockServer::start_on(config, port))
            })
            .map_err(|e| {
                crate::DbtestError::new_err(format!("cannot start the mock server: {e}"))
            })?;
        Ok(MockLlmServer {
            url: server.url(),
            azure_endpoint: server.azure_endpoint(),
            server: Mutex::new(Some(server)),
        })
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let guard = self.server.lock().unwrap();
        let server = guard
            .as_ref()
            .ok_or_else(|| crate::DbtestError::new_err("the mock server is closed"))?;
        crate::to_python(py, &server.stats())
    }

    fn close(&self, py: Python<'_>) {
        if let Some(server) = self.server.lock().unwrap().take() {
            py.detach(|| pyo3_async_runtimes::tokio::get_runtime().block_on(server.shutdown()));
        }
    }
}
