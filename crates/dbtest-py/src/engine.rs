//! The Python engine: collects and runs tests by calling the driver (`dbtest._driver.Driver`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dbtest_core::{CollectedCase, RawResult, TeardownError, TestCase, TestResult};
use dbtest_discovery::{conftests_for, import_target};
use dbtest_runner::lanes::{ImportTurn, Lanes};
use dbtest_runner::{Engine, FileError, FileJob, LoadAnswer};
use pyo3::intern;
use pyo3::prelude::*;
use tokio::sync::{mpsc, oneshot};

use crate::{from_python, Callee};

pub struct PyEngine {
    driver: Callee,
    root: PathBuf,
    /// One thread per file for its sync tests (see [`Lane`]).
    lanes: Mutex<Lanes<Lane>>,
    imports: Arc<ImportTurn>,
    /// Files finished on their lane right after their last test (see `run_pipeline`).
    finished_early: Arc<Mutex<HashSet<String>>>,
}

impl PyEngine {
    /// `driver`'s coroutines run on the running event loop.
    pub fn new(py: Python<'_>, driver: Py<PyAny>, root: PathBuf) -> PyResult<Self> {
        Ok(PyEngine {
            driver: Callee::on_running_loop(py, driver)?,
            root,
            lanes: Mutex::new(Lanes::default()),
            imports: Arc::default(),
            finished_early: Arc::default(),
        })
    }
}

type Job = Box<dyn for<'py> FnOnce(Python<'py>) + Send>;

/// The driver's `arrange_session` answer: the files in run order, each with its tests.
type ArrangedFiles = Vec<(String, Vec<CollectedCase>)>;

/// A blocking thread that runs Python work in order: a file's import and sync tests (then
/// the next file's, see [`Lanes`]), or every benchmark round. It keeps its Python thread state between jobs and waits without
/// the GIL (attaching a fresh thread to the interpreter for each test costs more than most
/// trivial tests take), and code that minds its thread (sqlite3 objects made at import or in
/// a fixture) sees one thread throughout.
#[derive(Clone)]
pub struct Lane {
    id: u64,
    jobs: mpsc::UnboundedSender<Job>,
}

static NEXT_LANE: AtomicU64 = AtomicU64::new(0);

impl Lane {
    pub fn start() -> Lane {
        let (jobs, mut incoming) = mpsc::unbounded_channel::<Job>();
        // The run's runtime, also when a lane is made outside its tasks.
        pyo3_async_runtimes::tokio::get_runtime().spawn_blocking(move || {
            Python::attach(|py| {
                while let Some(job) = py.detach(|| incoming.blocking_recv()) {
                    job(py);
                }
            })
        });
        Lane {
            id: NEXT_LANE.fetch_add(1, Ordering::Relaxed),
            jobs,
        }
    }

    /// Queues `f`; the receiver yields its result, or an error if the lane is gone.
    pub fn submit<T: Send + 'static>(
        &self,
        f: impl for<'py> FnOnce(Python<'py>) -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        let (reply, answer) = oneshot::channel();
        let _ = self.jobs.send(Box::new(move |py| {
            let _ = reply.send(f(py));
        }));
        answer
    }
}

impl dbtest_runner::lanes::Lane for Lane {
    fn id(&self) -> u64 {
        self.id
    }
}

/// Finishes `rel` on the calling lane if it has nothing to tear down (most files), sparing
/// it a trip to the event loop.
fn finish_at_once(py: Python<'_>, driver: &Py<PyAny>, rel: &str) -> bool {
    driver
        .bind(py)
        .call_method1(intern!(py, "finish_file_at_once"), (rel,))
        .and_then(|done| done.extract::<bool>())
        .unwrap_or(false)
}

fn run_sync(py: Python<'_>, driver: &Py<PyAny>, key: u64, timeout_s: Option<f64>) -> RawResult {
    driver
        .bind(py)
        .call_method1(intern!(py, "run_sync"), (key, timeout_s))
        .and_then(|result| from_python(&result))
        .unwrap_or_else(|e| RawResult::internal("running a test", e))
}

/// Abandons a lane whose job the runner stopped waiting for (a test past its timeout): the
/// thread is still busy with it, so the file's next test gets another lane.
struct Abandon<'a> {
    lanes: &'a Mutex<Lanes<Lane>>,
    file: &'a str,
    lane: u64,
    answered: bool,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.lanes.lock().unwrap().abandon(self.file, self.lane);
        }
    }
}

