//! A probabilistic test's function over a spec of a design without Python (DESIGN §6):
//! `dbtest._experiment.PromptCheck` behind dbtest-experiment's [`SampleCheck`].

use dbtest_experiment::models::SampleCheck;
use futures::future::BoxFuture;
use pyo3::prelude::*;
use serde_json::Value;

use crate::Callee;

pub(crate) struct PyCheck {
    check: Callee,
    is_async: bool,
}

impl PyCheck {
    /// `check` is a `PromptCheck`; made on the running loop, where async checks run.
    pub(crate) fn new(py: Python<'_>, check: Py<PyAny>) -> PyResult<PyCheck> {
        Ok(PyCheck {
            is_async: check.bind(py).getattr("is_async")?.extract()?,
            check: Callee::on_running_loop(py, check)?,
        })
    }
}

impl SampleCheck for PyCheck {
    fn check<'a>(&'a self, result: &'a Value) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let answer = self
                .check
                .call("check", self.is_async, vec![result.clone()]);
            match answer.await {
                Ok(None) => Ok(()),
                Ok(Some(message)) => Err(message),
                Err(e) => Err(dbtest_core::internal_message("checking a sample", e)),
            }
        })
    }
}
