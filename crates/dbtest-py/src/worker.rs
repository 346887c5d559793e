//! The worker side of `--workers` for Python: `python -m dbtest._worker` serves the parent's
//! commands (dbtest_unit::worker) with the in-process engine; this writes its messages.

use std::io::Write;
use std::sync::{Arc, Mutex};

use dbtest_runner::protocol::Message;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::engine::PyEngine;
use dbtest_unit::WorkerSetup;

#[pyclass(module = "dbtest._core")]
pub struct WorkerRun {
    setup: WorkerSetup,
    protocol: Arc<Mutex<std::fs::File>>,
}

/// The one way anything reaches the parent: a whole frame per message, under the lock, so
/// two messages never interleave (tests print from many threads at once, and a message can
/// be megabytes). Call it without the GIL: the write waits while the parent's pipe is full.
fn send(protocol: &Mutex<std::fs::File>, message: &Message) {
    let frame = message.to_frame();
    let mut out = protocol.lock().unwrap_or_else(|p| p.into_inner());
    // `write_all` goes on after a partial write. If the parent is gone there is no one to
    // tell; the worker ends with its stdin.
    let _ = out.write_all(&frame);
    let _ = out.flush();
}

#[pymethods]
impl WorkerRun {
    /// `protocol_fd`: the descriptor the parent reads messages from (the worker's original
    /// stdout, duplicated before fd 1 was pointed at stderr).
    #[new]
    fn new(setup_json: &str, protocol_fd: i32) -> PyResult<Self> {
        let setup: WorkerSetup = serde_json::from_str(setup_json)
            .map_err(|e| crate::DbtestError::new_err(format!("bad worker setup: {e}")))?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("/dev/fd/{protocol_fd}"))
            .map_err(|e| {
                crate::DbtestError::new_err(format!("cannot open the protocol pipe: {e}"))
            })?;
        Ok(WorkerRun {
            setup,
            protocol: Arc::new(Mutex::new(file)),
        })
    }

    #[getter]
    fn root(&self) -> String {
        self.setup.root.display().to_string()
    }

    /// Mirrors what a running test printed to the parent (`_capture.tee`), in order with the
    /// engine's own messages. Never raises into the test's `print`: text that is not valid
    /// Unicode (a lone surrogate) is sent with replacement characters.
    fn output(&self, printed: &Bound<'_, PyString>) {
        let text = printed.to_string_lossy().into_owned();
        let protocol = self.protocol.clone();
        printed
            .py()
            .detach(move || send(&protocol, &Message::Output { text }));
    }

    /// pytest's settings for the driver, as the parent read them (see `UnitRun`).
    #[getter]
    fn python_settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        crate::to_python(py, &self.setup.python)
    }

    /// Serves commands from stdin until `exit` or end of input; resolves to the exit code.
    fn serve<'py>(&self, py: Python<'py>, driver: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let setup = self.setup.clone();
        let engine = Arc::new(PyEngine::new(py, driver, setup.root.clone())?);
        let protocol = self.protocol.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            dbtest_unit::worker::serve(engine, setup, move |m: &Message| send(&protocol, m)).await;
            Ok(0)
        })
    }
}