/// The driver's teardown errors for `rel` (or `<session>`), or the one error of a teardown
/// that dbtest's own code could not run.
fn teardown_errors(rel: &str, answer: PyResult<Vec<TeardownError>>) -> Vec<TestResult> {
    answer
        .map(|errors| errors.into_iter().map(|e| e.into_result(rel)).collect())
        .unwrap_or_else(|e| vec![TestResult::internal_teardown(rel, e)])
}

/// Imports `file` through `driver.collect_file` and converts each entry of the answer's
/// `list_key` list; an import failure becomes the file's error.
pub(crate) fn load_file<T: serde::de::DeserializeOwned>(
    py: Python<'_>,
    driver: &Py<PyAny>,
    root: &Path,
    file: &FileJob,
    list_key: &str,
) -> Result<Vec<T>, FileError> {
    let internal = |e: PyErr| FileError::internal("loading", e);
    let target = import_target(&file.path);
    let conftests: Vec<String> = conftests_for(root, &file.path)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let answer = driver
        .bind(py)
        .call_method1(
            intern!(py, "collect_file"),
            (
                file.path.display().to_string(),
                &file.rel,
                target.sys_path_entry.display().to_string(),
                &target.module,
                conftests,
                file.exclusive,
            ),
        )
        .map_err(internal)?;
    if let Some(failure) = crate::from_python::<LoadAnswer>(&answer)
        .map_err(internal)?
        .failure()
    {
        return Err(failure);
    }
    crate::from_python(&answer.get_item(list_key).map_err(internal)?).map_err(internal)
}

impl PyEngine {
    /// Runs `f` on `file`'s lane, which the lane is given up on if the runner stops waiting.
    async fn on_lane<T: Send + 'static>(
        &self,
        file: &str,
        f: impl for<'py> FnOnce(Python<'py>) -> T + Send + 'static,
    ) -> Result<T, oneshot::error::RecvError> {
        let (answer, lane) = {
            let mut lanes = self.lanes.lock().unwrap();
            let lane = lanes.for_file(file, Lane::start);
            (lane.submit(f), lane.id)
        };
        let mut guard = Abandon {
            lanes: &self.lanes,
            file,
            lane,
            answered: false,
        };
        let result = answer.await;
        guard.answered = true;
        result
    }
}

impl Engine for PyEngine {
    async fn collect(&self, file: FileJob) -> Result<Vec<TestCase>, FileError> {
        let driver = self.driver.obj.clone();
        let root = self.root.clone();
        let rel = file.rel.clone();
        let imports = self.imports.clone();
        if file.exclusive {
            self.lanes.lock().unwrap().mark_exclusive(&rel);
        }
        // The file's import runs on the thread its sync tests will run on.
        let answer = self.on_lane(&rel, move |py| {
            let _turn = py.detach(|| imports.take());
            let cases = load_file(py, &driver, &root, &file, "tests")?;
            Ok(cases
                .into_iter()
                .map(|case| TestCase::collected(&file.rel, case))
                .collect())
        });
        answer
            .await
            .unwrap_or_else(|e| Err(FileError::internal("collecting", e)))
    }

    async fn run(&self, case: TestCase, timeout: Option<Duration>) -> RawResult {
        let timeout_s = timeout.map(|t| t.as_secs_f64());
        if case.is_async {
            self.driver
                .call("run", true, (case.key, timeout_s))
                .await
                .unwrap_or_else(|e| RawResult::internal("running a coroutine", e))
        } else if case.concurrent {
            // Overlapping sync tests need threads of their own.
            let driver = self.driver.obj.clone();
            tokio::task::spawn_blocking(move || {
                Python::attach(|py| run_sync(py, &driver, case.key, timeout_s))
            })
            .await
            .unwrap_or_else(|e| RawResult::internal("running a test", e))
        } else {
            let driver = self.driver.obj.clone();
            let key = case.key;
            self.on_lane(&case.file, move |py| run_sync(py, &driver, key, timeout_s))
                .await
                .unwrap_or_else(|e| RawResult::internal("running a test", e))
        }
    }

