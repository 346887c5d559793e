//! The scheduler of `dbtest unit`: one task per file bounded by `--jobs`, the tests of a file in
//! written order (or overlapping when they opt in), timeouts, retries, `--maxfail` and Ctrl-C.
//!
//! What a test *is* and how it runs belongs to an [`Engine`]; the Python engine lives in
//! dbtest-py, and the tests here drive a fake one. The runner only decides what runs when.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use dbtest_core::{Event, RawOutcome, RawResult, TestCase, TestResult};
use futures::future::join_all;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
pub use tokio_util::sync::CancellationToken;

/// Ctrl-C for a command that runs without Python's event loop: the first cancels `cancel`
/// (after printing `notice`, if any), the second ends the process with exit 2. Abort the
/// handle when the command is done.
pub fn watch_ctrl_c(
    cancel: CancellationToken,
    notice: Option<&'static str>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if let Some(notice) = notice {
                eprintln!("\n{notice}");
            }
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(dbtest_core::ExitCode::Interrupted as i32);
            }
        }
    })
}

/// A test file as the runner schedules it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    pub path: PathBuf,
    /// Path relative to the project root with `/` separators: the prefix of every test id.
    pub rel: String,
    /// The file may not overlap with anything (written for pytest or unittest, not marked
    /// safe; DESIGN section 2): it is collected, run and torn down with no other file's
    /// tests in flight, one test at a time.
    pub exclusive: bool,
}

/// What a test still running has written so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Partial {
    pub stdout: String,
    pub stderr: String,
    pub log: String,
}

/// A file that could not be imported or collected.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub message: String,
    pub traceback: Option<String>,
    /// The file skipped itself while being imported (pytest's module-level skip): reported
    /// as one `skipped` entry, not an error.
    pub skipped: bool,
}

impl FileError {
    /// A failure of dbtest's own code while loading a file, reported on the file.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> FileError {
        FileError {
            message: dbtest_core::internal_message(context, err),
            traceback: None,
            skipped: false,
        }
    }
}

/// An engine's answer for a file it was asked to load: why it has no items, if it has none.
#[derive(Debug, Default, serde::Deserialize)]
pub struct LoadAnswer {
    error: Option<String>,
    traceback: Option<String>,
    /// The reason of a module-level skip.
    skipped: Option<String>,
}

impl LoadAnswer {
    pub fn failure(self) -> Option<FileError> {
        match (self.error, self.skipped) {
            (Some(message), _) => Some(FileError {
                message,
                traceback: self.traceback,
                skipped: false,
            }),
            (None, Some(reason)) => Some(FileError {
                message: reason,
                traceback: None,
                skipped: true,
            }),
            (None, None) => None,
        }
    }
}

/// Runs tests of one kind (Python, or a fake in tests). Every method may be called
/// concurrently for different files.
pub trait Engine: Send + Sync + 'static {
    /// Imports `file` and lists its tests in written order.
    fn collect(
        &self,
        file: FileJob,
    ) -> impl Future<Output = Result<Vec<TestCase>, FileError>> + Send;

    /// Runs one attempt of `case`. `timeout` is the time it may take; an engine that can stop a
    /// test cleanly (a coroutine) should do so itself and report `Timeout`. The runner stops
    /// waiting for any test a little after its timeout regardless.
    fn run(
        &self,
        case: TestCase,
        timeout: Option<Duration>,
    ) -> impl Future<Output = RawResult> + Send;

    /// Runs a file's consecutive sync tests back to back: the engine asks the pipeline before
    /// each test and hands it each result, with no round trip through the runner in between
    /// (for trivial tests that round trip costs more than the tests). The default runs them
    /// one [`Engine::run`] at a time.
    fn run_pipeline(&self, pipeline: Pipeline) -> impl Future<Output = ()> + Send {
        async move {
            for (i, case) in pipeline.cases().iter().enumerate() {
                if !pipeline.start(i) {
                    break;
                }
                let raw = self.run(case.clone(), pipeline.timeout(i)).await;
                if !pipeline.finish(i, raw) {
                    break;
                }
            }
        }
    }

    /// What a test that is still running has printed and logged so far: reported with its
    /// timeout when the runner gives up waiting for it.
    fn partial_output(&self, _case: &TestCase) -> impl Future<Output = Partial> + Send {
        async { Partial::default() }
    }

    /// The files that run alone ([`FileJob::exclusive`]) are all collected, before any test
    /// runs: the engine may reorder and deselect their tests across files, as pytest's
    /// `pytest_collection_modifyitems` does once over the session's items. `collected` holds
    /// each file's tests (by `rel`) in run order; the answer is the files in their new order
    /// with their new tests (a file left out runs nothing), or `None`: as they are.
    fn arrange(
        &self,
        _collected: Vec<(String, Vec<TestCase>)>,
    ) -> impl Future<Output = Option<Vec<(String, Vec<TestCase>)>>> + Send {
        async { None }
    }

    /// The file will run nothing (a collection error, nothing selected, `--collect-only`):
    /// let go of what collecting it holds.
    fn forget_file(&self, _file: &FileJob) {}

    /// Every selected test of the file has finished: tear down what the file set up.
    /// Teardown failures come back as extra `error` results.
    fn finish_file(&self, file: FileJob) -> impl Future<Output = Vec<TestResult>> + Send;

    /// The run is over: tear down session-scoped state.
    fn finish_session(&self) -> impl Future<Output = Vec<TestResult>> + Send;
}

