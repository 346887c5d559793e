//! The worker side of `--workers`: `python -m dbtest._worker` serves the parent's commands
//! (crates/dbtest-runner/src/workers.rs) with the in-process engine, one file at a time, and
//! keeps its session (its session-scoped fixtures) until it is told to exit.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use dbtest_core::Event;
use dbtest_discovery::Selector;
use dbtest_runner::protocol::{Command, Message};
use dbtest_runner::{CancellationToken, Engine, FileJob, Observer};
use pyo3::prelude::*;
use pyo3::types::PyString;
use tokio::io::AsyncBufReadExt;

use crate::engine::PyEngine;
use crate::unit::PythonSettings;
use dbtest_unit::{run_options, selected, WorkerSetup};

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

    /// pytest's settings for the driver, as the parent read them.
    #[getter]
    fn python_settings(&self) -> PythonSettings {
        self.setup.python.clone().into()
    }

    /// Serves commands from stdin until `exit` or end of input; resolves to the exit code.
    fn serve<'py>(&self, py: Python<'py>, driver: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let locals = pyo3_async_runtimes::tokio::get_current_locals(py)?;
        let setup = self.setup.clone();
        let engine = Arc::new(PyEngine::new(driver, locals, setup.root.clone()));
        let protocol = self.protocol.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            serve(engine, setup, protocol).await;
            Ok(0)
        })
    }
}

async fn serve(engine: Arc<PyEngine>, setup: WorkerSetup, protocol: Arc<Mutex<std::fs::File>>) {
    let selector = match Selector::new(
        setup.config.match_.as_deref().unwrap_or_default(),
        setup.config.tags.as_deref(),
        setup.id_prefixes.clone(),
    )
    .and_then(|s| s.with_keyword(setup.python.keyword.as_deref()))
    {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("dbtest worker: {e}");
            return;
        }
    };
    let last_failed: Option<Arc<HashSet<String>>> = setup
        .last_failed
        .clone()
        .map(|ids| Arc::new(ids.into_iter().collect()));
    send(&protocol, &Message::Ready);
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let command: Command = match serde_json::from_str(&line) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("dbtest worker: unreadable command {line:?}: {e}");
                continue;
            }
        };
        match command {
            Command::File {
                path,
                rel,
                skip,
                exclusive,
                serial_locks,
            } => {
                let skip: HashSet<String> = skip.into_iter().collect();
                let (selector, last_failed) = (selector.clone(), last_failed.clone());
                let mut opts = run_options(&setup.config, setup.shuffle_seed, move |case| {
                    selected(&selector, last_failed.as_deref(), case) && !skip.contains(&case.id)
                });
                // The parent counts failures across workers and owns -x / --maxfail.
                opts.stop_after = None;
                opts.finish_session = false;
                opts.serial_locks = serial_locks;
                let sink = protocol.clone();
                let observer: Observer = Arc::new(Mutex::new(move |event: &Event| {
                    let message = match event {
                        Event::FileCollected { file, tests } => Message::Collected {
                            file: file.clone(),
                            tests: *tests,
                        },
                        Event::TestStarted { case, timeout_s } => Message::Started {
                            case: case.clone(),
                            timeout_s: *timeout_s,
                        },
                        Event::TestFinished(result) => Message::Finished {
                            result: result.clone(),
                        },
                        Event::RunStarted { .. } | Event::FileFinished { .. } => return,
                    };
                    send(&sink, &message);
                }));
                let job = FileJob {
                    path,
                    rel: rel.clone(),
                    exclusive,
                };
                let out = dbtest_runner::run(
                    engine.clone(),
                    vec![job],
                    opts,
                    observer,
                    CancellationToken::new(),
                )
                .await;
                let done = Message::FileDone {
                    file: rel,
                    abandoned: out.abandoned,
                };
                send(&protocol, &done);
            }
            Command::Exit => break,
        }
    }
    for result in engine.finish_session().await {
        send(
            &protocol,
            &Message::Finished {
                result: Box::new(result),
            },
        );
    }
}