    async fn run_pipeline(&self, pipeline: dbtest_runner::Pipeline) {
        let Some(file) = pipeline.cases().first().map(|c| c.file.clone()) else {
            return;
        };
        let driver = self.driver.obj.clone();
        let finished_early = self.finished_early.clone();
        let _ = self
            .on_lane(&file.clone(), move |py| {
                let all_ran = pipeline.drive(|case, timeout| {
                    run_sync(py, &driver, case.key, timeout.map(|t| t.as_secs_f64()))
                });
                // In the same job: a trip back to the lane for it costs more than a trivial file.
                if all_ran && pipeline.ends_file() && finish_at_once(py, &driver, &file) {
                    finished_early.lock().unwrap().insert(file);
                }
            })
            .await;
    }

    async fn arrange(
        &self,
        collected: Vec<(String, Vec<TestCase>)>,
    ) -> Option<Vec<(String, Vec<TestCase>)>> {
        let driver = self.driver.obj.clone();
        // Conftest hooks run on the thread the files were imported on, as under pytest.
        let main = self
            .lanes
            .lock()
            .unwrap()
            .main()
            .cloned()
            .unwrap_or_else(Lane::start);
        let rels: Vec<String> = collected.iter().map(|(rel, _)| rel.clone()).collect();
        let answer = main.submit(move |py| -> PyResult<Option<ArrangedFiles>> {
            let answer = driver
                .bind(py)
                .call_method1(intern!(py, "arrange_session"), (rels,))?;
            if answer.is_none() {
                return Ok(None);
            }
            from_python(&answer).map(Some)
        });
        let arranged = match answer.await {
            Ok(Ok(arranged)) => arranged?,
            // The driver warns of a hook that raised (and answers None); a failure of
            // dbtest's own leaves the collection as it was too.
            _ => return None,
        };
        Some(
            arranged
                .into_iter()
                .map(|(rel, cases)| {
                    let cases = cases
                        .into_iter()
                        .map(|case| TestCase::collected(&rel, case))
                        .collect();
                    (rel, cases)
                })
                .collect(),
        )
    }

    async fn partial_output(&self, case: &TestCase) -> dbtest_runner::Partial {
        let partial = self.driver.call("partial_output", false, (case.key,));
        partial.await.unwrap_or_default()
    }

    fn forget_file(&self, file: &FileJob) {
        self.lanes.lock().unwrap().release(&file.rel);
    }

    async fn finish_file(&self, file: FileJob) -> Vec<TestResult> {
        if self.finished_early.lock().unwrap().remove(&file.rel) {
            self.lanes.lock().unwrap().release(&file.rel);
            return Vec::new();
        }
        let on_lane = {
            let mut lanes = self.lanes.lock().unwrap();
            let on_lane = lanes.of_file(&file.rel).map(|lane| {
                let driver = self.driver.obj.clone();
                let rel = file.rel.clone();
                let exclusive = file.exclusive;
                lane.submit(move |py| {
                    if finish_at_once(py, &driver, &rel) {
                        return Some(Vec::new());
                    }
                    // A file that ran alone is torn down on its lane, the thread its fixtures
                    // were made on (a thread-bound value is closed where it was made).
                    let finish = || driver.bind(py).call_method1("finish_file_sync", (&rel,));
                    exclusive.then(|| teardown_errors(&rel, finish().and_then(|e| from_python(&e))))
                })
            });
            // The lane runs that job before any job of the next file it is given.
            lanes.release(&file.rel);
            on_lane
        };
        if let Some(on_lane) = on_lane {
            if let Ok(Some(done)) = on_lane.await {
                return done;
            }
        }
        let done = self.driver.call("finish_file", true, (file.rel.clone(),));
        teardown_errors(&file.rel, done.await)
    }

    async fn finish_session(&self) -> Vec<TestResult> {
        let main = self.lanes.lock().unwrap().main().cloned();
        if let Some(main) = main {
            // Tests that ran alone made their session fixtures on the main lane.
            let driver = self.driver.obj.clone();
            let done = main.submit(move |py| {
                let finish = driver.bind(py).call_method0("finish_session_sync");
                teardown_errors("<session>", finish.and_then(|e| from_python(&e)))
            });
            if let Ok(done) = done.await {
                return done;
            }
        }
        teardown_errors(
            "<session>",
            self.driver.call("finish_session", true, ()).await,
        )
    }
}
