//! `--workers N`: files run in worker processes that this parent starts and drives, so that
//! CPU-bound tests use every core and one bad test cannot take the run down.
//!
//! Each worker runs one file at a time; an idle worker takes the next file from a shared
//! queue (longest first, as the caller ordered it), which is work stealing without a thief.
//! A worker that dies mid-file has its running test reported `crashed`; a test that outlives
//! its hard timeout is reported `timeout` and its worker is stopped (SIGTERM, then SIGKILL).
//! Either way a fresh worker continues the file after that test. A file whose import does
//! not return within the collection timeout is reported as an error, and its worker replaced.
//!
//! `@dbtest.serial` resources are locked across the workers through files in a folder made
//! for the run (see `serial.rs`), so files are never pinned to a worker for them.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use dbtest_core::{Event, RawOutcome, RawResult, TestCase, TestResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio_util::sync::CancellationToken;

use crate::protocol::{Command, FrameReader, Item, Message};
use crate::{FileJob, Observer, RunOutput};

/// How to start one worker process.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
}

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub workers: usize,
    pub stop_after: Option<u32>,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// A test is stopped this long after its own timeout: the worker's in-process timeout
    /// (which can cancel a coroutine cleanly) gets the first chance.
    pub hard_timeout_margin: Duration,
    /// [`crate::RunOptions::collect_timeout`], which the workers apply; the parent stops a
    /// worker that has not answered a few seconds past it (counted once the worker is up).
    pub collect_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            workers: 2,
            stop_after: None,
            kill_grace: Duration::from_secs(2),
            hard_timeout_margin: Duration::from_millis(750),
            collect_timeout: None,
        }
    }
}

/// The most of a worker's own output kept for crash reports.
const OUTPUT_KEPT: usize = 64 * 1024;
/// The most of it quoted in one crashed test's report.
const OUTPUT_QUOTED: usize = 4000;

struct Pending {
    index: usize,
    job: FileJob,
    /// Ids already reported (finished, crashed or timed out), not to be run again.
    skip: Vec<String>,
    /// The file's collection was reported to the observer already.
    announced: bool,
    /// Crashes while nothing was running (an import that kills the process).
    import_crashes: u32,
}

struct Pool {
    opts: PoolOptions,
    spec: WorkerSpec,
    observer: Observer,
    cancel: CancellationToken,
    queue: Mutex<VecDeque<Pending>>,
    stop: AtomicBool,
    failures: AtomicU32,
    results: Mutex<Vec<(usize, usize, TestResult)>>,
    sequence: AtomicU32,
    /// How many workers have been started (the next one's number).
    started: AtomicU32,
    /// Where the workers lock `@dbtest.serial` resources.
    serial_locks: PathBuf,
}

impl Pool {
    fn emit(&self, event: Event) {
        let mut observer = self.observer.lock().unwrap_or_else(|p| p.into_inner());
        observer(&event);
    }