/// A shared engine is an engine: a worker keeps one engine (and its session) across files.
impl<E: Engine> Engine for Arc<E> {
    fn collect(
        &self,
        file: FileJob,
    ) -> impl Future<Output = Result<Vec<TestCase>, FileError>> + Send {
        (**self).collect(file)
    }
    fn run(
        &self,
        case: TestCase,
        timeout: Option<Duration>,
    ) -> impl Future<Output = RawResult> + Send {
        (**self).run(case, timeout)
    }
    fn run_pipeline(&self, pipeline: Pipeline) -> impl Future<Output = ()> + Send {
        (**self).run_pipeline(pipeline)
    }
    fn partial_output(&self, case: &TestCase) -> impl Future<Output = Partial> + Send {
        (**self).partial_output(case)
    }
    fn arrange(
        &self,
        collected: Vec<(String, Vec<TestCase>)>,
    ) -> impl Future<Output = Option<Vec<(String, Vec<TestCase>)>>> + Send {
        (**self).arrange(collected)
    }
    fn forget_file(&self, file: &FileJob) {
        (**self).forget_file(file)
    }
    fn finish_file(&self, file: FileJob) -> impl Future<Output = Vec<TestResult>> + Send {
        (**self).finish_file(file)
    }
    fn finish_session(&self) -> impl Future<Output = Vec<TestResult>> + Send {
        (**self).finish_session()
    }
}

pub type Selector = Arc<dyn Fn(&TestCase) -> bool + Send + Sync>;
/// Sees every event of a run. It is called from the runner's tasks and from the threads an
/// engine runs a [`Pipeline`] on (which may hold the GIL): it must not wait for Python.
pub type Observer = Arc<Mutex<dyn FnMut(&Event) + Send>>;

/// Consecutive sync tests of one file that an engine runs back to back (see
/// [`Engine::run_pipeline`]). The runner keeps its say: `start` refuses once the run halts
/// (`-x`, Ctrl-C) or the runner gave up on a test that outlived its timeout, and `finish`
/// hands a failure that will be retried back to the runner, whose retries run one at a time.
#[derive(Clone)]
pub struct Pipeline {
    control: Arc<dyn PipelineControl>,
}

trait PipelineControl: Send + Sync {
    fn cases(&self) -> &[TestCase];
    fn timeout(&self, i: usize) -> Option<Duration>;
    fn start(&self, i: usize) -> bool;
    fn finish(&self, i: usize, raw: RawResult) -> bool;
    fn ends_file(&self) -> bool;
}

impl Pipeline {
    /// The tests, in the order they must run.
    pub fn cases(&self) -> &[TestCase] {
        self.control.cases()
    }

    /// The time test `i` may take (its own timeout, else the run's).
    pub fn timeout(&self, i: usize) -> Option<Duration> {
        self.control.timeout(i)
    }

    /// Call right before test `i` runs; `false`: run nothing more.
    pub fn start(&self, i: usize) -> bool {
        self.control.start(i)
    }

    /// Call with test `i`'s result; `false`: run nothing more.
    pub fn finish(&self, i: usize, raw: RawResult) -> bool {
        self.control.finish(i, raw)
    }

    /// The pipeline holds the rest of its file: once every test has finished with `true`,
    /// the file's tests are all done and the engine may finish the file right away (the
    /// runner still calls [`Engine::finish_file`]).
    pub fn ends_file(&self) -> bool {
        self.control.ends_file()
    }

