//! `--workers N`: files run in worker processes that this parent starts and drives, so that
//! CPU-bound tests use every core and one bad test cannot take the run down.
//!
//! Each worker runs one file at a time; an idle worker takes the next file from a shared
//! queue (longest first, as the caller ordered it), which is work stealing without a thief.
//! A worker that dies mid-file has its running test reported `crashed`; a test that outlives
//! its hard timeout is reported `timeout` and its worker is stopped (SIGTERM, then SIGKILL).
//! Either way a fresh worker continues the file after that test.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dbtest_core::{Event, RawOutcome, RawResult, TestCase, TestResult};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio_util::sync::CancellationToken;

use crate::protocol::{parse_line, Command, Message};
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
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            workers: 2,
            stop_after: None,
            kill_grace: Duration::from_secs(2),
            hard_timeout_margin: Duration::from_millis(750),
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
    /// The one worker slot that may run this file: its tests share a `@dbtest.serial`
    /// resource with tests of other files, which must not overlap in another process.
    pin: Option<usize>,
}

/// The `@dbtest.serial("name")` resources a file names literally (also `serial = "name"` on
/// a suite), read without importing it.
pub fn serial_resources(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in source.match_indices("serial") {
        let rest = source[at + "serial".len()..].trim_start();
        let rest = match rest.strip_prefix('(').or_else(|| rest.strip_prefix('=')) {
            Some(r) => r.trim_start(),
            None => continue,
        };
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        if let Some(end) = rest[1..].find(quote) {
            let name = rest[1..1 + end].to_string();
            if !name.is_empty() && !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

/// The slot every file naming `resource` runs in.
fn slot_for(resource: &str, slots: usize) -> usize {
    let hash = resource.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    (hash % slots as u64) as usize
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

    /// The next file for `slot`: the first one not pinned to another slot.
    fn next(&self, slot: usize) -> Option<Pending> {
        if self.halted() {
            return None;
        }
        let mut queue = self.queue.lock().unwrap();
        let at = queue
            .iter()
            .position(|p| p.pin.is_none_or(|pin| pin == slot))?;
        queue.remove(at)
    }
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
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

impl Worker {
    async fn start(spec: &WorkerSpec) -> std::io::Result<Worker> {
        let mut child = tokio::process::Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
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
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                keep_output(&sink, &count, &String::from_utf8_lossy(&buf[..n]));
            }
        });
        Ok(Worker {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            output,
            written,
            stderr_reader,
        })
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
            let drain = async { while let Ok(Some(_)) = self.lines.next_line().await {} };
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

impl Pool {
    async fn run_file(&self, worker: &mut Option<Worker>, mut pending: Pending) -> FileEnd {
        let w = worker.as_mut().expect("a worker is running");
        let command = Command::File {
            path: pending.job.path.clone(),
            rel: pending.job.rel.clone(),
            skip: pending.skip.clone(),
            exclusive: pending.job.exclusive,
        };
        if w.send(&command).await.is_err() {
            return self
                .lost(worker.take().expect("worker"), pending, HashMap::new())
                .await;
        }
        let mut inflight: HashMap<String, InFlight> = HashMap::new();
        let mut recycle = false;
        // Output and protocol come over different pipes, so a test's first words may be read
        // before its Started message: its output starts where the previous test's ended.
        let mut boundary = worker
            .as_ref()
            .map_or(0, |w| w.written.load(Ordering::SeqCst));
        loop {
            let w = worker.as_mut().expect("a worker is running");
            let margin = self.opts.hard_timeout_margin;
            let deadline = inflight.values().filter_map(|f| f.deadline(margin)).min();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                line = w.lines.next_line() => {
                    let Ok(Some(line)) = line else {
                        return self.lost(worker.take().expect("worker"), pending, inflight).await;
                    };
                    let (stray, message) = parse_line(&line);
                    if let Some(text) = stray {
                        keep_output(&w.output, &w.written, &format!("{text}\n"));
                    }
                    match message {
                        None | Some(Ok(Message::Ready)) => {}
                        Some(Err(e)) => keep_output(&w.output, &w.written, &format!("{e}\n")),
                        Some(Ok(Message::Output { text })) => keep_output(&w.output, &w.written, &text),
                        Some(Ok(Message::Collected { file, tests })) => {
                            if !pending.announced {
                                pending.announced = true;
                                self.emit(Event::FileCollected { file, tests });
                            }
                        }
                        Some(Ok(Message::Started { case, timeout_s })) => {
                            let flight = InFlight {
                                case: *case,
                                started: Instant::now(),
                                allowed: timeout_s.map(Duration::from_secs_f64),
                                output_mark: boundary,
                            };
                            inflight.insert(flight.case.id.clone(), flight);
                        }
                        Some(Ok(Message::Finished { result })) => {
                            inflight.remove(&result.id);
                            boundary = w.written.load(Ordering::SeqCst);
                            pending.skip.push(result.id.clone());
                            // A sync test abandoned after its timeout may still be spinning
                            // in the worker: replace the worker once the file is done.
                            recycle |= result.outcome == dbtest_core::Outcome::Timeout;
                            self.record(pending.index, *result);
                        }
                        Some(Ok(Message::FileDone { file })) => {
                            self.emit(Event::FileFinished { file });
                            return FileEnd::Done { recycle };
                        }
                    }
                    if self.halted() {
                        worker.take().expect("worker").stop(self.opts.kill_grace).await;
                        return FileEnd::Lost;
                    }
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

    async fn slot(self: Arc<Self>, slot: usize) {
        let mut worker: Option<Worker> = None;
        while let Some(pending) = self.next(slot) {
            if worker.is_none() {
                match Worker::start(&self.spec).await {
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
        .map(|(index, job)| {
            // A file naming several resources goes with the first; two groups that share a
            // file cannot both be pinned apart, and one slot keeps them apart anyway.
            let source = std::fs::read_to_string(&job.path).unwrap_or_default();
            let pin = serial_resources(&source)
                .first()
                .map(|r| slot_for(r, slots));
            Pending {
                index,
                job,
                skip: Vec::new(),
                announced: false,
                import_crashes: 0,
                pin,
            }
        })
        .collect();
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
    });
    let files = pool.queue.lock().unwrap().len();
    pool.emit(Event::RunStarted { files });
    let mut tasks = tokio::task::JoinSet::new();
    for slot in 0..slots {
        tasks.spawn(pool.clone().slot(slot));
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
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
    fn serial_resources_are_read_from_the_source() {
        let source = r#"
@dbtest.serial("db")
def test_a(): ...

class TestB(dbtest.TestSuite):
    serial = 'cache'

@dbtest.serial( "db" )
def test_c(): ...
serial_number = 3
"#;
        assert_eq!(
            serial_resources(source),
            vec!["db".to_string(), "cache".to_string()]
        );
        assert!(serial_resources("def test_serial_port(): pass").is_empty());
    }

    #[test]
    fn a_resource_always_lands_in_the_same_slot() {
        assert_eq!(slot_for("db", 4), slot_for("db", 4));
        assert!(slot_for("db", 4) < 4);
    }
}
