//! `dbtest._core`: the thin layer between the Rust engine and Python. It converts values and
//! calls the Python driver; scheduling, selection and reports live in the pure-Rust crates.

mod bench;
mod check;
mod engine;
mod experiment;
mod llm;
mod middleware;
mod mockllm;
mod unit;
mod worker;

use std::sync::{Arc, OnceLock};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PySequence, PyTuple};
use pyo3_async_runtimes::TaskLocals;

create_exception!(
    _core,
    DbtestError,
    PyException,
    "Base class of dbtest's errors."
);
create_exception!(
    _core,
    UsageError,
    DbtestError,
    "Bad flags, configuration or paths: the CLI exits with code 4."
);

/// Maps the engine's errors to the Python exception hierarchy.
pub(crate) fn to_py_err(err: dbtest_core::Error) -> PyErr {
    match err {
        dbtest_core::Error::Usage(_) | dbtest_core::Error::Config { .. } => {
            UsageError::new_err(err.to_string())
        }
        other => DbtestError::new_err(other.to_string()),
    }
}

/// The command line's options as the command's typed settings (a click `dict`, the names
/// as the settings spell them); a wrong one is a usage error.
pub(crate) fn flags<T: serde::de::DeserializeOwned>(flags: &Bound<'_, PyAny>) -> PyResult<T> {
    pythonize::depythonize(flags).map_err(|e| UsageError::new_err(format!("invalid option: {e}")))
}

/// A serializable value as Python's dicts, lists and scalars.
pub(crate) fn to_python<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(|e| DbtestError::new_err(e.to_string()))
}

/// A value the driver made (dicts, lists, scalars) as the engine's type; a value that does
/// not fit (an unknown outcome) is an error of dbtest's own Python code.
pub(crate) fn from_python<T: serde::de::DeserializeOwned>(value: &Bound<'_, PyAny>) -> PyResult<T> {
    pythonize::depythonize(value)
        .map_err(|e| DbtestError::new_err(format!("the driver sent an invalid value: {e}")))
}

/// The run's event loop. A run is prepared, and its middleware built, before `asyncio.run`
/// starts the loop, so the loop is filled in when the run starts on it.
pub(crate) type LoopSlot = Arc<OnceLock<TaskLocals>>;

/// A Python object the engine calls from its Tokio tasks, its answers read by serde. Its
/// methods come in pairs, `<name>_sync` (run on a blocking thread) and `<name>_async` (a
/// coroutine, run on the run's event loop); neither waits with the GIL.
#[derive(Clone)]
pub(crate) struct Callee {
    pub obj: Arc<Py<PyAny>>,
    event_loop: LoopSlot,
}

impl Callee {
    pub fn new(obj: Py<PyAny>, event_loop: LoopSlot) -> Self {
        Callee {
            obj: Arc::new(obj),
            event_loop,
        }
    }

    /// `obj`, whose coroutines run on the running event loop.
    pub fn on_running_loop(py: Python<'_>, obj: Py<PyAny>) -> PyResult<Self> {
        let event_loop = LoopSlot::default();
        let _ = event_loop.set(pyo3_async_runtimes::tokio::get_current_locals(py)?);
        Ok(Callee::new(obj, event_loop))
    }

    /// Calls `<name>_sync` or `<name>_async` with `args`: a tuple or a list of values, or `()`.
    pub async fn call<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        name: &str,
        is_async: bool,
        args: impl serde::Serialize + Send + 'static,
    ) -> PyResult<T> {
        let method = format!("{name}_{}", if is_async { "async" } else { "sync" });
        let call = move |py: Python<'_>, obj: &Py<PyAny>| {
            let args = match to_python(py, &args)? {
                none if none.is_none() => PyTuple::empty(py),
                args => args.cast_into::<PySequence>()?.to_tuple()?,
            };
            obj.bind(py).call_method1(&method, args).map(Bound::unbind)
        };
        let obj = self.obj.clone();
        if !is_async {
            return tokio::task::spawn_blocking(move || {
                Python::attach(|py| from_python(call(py, &obj)?.bind(py)))
            })
            .await
            .map_err(|e| DbtestError::new_err(e.to_string()))?;
        }
        let locals = self.event_loop.get().ok_or_else(|| {
            DbtestError::new_err("a coroutine was called before the run's event loop started")
        })?;
        let fut = Python::attach(|py| {
            pyo3_async_runtimes::into_future_with_locals(locals, call(py, &obj)?.into_bound(py))
        })?;
        let done = fut.await?;
        Python::attach(|py| from_python(done.bind(py)))
    }
}

/// Writes `text` to `path` atomically (synced, then renamed): dbtest's one atomic write,
/// for files Python renders (YAML).
#[pyfunction]
fn write_atomic(py: Python<'_>, path: std::path::PathBuf, text: &str) -> PyResult<()> {
    let bytes = text.as_bytes().to_vec();
    py.detach(|| dbtest_report::write_atomic(&path, &bytes))
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))
}

/// A debugger takes the terminal (DESIGN section 4f): the live display is erased and stays
/// off until [`release_terminal`].
#[pyfunction]
fn hold_terminal() {
    dbtest_report::live::hold_terminal();
}

#[pyfunction]
fn release_terminal() {
    dbtest_report::live::release_terminal();
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // Sync tests run on blocking threads; `--jobs` bounds how many run at once, and a test
    // abandoned after its timeout keeps its thread, so leave headroom above the default jobs.
    builder
        .enable_all()
        .max_blocking_threads(1024)
        .thread_name("dbtest-worker");
    pyo3_async_runtimes::tokio::init(builder);
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DbtestError", m.py().get_type::<DbtestError>())?;
    m.add("UsageError", m.py().get_type::<UsageError>())?;
    m.add_class::<unit::UnitRun>()?;
    m.add_class::<bench::BenchRun>()?;
    m.add_class::<experiment::Sampling>()?;
    m.add_class::<experiment::ExperimentRun>()?;
    m.add_class::<experiment::VerifyRun>()?;
    m.add_function(wrap_pyfunction!(experiment::approve_baseline, m)?)?;
    m.add_function(wrap_pyfunction!(experiment::render_artifacts, m)?)?;
    m.add_function(wrap_pyfunction!(experiment::verify_bundle, m)?)?;
    m.add_function(wrap_pyfunction!(experiment::merge_shards, m)?)?;
    m.add_class::<worker::WorkerRun>()?;
    m.add_class::<mockllm::MockLlmServer>()?;
    m.add_class::<llm::LlmClient>()?;
    m.add_function(wrap_pyfunction!(unit::merge_reports, m)?)?;
    m.add_function(wrap_pyfunction!(unit::coverage_verdict, m)?)?;
    m.add_function(wrap_pyfunction!(bench::measure_callable, m)?)?;
    m.add_function(wrap_pyfunction!(write_atomic, m)?)?;
    m.add_function(wrap_pyfunction!(hold_terminal, m)?)?;
    m.add_function(wrap_pyfunction!(release_terminal, m)?)?;
    Ok(())
}