    /// Runs the tests in order on the calling thread with `run`, for an engine whose tests
    /// block. True when every test ran and the runner wants nothing more of them.
    pub fn drive(&self, mut run: impl FnMut(&TestCase, Option<Duration>) -> RawResult) -> bool {
        for (i, case) in self.cases().iter().enumerate() {
            if !self.start(i) {
                return false;
            }
            let raw = run(case, self.timeout(i));
            if !self.finish(i, raw) {
                return false;
            }
        }
        true
    }
}

#[derive(Clone)]
pub struct RunOptions {
    /// Files whose tests may be in flight at once.
    pub jobs: usize,
    /// Default per-test timeout (`--timeout`); a test's own timeout wins.
    pub timeout: Option<Duration>,
    /// Stop starting tests after this many failing ones (`-x`, `--maxfail`).
    pub stop_after: Option<u32>,
    /// Extra attempts for a failing test (`--retries`).
    pub retries: u32,
    /// Collect and select, but run nothing.
    pub collect_only: bool,
    /// Tear the session down when the files are done. A worker process runs one file at a
    /// time and keeps its session (its fixtures) until it is told to exit.
    pub finish_session: bool,
    /// `--random-order`: shuffle each file's tests with this seed (files are shuffled by the
    /// caller, which owns their order).
    pub shuffle_seed: Option<u64>,
    /// How long a file's collection (its import) may take before it is reported as an error
    /// and left behind (`--collect-timeout`).
    pub collect_timeout: Option<Duration>,
    /// A folder shared by the processes of one run, where `@dbtest.serial` resources are
    /// locked across them (a worker process of `--workers`); `None`: this process only.
    pub serial_locks: Option<PathBuf>,
    pub select: Selector,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: 1,
            timeout: None,
            stop_after: None,
            retries: 0,
            collect_only: false,
            finish_session: true,
            shuffle_seed: None,
            collect_timeout: None,
            serial_locks: None,
            select: Arc::new(|_| true),
        }
    }
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct RunOutput {
    /// Results in file order, then written order within a file.
    pub results: Vec<TestResult>,
    /// Ids of the selected tests (what `--collect-only` lists).
    pub selected: Vec<String>,
    pub interrupted: bool,
    /// A sync test outlived its timeout and was left running on its thread.
    pub abandoned: bool,
    pub duration: Duration,
}

/// How long the runner waits past a coroutine's own timeout before giving up on it: the engine
/// is expected to cancel it first, and the grace lets its teardown run.
const ASYNC_TIMEOUT_GRACE: Duration = Duration::from_secs(2);
/// After Ctrl-C, how long the runner waits for the tests already running: one that is about
/// to finish keeps its result (nothing gathered is lost); one that is stuck is left behind.
const INTERRUPT_GRACE: Duration = Duration::from_secs(1);
/// Session teardown after Ctrl-C gets this long before the partial report is written anyway.
const INTERRUPTED_TEARDOWN_LIMIT: Duration = Duration::from_secs(5);

/// Awaits a teardown's errors; after Ctrl-C, for [`INTERRUPTED_TEARDOWN_LIMIT`] at most.
async fn teardown(
    errors: impl Future<Output = Vec<TestResult>>,
    interrupted: bool,
) -> Vec<TestResult> {
    if interrupted {
        tokio::time::timeout(INTERRUPTED_TEARDOWN_LIMIT, errors)
            .await
            .unwrap_or_default()
    } else {
        errors.await
    }
}

struct Shared<E> {
    engine: E,
    opts: RunOptions,
    observer: Observer,
    cancel: CancellationToken,
    stop: AtomicBool,
    failures: AtomicU32,
    abandoned: AtomicBool,
    /// (file index, position in file, result)
    results: Mutex<Vec<(usize, usize, TestResult)>>,
    selected: Mutex<Vec<(usize, Vec<String>)>>,
    serial: serial::SerialLocks,
    /// Held by every file while it runs; an exclusive file ([`FileJob::exclusive`]) holds it
    /// alone, from its import to its teardown, as pytest would run it.
    files_alone: tokio::sync::RwLock<()>,
    /// Held by every test attempt (and pipeline) while it runs; an exclusive test
    /// ([`TestCase::exclusive`]) holds it alone.
    tests_alone: tokio::sync::RwLock<()>,
}

/// A share of a lock that some holders need alone, and others may share.
enum Turn<'a> {
    Shared(#[allow(dead_code)] tokio::sync::RwLockReadGuard<'a, ()>),
    Alone(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'a, ()>),
}

async fn turn(lock: &tokio::sync::RwLock<()>, alone: bool) -> Turn<'_> {
    if alone {
        Turn::Alone(lock.write().await)
    } else {
        Turn::Shared(lock.read().await)
    }
}

