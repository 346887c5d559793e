//! A probabilistic test's function over a spec of a design without Python (DESIGN §6):
//! `dbtest._experiment.PromptCheck` behind dbtest-experiment's [`SampleCheck`].

use std::sync::Arc;

use dbtest_experiment::models::{BoxedFuture, SampleCheck};
use pyo3::prelude::*;
use pyo3_async_runtimes::TaskLocals;
use serde_json::Value;

use crate::middleware::call_hook;

pub(crate) struct PyCheck {
    check: Arc<Py<PyAny>>,
    locals: TaskLocals,
    is_async: bool,
}

impl PyCheck {
    /// `check` is a `PromptCheck`; made on the running loop, where async checks run.
    pub(crate) fn new(py: Python<'_>, check: Py<PyAny>) -> PyResult<PyCheck> {
        Ok(PyCheck {
            is_async: check.bind(py).getattr("is_async")?.extract()?,
            locals: pyo3_async_runtimes::tokio::get_current_locals(py)?,
            check: Arc::new(check),
        })
    }
}

impl SampleCheck for PyCheck {
    fn check<'a>(&'a self, result: &'a Value) -> BoxedFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let method = if self.is_async {
                "check_async"
            } else {
                "check_sync"
            };
            let args = vec![result.clone()];
            match call_hook(
                self.check.clone(),
                Some(&self.locals),
                self.is_async,
                method,
                args,
            )
            .await
            {
                Ok(Value::Null) => Ok(()),
                Ok(Value::String(message)) => Err(message),
                Ok(other) => Err(other.to_string()),
                Err(e) => Err(format!(
                    "dbtest internal error while checking a sample: {e}"
                )),
            }
        })
    }
}