    fn record(&self, file_index: usize, result: TestResult) {
        if result.outcome.fails_run() {
            let failures = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
            if self.opts.stop_after.is_some_and(|limit| failures >= limit) {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
        self.emit(Event::TestFinished(Box::new(result.clone())));
        let seq = self.sequence.fetch_add(1, Ordering::SeqCst) as usize;
        self.results.lock().unwrap().push((file_index, seq, result));
    }

    fn halted(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.cancel.is_cancelled()
    }

    fn next(&self) -> Option<Pending> {
        if self.halted() {
            return None;
        }
        self.queue.lock().unwrap().pop_front()
    }
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    frames: FrameReader,
    /// What one read of stdout gets.
    chunk: Vec<u8>,
    /// The worker has said it is ready (it has started and reads commands).
    ready: bool,
    /// The worker's stdout has closed.
    ended: bool,
    /// The tail of what the worker printed (its stderr, and stray stdout), for crash reports.
    output: Arc<Mutex<String>>,
    /// Total bytes ever appended to `output`, to find what a test printed since it started.
    written: Arc<AtomicU32>,
    /// Reads stderr into `output` until the worker's end closes it.
    stderr_reader: tokio::task::JoinHandle<()>,
}

fn keep_output(output: &Mutex<String>, written: &AtomicU32, text: &str) {
    let mut out = output.lock().unwrap();
    out.push_str(text);
    written.fetch_add(text.len() as u32, Ordering::SeqCst);
    if out.len() > OUTPUT_KEPT {
        let mut cut = out.len() - OUTPUT_KEPT;
        while !out.is_char_boundary(cut) {
            cut += 1;
        }
        out.drain(..cut);
    }
}

/// What tells a worker which one it is: its number in the order workers were started
/// (a replacement gets the next one) and how many the run asked for. pytest-xdist's
/// `worker_id` ("gw0", ...) and `PYTEST_XDIST_WORKER*` are made from them.
fn identity_env(index: u32, workers: usize) -> [(&'static str, String); 2] {
    [
        ("DBTEST_WORKER_INDEX", index.to_string()),
        ("DBTEST_WORKER_COUNT", workers.to_string()),
    ]
}

impl Worker {
    async fn start(
        spec: &WorkerSpec,
        identity: [(&'static str, String); 2],
    ) -> std::io::Result<Worker> {
        let mut child = tokio::process::Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .envs(identity)
            .current_dir(&spec.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let output = Arc::new(Mutex::new(String::new()));
        let written = Arc::new(AtomicU32::new(0));
        let (sink, count) = (output.clone(), written.clone());
        let stderr_reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut console = tokio::io::stderr();
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                keep_output(&sink, &count, &String::from_utf8_lossy(&buf[..n]));
                // What reaches the worker's descriptors 1 and 2 is no test's captured output
                // (a test that may overlap, a subprocess, C code, the worker's own warnings):
                // shown as it comes, as an in-process run shows it, never only kept.
                let _ = console.write_all(&buf[..n]).await;
                let _ = console.flush().await;
            }
        });
        Ok(Worker {
            child,
            stdin,
            stdout,
            frames: FrameReader::new(),
            chunk: vec![0; 64 * 1024],
            ready: false,
            ended: false,
            output,
            written,
            stderr_reader,
        })
    }

    /// The next message or stray output; `None` once the worker's stdout has closed.
    /// Cancel-safe: what was read stays in `frames` until it is asked for.
    async fn next_item(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.frames.next_item() {
                return Some(item);
            }
            if self.ended {
                return self.frames.finish();
            }
            match self.stdout.read(&mut self.chunk).await {
                Ok(0) | Err(_) => self.ended = true,
                Ok(n) => self.frames.push(&self.chunk[..n]),
            }
        }
    }

    /// The next message; stray output and unreadable frames are kept for crash reports.
    async fn next_message(&mut self) -> Option<Message> {
        loop {
            match self.next_item().await? {
                Item::Message(m) => return Some(m),
                Item::Stray(text) => keep_output(&self.output, &self.written, &text),
                Item::Unreadable(why) => {
                    keep_output(&self.output, &self.written, &format!("dbtest: {why}\n"))
                }
            }
        }
    }

    async fn send(&mut self, command: &Command) -> std::io::Result<()> {
        let mut line = serde_json::to_string(command).map_err(std::io::Error::other)?;
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await
    }

    /// What the worker printed since `mark` (a value of `written`), trimmed to a quotable size.
    fn printed_since(&self, mark: u32) -> String {
        let out = self.output.lock().unwrap();
        let total = self.written.load(Ordering::SeqCst);
        let since = (total.saturating_sub(mark) as usize)
            .min(out.len())
            .min(OUTPUT_QUOTED);
        let mut start = out.len() - since;
        while !out.is_char_boundary(start) {
            start += 1;
        }
        out[start..].to_string()
    }

    /// SIGTERM, then SIGKILL if it has not gone after `grace`.
    async fn stop(mut self, grace: Duration) -> Option<ExitStatus> {
        #[cfg(unix)]
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status.ok(),
            Err(_) => {
                let _ = self.child.start_kill();
                self.child.wait().await.ok()
            }
        }
    }

    /// Asks the worker to tear its session down and exit; stops it if it does not.
    async fn finish(mut self, grace: Duration) {
        if self.send(&Command::Exit).await.is_ok() {
            // Session teardown may print; the rest of the protocol is not needed any more.
            let drain = async { while self.next_item().await.is_some() {} };
            if tokio::time::timeout(Duration::from_secs(10), drain)
                .await
                .is_ok()
                && tokio::time::timeout(grace, self.child.wait()).await.is_ok()
            {
                return;
            }
        }
        self.stop(grace).await;
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

pub fn describe_exit(status: Option<ExitStatus>) -> String {
    let Some(status) = status else {
        return "the worker's exit status is unknown".to_string();
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map(|s| s.as_str())
                .unwrap_or("?");
            return format!("the worker was killed by signal {signal} ({name})");
        }
    }
    match status.code() {
        Some(code) => format!("the worker exited with code {code}"),
        None => "the worker ended".to_string(),
    }
}

enum FileEnd {
    /// The file is done; the worker may take another (or must be replaced when `recycle`).
    Done { recycle: bool },
    /// The worker is gone (crashed or stopped); what is left of the file is queued again.
    Lost,
}

struct InFlight {
    case: TestCase,
    started: Instant,
    /// The test's own timeout, or the run's.
    allowed: Option<Duration>,
    output_mark: u32,
}

impl InFlight {
    /// When the parent stops waiting: the worker's own (clean) timeout gets the margin first.
    fn deadline(&self, margin: Duration) -> Option<Instant> {
        self.allowed.map(|t| self.started + t + margin)
    }
}

/// How long past the collection timeout the parent waits for a worker to report a file's
/// collection (the worker's own timeout answers first; this is for a worker that cannot).
const COLLECT_ANSWER_GRACE: Duration = Duration::from_secs(5);

impl Pool {
    async fn run_file(&self, worker: &mut Option<Worker>, mut pending: Pending) -> FileEnd {
        let w = worker.as_mut().expect("a worker is running");
        let command = Command::File {
            path: pending.job.path.clone(),
            rel: pending.job.rel.clone(),
            skip: pending.skip.clone(),
            exclusive: pending.job.exclusive,
            serial_locks: Some(self.serial_locks.clone()),
        };
        if w.send(&command).await.is_err() {
            return self
                .lost(worker.take().expect("worker"), pending, HashMap::new())
                .await;
        }
        let mut inflight: HashMap<String, InFlight> = HashMap::new();
        let mut recycle = false;
        // Until the worker says it has collected the file; its clock starts once the worker
        // is up (a fresh one reads the command after it has started).
        let mut collecting = true;
        let mut collect_deadline = None;
        // Output and protocol come over different pipes, so a test's first words may be read
        // before its Started message: its output starts where the previous test's ended.
        let mut boundary = worker
            .as_ref()
            .map_or(0, |w| w.written.load(Ordering::SeqCst));
        loop {
            let w = worker.as_mut().expect("a worker is running");
            if collecting && w.ready && collect_deadline.is_none() {
                collect_deadline = self
                    .opts
                    .collect_timeout
                    .map(|t| Instant::now() + t + COLLECT_ANSWER_GRACE);
            }
            let margin = self.opts.hard_timeout_margin;
            let deadline = inflight.values().filter_map(|f| f.deadline(margin)).min();
            let sleep = until(deadline);
            let collect_sleep = until(collect_deadline.filter(|_| collecting));
            tokio::select! {
                message = w.next_message() => {
                    let Some(message) = message else {
                        return self.lost(worker.take().expect("worker"), pending, inflight).await;
                    };
                    match message {
                        Message::Ready => w.ready = true,
                        Message::Output { text } => keep_output(&w.output, &w.written, &text),
                        Message::Collected { file, tests } => {
                            collecting = false;
                            if !pending.announced {
                                pending.announced = true;
                                self.emit(Event::FileCollected { file, tests });
                            }
                        }
                        Message::Started { case, timeout_s } => {
                            let flight = InFlight {
                                case: *case,
                                started: Instant::now(),
                                allowed: timeout_s.map(Duration::from_secs_f64),
                                output_mark: boundary,
                            };
                            inflight.insert(flight.case.id.clone(), flight);
                        }
                        Message::Finished { result } => {
                            inflight.remove(&result.id);
                            boundary = w.written.load(Ordering::SeqCst);
                            pending.skip.push(result.id.clone());
                            self.record(pending.index, *result);
                        }
                        Message::FileDone { file, abandoned } => {
                            // Every test the worker started has finished by now; one still in
                            // flight had its result lost on the way, which is said, not hidden.
                            for (_, f) in inflight.drain() {
                                let raw = RawResult::new(
                                    RawOutcome::Error,
                                    Some("dbtest lost this test's result on its way from the worker \
                                          process; what the worker's pipe held instead is in the \
                                          test's stderr. Please report it as a dbtest bug".into()),
                                );
                                let mut result = TestResult::from_attempt(&f.case, raw, 1);
                                result.stderr = w.printed_since(f.output_mark);
                                self.record(pending.index, result);
                            }
                            self.emit(Event::FileFinished { file });
                            // A thread of the worker is still busy with what was given up on
                            // (a sync test past its timeout, an import that never returned).
                            recycle |= abandoned;
                            return FileEnd::Done { recycle };
                        }
                    }
                    if self.halted() {
                        worker.take().expect("worker").stop(self.opts.kill_grace).await;
                        return FileEnd::Lost;
                    }
                }
                _ = collect_sleep => {
                    // The worker did not even report that its import timed out.
                    let w = worker.take().expect("worker");
                    let limit = self.opts.collect_timeout.expect("a collection deadline has a limit");
                    let mut result = TestResult::file_error(
                        &pending.job.rel,
                        format!(
                            "{}; its worker did not answer and was stopped",
                            crate::collect_timeout_message(&pending.job.rel, limit)
                        ),
                        None,
                    );
                    result.stderr = w.printed_since(boundary);
                    if !pending.announced {
                        self.emit(Event::FileCollected { file: pending.job.rel.clone(), tests: 0 });
                    }
                    self.record(pending.index, result);
                    self.emit(Event::FileFinished { file: pending.job.rel.clone() });
                    w.stop(self.opts.kill_grace).await;
                    return FileEnd::Lost;
                }
                _ = sleep => {
                    let now = Instant::now();
                    let expired: Vec<String> = inflight
                        .iter()
                        .filter(|(_, f)| f.deadline(margin).is_some_and(|d| d <= now))
                        .map(|(id, _)| id.clone())
                        .collect();
                    let w = worker.take().expect("worker");
                    for id in &expired {
                        let f = inflight.remove(id).expect("expired test is in flight");
                        let allowed = f.allowed.expect("only a test with a timeout expires");
                        let raw = RawResult {
                            outcome: Some(RawOutcome::Timeout),
                            duration_s: now.duration_since(f.started).as_secs_f64(),
                            message: Some(format!(
                                "timed out after {}s; its worker was stopped and replaced",
                                crate::fmt_secs(allowed)
                            )),
                            stderr: w.printed_since(f.output_mark),
                            ..Default::default()
                        };
                        pending.skip.push(id.clone());
                        self.record(pending.index, TestResult::from_attempt(&f.case, raw, 1));
                    }
                    w.stop(self.opts.kill_grace).await;
                    // Tests that were running beside the stopped one run again in a new worker.
                    if !self.halted() {
                        self.queue.lock().unwrap().push_front(pending);
                    }
                    return FileEnd::Lost;
                }
                _ = self.cancel.cancelled() => {
                    worker.take().expect("worker").stop(self.opts.kill_grace).await;
                    return FileEnd::Lost;
                }
            }
        }
    }

    /// The worker died: its running tests crashed; the rest of the file goes back in the queue.
    async fn lost(
        &self,
        mut w: Worker,
        mut pending: Pending,
        inflight: HashMap<String, InFlight>,
    ) -> FileEnd {
        let status = w.child.wait().await.ok();
        // What the worker printed as it died is read once its stderr closes.
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut w.stderr_reader).await;
        let why = describe_exit(status);
        if inflight.is_empty() {
            pending.import_crashes += 1;
            if pending.import_crashes >= 2 {
                let printed = w.printed_since(0);
                let mut result = TestResult::file_error(
                    &pending.job.rel,
                    format!("the file crashed its worker while loading: {why}"),
                    None,
                );
                result.outcome = dbtest_core::Outcome::Crashed;
                result.stderr = printed;
                self.record(pending.index, result);
                return FileEnd::Lost;
            }
        }
        for (id, f) in inflight {
            let printed = w.printed_since(f.output_mark);
            let raw = RawResult {
                outcome: Some(RawOutcome::Crashed),
                message: Some(format!("crashed: {why}")),
                stderr: printed,
                ..Default::default()
            };
            pending.skip.push(id);
            self.record(pending.index, TestResult::from_attempt(&f.case, raw, 1));
        }
        if !self.halted() {
            self.queue.lock().unwrap().push_front(pending);
        }
        FileEnd::Lost
    }

    async fn slot(self: Arc<Self>) {
        let mut worker: Option<Worker> = None;
        while let Some(pending) = self.next() {
            if worker.is_none() {
                let index = self.started.fetch_add(1, Ordering::SeqCst);
                match Worker::start(&self.spec, identity_env(index, self.opts.workers)).await {
                    Ok(w) => worker = Some(w),
                    Err(e) => {
                        let message = format!(
                            "cannot start a worker process ({}): {e}",
                            self.spec.program.display()
                        );
                        self.record(
                            pending.index,
                            TestResult::file_error(&pending.job.rel, message, None),
                        );
                        continue;
                    }
                }
            }
            match self.run_file(&mut worker, pending).await {
                FileEnd::Done { recycle: true } => {
                    if let Some(w) = worker.take() {
                        w.stop(self.opts.kill_grace).await;
                    }
                }
                FileEnd::Done { recycle: false } | FileEnd::Lost => {}
            }
        }
        if let Some(w) = worker {
            w.finish(self.opts.kill_grace).await;
        }
    }
}

/// Runs `files` in `opts.workers` worker processes started from `spec`.
pub async fn run_pool(
    spec: WorkerSpec,
    files: Vec<FileJob>,
    opts: PoolOptions,
    observer: Observer,
    cancel: CancellationToken,
) -> RunOutput {
    let started = Instant::now();
    let slots = opts.workers.max(1).min(files.len().max(1));
    let queue = files
        .into_iter()
        .enumerate()
        .map(|(index, job)| Pending {
            index,
            job,
            skip: Vec::new(),
            announced: false,
            import_crashes: 0,
        })
        .collect();
    // The run's own folder, so that another run's serial tests do not wait for this one's.
    // Should it fail to be made, the serial tests say so (they never overlap silently).
    let serial_locks = std::env::temp_dir().join(format!(
        "dbtest-serial-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let _ = std::fs::create_dir_all(&serial_locks);
    let pool = Arc::new(Pool {
        opts,
        spec,
        observer,
        cancel: cancel.clone(),
        queue: Mutex::new(queue),
        stop: AtomicBool::new(false),
        failures: AtomicU32::new(0),
        results: Mutex::new(Vec::new()),
        sequence: AtomicU32::new(0),
        started: AtomicU32::new(0),
        serial_locks,
    });
    let files = pool.queue.lock().unwrap().len();
    pool.emit(Event::RunStarted { files });
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..slots {
        tasks.spawn(pool.clone().slot());
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&pool.serial_locks);
    let mut results = std::mem::take(&mut *pool.results.lock().unwrap());
    results.sort_by_key(|(file, seq, _)| (*file, *seq));
    RunOutput {
        results: results.into_iter().map(|(_, _, r)| r).collect(),
        selected: Vec::new(),
        interrupted: cancel.is_cancelled(),
        abandoned: false,
        duration: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_is_told_its_number_and_the_run_s_worker_count() {
        let env = identity_env(3, 4);
        assert_eq!(
            env,
            [
                ("DBTEST_WORKER_INDEX", "3".to_owned()),
                ("DBTEST_WORKER_COUNT", "4".to_owned()),
            ]
        );
    }
}