impl<E: Engine> Shared<E> {
    fn emit(&self, event: Event) {
        let mut observer = self.observer.lock().unwrap_or_else(|p| p.into_inner());
        observer(&event);
    }

    fn record(&self, file_index: usize, position: usize, result: TestResult) {
        if result.outcome.fails_run() {
            let failures = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
            if self.opts.stop_after.is_some_and(|limit| failures >= limit) {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
        self.emit(Event::TestFinished(Box::new(result.clone())));
        self.results
            .lock()
            .unwrap()
            .push((file_index, position, result));
    }

    fn halted(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.cancel.is_cancelled()
    }

    async fn run_file(
        self: Arc<Self>,
        file_index: usize,
        job: FileJob,
        collected: Option<Result<Vec<TestCase>, FileError>>,
        _permit: OwnedSemaphorePermit,
    ) {
        if self.halted() {
            return;
        }
        let _turn = tokio::select! {
            _ = self.cancel.cancelled() => return,
            t = turn(&self.files_alone, job.exclusive) => t,
        };
        if self.halted() {
            return;
        }
        let collected = match collected {
            Some(collected) => collected,
            None => tokio::select! {
                _ = self.cancel.cancelled() => return,
                c = self.collect(&job) => c,
            },
        };
        let cases = match collected {
            Ok(cases) => cases,
            Err(e) => {
                self.engine.forget_file(&job);
                self.emit(Event::FileCollected {
                    file: job.rel.clone(),
                    tests: 0,
                });
                let result = if e.skipped {
                    TestResult::file_skipped(&job.rel, e.message)
                } else {
                    TestResult::file_error(&job.rel, e.message, e.traceback)
                };
                self.record(file_index, 0, result);
                self.emit(Event::FileFinished { file: job.rel });
                return;
            }
        };
        let mut cases: Vec<TestCase> = cases
            .into_iter()
            .filter(|c| (self.opts.select)(c))
            .collect();
        if let Some(seed) = self.opts.shuffle_seed {
            // Seeded per file, so a file's order replays whatever ran before it.
            let file_seed = job
                .rel
                .bytes()
                .fold(seed, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
            fastrand::Rng::with_seed(file_seed).shuffle(&mut cases);
        }
        self.selected
            .lock()
            .unwrap()
            .push((file_index, cases.iter().map(|c| c.id.clone()).collect()));
        self.emit(Event::FileCollected {
            file: job.rel.clone(),
            tests: cases.len(),
        });
        if self.opts.collect_only || cases.is_empty() {
            self.engine.forget_file(&job);
            if !self.opts.collect_only {
                self.emit(Event::FileFinished { file: job.rel });
            }
            return;
        }
        let mut position = 0;
        while position < cases.len() && !self.halted() {
            let piped = cases[position..]
                .iter()
                .take_while(|c| pipelines(c))
                .count();
            if piped > 0 {
                let batch = &cases[position..position + piped];
                let ends_file = position + piped == cases.len();
                let (settled, unsettled) =
                    self.pipeline(file_index, position, batch, ends_file).await;
                position += settled;
                match unsettled {
                    Some(first) => {
                        let result = self.conclude(&cases[position], first).await;
                        self.record(file_index, position, result);
                        position += 1;
                    }
                    // The engine stopped of its own accord: nothing more to expect from it.
                    None if settled == 0 => break,
                    None => {}
                }
                continue;
            }
            let batch = next_batch(&cases[position..]);
            let runs = batch.iter().enumerate().map(|(i, case)| {
                let this = self.clone();
                async move { (position + i, this.run_case(case).await) }
            });
            let mut runs = Box::pin(join_all(runs));
            let finished = tokio::select! {
                r = &mut runs => r,
                _ = self.cancel.cancelled() => {
                    // Ctrl-C: tests that finish within the grace keep their results.
                    match tokio::time::timeout(INTERRUPT_GRACE, runs).await {
                        Ok(r) => r,
                        Err(_) => break,
                    }
                }
            };
            for (pos, result) in finished {
                if let Some(result) = result {
                    self.record(file_index, pos, result);
                }
            }
            position += batch.len();
        }
        let extra = teardown(
            self.engine.finish_file(job.clone()),
            self.cancel.is_cancelled(),
        )
        .await;
        for (i, result) in extra.into_iter().enumerate() {
            self.record(file_index, cases.len() + i, result);
        }
        self.emit(Event::FileFinished { file: job.rel });
    }

    /// Collects `job`, giving up on it after the collection timeout: its import is left
    /// running (a thread cannot be stopped from outside), and the run goes on without it.
    async fn collect(&self, job: &FileJob) -> Result<Vec<TestCase>, FileError> {
        let collect = self.engine.collect(job.clone());
        let Some(limit) = self.opts.collect_timeout else {
            return collect.await;
        };
        match tokio::time::timeout(limit, collect).await {
            Ok(found) => found,
            Err(_) => {
                self.abandoned.store(true, Ordering::SeqCst);
                Err(FileError {
                    message: collect_timeout_message(&job.rel, limit),
                    traceback: None,
                    skipped: false,
                })
            }
        }
    }

    /// Every attempt of one test; `None` when the run stopped before it started.
    async fn run_case(&self, case: &TestCase) -> Option<TestResult> {
        if self.halted() {
            return None;
        }
        if let Some(reason) = &case.skip {
            return Some(TestResult::skipped(case, reason));
        }
        // A serial test waits for its resource before it starts: the wait is no part of its
        // time (nor of its retries', which hold the resource too).
        let _serial = match &case.serial {
            Some(resource) => match self.serial.take(resource).await {
                Ok(turn) => Some(turn),
                Err(e) => {
                    let message = format!(
                        "cannot lock the serial resource {resource:?} across worker processes: \
                         {e}; check that the temporary folder is writable, or run without --workers"
                    );
                    let raw = RawResult::new(RawOutcome::Error, Some(message));
                    return Some(TestResult::from_attempt(case, raw, 1));
                }
            },
            None => None,
        };
        if self.halted() {
            return None;
        }
        self.emit_started(case);
        let first = self.attempt(case).await;
        Some(self.conclude(case, first).await)
    }

    fn emit_started(&self, case: &TestCase) {
        self.emit(Event::TestStarted {
            case: Box::new(case.clone()),
            timeout_s: self.timeout_of(case).map(|t| t.as_secs_f64()),
        });
    }

    /// The test's result from its first attempt, after the retries that attempt calls for.
    async fn conclude(&self, case: &TestCase, first: RawResult) -> TestResult {
        let (mut raw, mut attempt) = (first, 1);
        while self.retries_after(case, &raw, attempt) {
            attempt += 1;
            raw = self.attempt(case).await;
        }
        TestResult::from_attempt(case, raw, attempt)
    }

    /// Whether the `attempt`-th attempt of `case`, which ended in `raw`, is followed by another.
    fn retries_after(&self, case: &TestCase, raw: &RawResult, attempt: u32) -> bool {
        // An expected failure is not retried: failing is what it is supposed to do.
        let max_attempts = match (&case.xfail, case.retries) {
            (Some(_), _) => 1,
            (None, Some(retries)) => 1 + retries,
            (None, None) => 1 + self.opts.retries,
        };
        matches!(
            raw.raw_outcome(),
            RawOutcome::Failed | RawOutcome::Error | RawOutcome::Timeout | RawOutcome::Crashed
        ) && attempt < max_attempts
            && !self.halted()
    }

    /// Runs `cases` (sync tests of one file, from `first_position` on) as one pipeline. Returns
    /// how many of them are settled (recorded) and, when the pipeline stopped at a test whose
    /// first attempt needs retries or outlived its timeout, that attempt: it belongs to the
    /// test right after the settled ones.
    async fn pipeline(
        self: &Arc<Self>,
        file_index: usize,
        first_position: usize,
        cases: &[TestCase],
        ends_file: bool,
    ) -> (usize, Option<RawResult>) {
        let control = Arc::new(FilePipeline {
            shared: self.clone(),
            file_index,
            first_position,
            ends_file,
            timeouts: cases.iter().map(|c| self.timeout_of(c)).collect(),
            cases: cases.to_vec(),
            state: Mutex::new(PipeState {
                since: Instant::now(),
                settled: 0,
                given_up: false,
                handed_back: None,
                wake_on_timed_start: false,
            }),
            timed_start: tokio::sync::Notify::new(),
        });
        let _turn = self.tests_alone.read().await;
        let mut run = Box::pin(self.engine.run_pipeline(Pipeline {
            control: control.clone(),
        }));
        // The runner sleeps until the running test's deadline, not once per test: the clock
        // is read again when the deadline passes, by which time it has usually moved on.
        let timed_out = loop {
            let deadline = control.deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = &mut run => break None,
                _ = sleep => {
                    if let Some(expired) = control.expire(Instant::now()) {
                        break Some(expired);
                    }
                }
                _ = control.timed_start.notified() => {}
                _ = self.cancel.cancelled() => {
                    // Ctrl-C: no test starts any more (`start` refuses once the run halts);
                    // the one running keeps its result if it finishes within the grace.
                    let _ = tokio::time::timeout(INTERRUPT_GRACE, &mut run).await;
                    control.state.lock().unwrap().given_up = true;
                    break None;
                }
            }
        };
        // Dropping `run` tells the engine that the runner no longer waits for it.
        drop(run);
        let (settled, handed_back) = {
            let mut state = control.state.lock().unwrap();
            (state.settled, state.handed_back.take())
        };
        match timed_out {
            Some((started, limit)) => {
                let raw = self.gave_up(&cases[settled], started, limit).await;
                (settled, Some(raw))
            }
            None => (settled, handed_back),
        }
    }

    /// The result of a sync test the runner stopped waiting for: it is abandoned, still
    /// running on its thread (a thread cannot be stopped from outside).
    async fn gave_up(&self, case: &TestCase, started: Instant, limit: Duration) -> RawResult {
        self.abandoned.store(true, Ordering::SeqCst);
        let Partial {
            stdout,
            stderr,
            log,
        } = self.engine.partial_output(case).await;
        RawResult {
            stdout,
            stderr,
            log,
            outcome: Some(RawOutcome::Timeout),
            duration_s: started.elapsed().as_secs_f64(),
            message: Some(format!("timed out after {}s", fmt_secs(limit))),
            ..Default::default()
        }
    }

    /// A test's own timeout, else the run's. An own timeout of 0 is none (pytest-timeout's
    /// `@pytest.mark.timeout(0)`), whatever the run's.
    fn timeout_of(&self, case: &TestCase) -> Option<Duration> {
        match case.timeout_s {
            Some(t) if t <= 0.0 => None,
            Some(t) => Some(Duration::from_secs_f64(t)),
            None => self.opts.timeout,
        }
    }

    async fn attempt(&self, case: &TestCase) -> RawResult {
        let _turn = turn(&self.tests_alone, case.exclusive).await;
        let timeout = self.timeout_of(case);
        let run = self.engine.run(case.clone(), timeout);
        let Some(limit) = timeout else {
            return run.await;
        };
        let wait = if case.is_async {
            limit + ASYNC_TIMEOUT_GRACE
        } else {
            limit
        };
        let started = Instant::now();
        match tokio::time::timeout(wait, run).await {
            Ok(raw) => raw,
            Err(_) => self.gave_up(case, started, limit).await,
        }
    }
}

/// Whether a test can run in a [`Pipeline`]: a plain sync test. Async and overlapping tests
/// are scheduled by the runner, a serial or exclusive test waits for its lock, and a skipped
/// one does not run at all.
fn pipelines(case: &TestCase) -> bool {
    !case.is_async
        && !case.concurrent
        && !case.exclusive
        && case.serial.is_none()
        && case.skip.is_none()
}

/// The tests that run next as a batch: consecutive tests that opted into overlap, or one test.
fn next_batch(cases: &[TestCase]) -> &[TestCase] {
    let overlapping = cases.iter().take_while(|c| c.concurrent).count();
    &cases[..overlapping.max(1)]
}

/// The runner's side of a [`Pipeline`].
struct FilePipeline<E> {
    shared: Arc<Shared<E>>,
    file_index: usize,
    first_position: usize,
    ends_file: bool,
    cases: Vec<TestCase>,
    timeouts: Vec<Option<Duration>>,
    state: Mutex<PipeState>,
    /// Wakes the runner when a test with a timeout starts while it waits without a deadline.
    timed_start: tokio::sync::Notify,
}

struct PipeState {
    /// Tests `0..settled` have their results recorded; test `settled` is the one running
    /// (or next to run).
    settled: usize,
    /// Since when test `settled`'s time runs: its start, or the previous test's end.
    since: Instant,
    /// The runner stopped waiting (a timeout, Ctrl-C): later results are not wanted.
    given_up: bool,
    /// The failed first attempt of test `settled`, which the runner retries.
    handed_back: Option<RawResult>,
    /// The runner waits without a deadline (the running test has no timeout).
    wake_on_timed_start: bool,
}

impl<E: Engine> FilePipeline<E> {
    /// When the running test's time is up, if it has a timeout. Without one, the next test
    /// that has one wakes the runner as it starts (only then: a wake-up per test would cost
    /// what the pipeline saves).
    fn deadline(&self) -> Option<Instant> {
        let mut state = self.state.lock().unwrap();
        let i = state.settled;
        match self.timeouts.get(i) {
            Some(Some(limit)) => Some(state.since + *limit),
            Some(None) => {
                state.wake_on_timed_start = self.timeouts[i..].iter().any(Option::is_some);
                None
            }
            None => None,
        }
    }

    /// Gives up on the running test if its time is up: its start and allowance.
    fn expire(&self, now: Instant) -> Option<(Instant, Duration)> {
        let mut state = self.state.lock().unwrap();
        let limit = (*self.timeouts.get(state.settled)?)?;
        if now < state.since + limit {
            return None;
        }
        state.given_up = true;
        Some((state.since, limit))
    }
}

impl<E: Engine> PipelineControl for FilePipeline<E> {
    fn cases(&self) -> &[TestCase] {
        &self.cases
    }

    fn timeout(&self, i: usize) -> Option<Duration> {
        self.timeouts[i]
    }

    fn ends_file(&self) -> bool {
        self.ends_file
    }

    fn start(&self, i: usize) -> bool {
        let wake = {
            let mut state = self.state.lock().unwrap();
            if state.given_up || self.shared.halted() {
                return false;
            }
            debug_assert_eq!(i, state.settled, "a pipeline runs its tests in order");
            state.since = Instant::now();
            let wake = state.wake_on_timed_start && self.timeouts[i].is_some();
            state.wake_on_timed_start &= !wake;
            wake
        };
        if wake {
            self.timed_start.notify_one();
        }
        self.shared.emit_started(&self.cases[i]);
        true
    }

    fn finish(&self, i: usize, raw: RawResult) -> bool {
        // Recorded under the lock, so a timeout cannot be declared for a test as it finishes.
        let mut state = self.state.lock().unwrap();
        if state.given_up {
            return false;
        }
        let case = &self.cases[i];
        if self.shared.retries_after(case, &raw, 1) {
            state.handed_back = Some(raw);
            return false;
        }
        self.shared.record(
            self.file_index,
            self.first_position + i,
            TestResult::from_attempt(case, raw, 1),
        );
        state.settled = i + 1;
        state.since = Instant::now();
        !self.shared.halted()
    }
}

/// What a file whose collection outlived the collection timeout is reported with.
pub fn collect_timeout_message(rel: &str, limit: Duration) -> String {
    format!(
        "collecting {rel} did not finish within {}s (the collection timeout): its import, or \
         that of a conftest.py it needs, never returned, and the run went on without it; find \
         what the module waits for or computes at import time, or raise the limit with \
         --collect-timeout or [tool.dbtest] collect_timeout",
        fmt_secs(limit)
    )
}

pub fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

/// Runs `files` with `engine`. Returns when every file is done, or soon after `cancel` fires
/// (Ctrl-C), with whatever finished by then.
pub async fn run<E: Engine>(
    engine: E,
    files: Vec<FileJob>,
    opts: RunOptions,
    observer: Observer,
    cancel: CancellationToken,
) -> RunOutput {
    let started = Instant::now();
    let permits = Arc::new(Semaphore::new(opts.jobs.max(1)));
    let shared = Arc::new(Shared {
        engine,
        serial: serial::SerialLocks::new(opts.serial_locks.clone()),
        opts,
        observer,
        cancel: cancel.clone(),
        stop: AtomicBool::new(false),
        failures: AtomicU32::new(0),
        abandoned: AtomicBool::new(false),
        results: Mutex::new(Vec::new()),
        selected: Mutex::new(Vec::new()),
        files_alone: tokio::sync::RwLock::new(()),
        tests_alone: tokio::sync::RwLock::new(()),
    });
    shared.emit(Event::RunStarted { files: files.len() });
    // pytest imports every test module before it runs any test, and a suite written for it
    // may depend on what one module's import did for another's tests: files that run as
    // pytest would run them are all collected first, in order.
    let mut collected: HashMap<usize, Result<Vec<TestCase>, FileError>> = HashMap::new();
    for (index, job) in files.iter().enumerate().filter(|(_, job)| job.exclusive) {
        let found = tokio::select! {
            c = shared.collect(job) => c,
            _ = cancel.cancelled() => break,
        };
        collected.insert(index, found);
    }
    let (files, mut collected) = if cancel.is_cancelled() {
        (files, collected)
    } else {
        arrange(&shared.engine, files, collected).await
    };
    let mut tasks = tokio::task::JoinSet::new();
    // Files start in the order given (longest first, or the --random-order shuffle): a permit
    // is taken before a file's task exists, so tasks never race for them.
    // Files that run alone run in their order (pytest's, or what `arrange` left): one task
    // runs them one after another, where tasks of their own would race for their turn.
    let mut alone = Vec::new();
    for (index, job) in files.into_iter().enumerate() {
        let found = collected.remove(&index);
        if job.exclusive {
            alone.push((index, job, found));
            continue;
        }
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = cancel.cancelled() => break,
        };
        tasks.spawn(shared.clone().run_file(index, job, found, permit));
    }
    if !alone.is_empty() {
        let (shared, permits, cancel) = (shared.clone(), permits.clone(), cancel.clone());
        tasks.spawn(async move {
            for (index, job, found) in alone {
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
                    _ = cancel.cancelled() => break,
                };
                shared.clone().run_file(index, job, found, permit).await;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    let interrupted = cancel.is_cancelled();
    if !shared.opts.collect_only && shared.opts.finish_session {
        let extra = teardown(shared.engine.finish_session(), interrupted).await;
        for (i, result) in extra.into_iter().enumerate() {
            shared.record(usize::MAX, i, result);
        }
    }
    let mut results = std::mem::take(&mut *shared.results.lock().unwrap());
    results.sort_by_key(|(file, pos, _)| (*file, *pos));
    let mut selected = std::mem::take(&mut *shared.selected.lock().unwrap());
    selected.sort_by_key(|(file, _)| *file);
    RunOutput {
        results: results.into_iter().map(|(_, _, r)| r).collect(),
        selected: selected.into_iter().flat_map(|(_, ids)| ids).collect(),
        interrupted,
        abandoned: shared.abandoned.load(Ordering::SeqCst),
        duration: started.elapsed(),
    }
}

/// A file's collection: its tests, or why it has none.
type Collected = Result<Vec<TestCase>, FileError>;

/// Lets the engine arrange the collected files that run alone ([`Engine::arrange`]): they
/// take the places they held among `files` in the engine's order, then the ones it left out
/// (files that failed to collect keep their error; the others run nothing).
async fn arrange<E: Engine>(
    engine: &E,
    files: Vec<FileJob>,
    mut collected: HashMap<usize, Collected>,
) -> (Vec<FileJob>, HashMap<usize, Collected>) {
    let ok: Vec<(String, Vec<TestCase>)> = files
        .iter()
        .enumerate()
        .filter_map(|(i, job)| match collected.get(&i) {
            Some(Ok(cases)) => Some((job.rel.clone(), cases.clone())),
            _ => None,
        })
        .collect();
    if ok.is_empty() {
        return (files, collected);
    }
    let Some(arranged) = engine.arrange(ok).await else {
        return (files, collected);
    };
    let mut alone: Vec<(FileJob, Collected)> = Vec::new();
    let mut rest: Vec<Option<(FileJob, Option<Collected>)>> = files
        .into_iter()
        .enumerate()
        .map(|(i, job)| Some((job, collected.remove(&i))))
        .collect();
    let slots: Vec<usize> = (0..rest.len())
        .filter(|&i| matches!(&rest[i], Some((_, Some(_)))))
        .collect();
    for (rel, cases) in arranged {
        let found = rest
            .iter_mut()
            .find(|entry| matches!(entry, Some((job, Some(Ok(_)))) if job.rel == rel));
        if let Some(entry) = found {
            let (job, _) = entry.take().expect("found above");
            alone.push((job, Ok(cases)));
        }
    }
    for &slot in &slots {
        if let Some((job, Some(found))) = rest[slot].take() {
            // Left out by the engine: every test deselected, unless it failed to collect.
            alone.push((job, found.map(|_| Vec::new())));
        }
    }
    let mut arranged_alone = alone.into_iter();
    let mut files = Vec::with_capacity(rest.len());
    for (i, entry) in rest.into_iter().enumerate() {
        let (job, found) = match entry {
            Some((job, None)) => (job, None),
            _ => {
                let (job, found) = arranged_alone.next().expect("one per slot");
                (job, Some(found))
            }
        };
        if let Some(found) = found {
            collected.insert(i, found);
        }
        files.push(job);
    }
    (files, collected)
}

pub mod lanes;
pub mod protocol;
mod serial;
pub mod workers;

#[cfg(test)]
mod tests;
