use std::collections::HashMap;

use dbtest_core::Outcome;

use super::*;

/// A fake engine: a test's name says what it does ("pass", "fail", "sleep_ms:50",
/// "hang", "flaky:2" fails its first two attempts, "err"); files named "broken*" fail to import,
/// and the import of files named "stuck*" never returns.
#[derive(Default)]
struct Fake {
    files: HashMap<String, Vec<&'static str>>,
    attempts: Mutex<HashMap<String, u32>>,
    finished_files: Mutex<Vec<String>>,
    serial_names: Vec<&'static str>,
    /// Tests that use a process-wide fixture (`TestCase::exclusive`).
    exclusive_names: Vec<&'static str>,
    /// Files collected so far, in order.
    collected: Mutex<Vec<String>>,
    own_retries: Option<u32>,
    /// Tests with a timeout of their own (`@dbtest.timeout(0.2)`).
    timed_names: Vec<&'static str>,
    /// Tests whose own timeout is 0: none (pytest-timeout's `timeout(0)`).
    untimed_names: Vec<&'static str>,
    /// [`Engine::arrange`] reverses the files and their tests and drops tests named
    /// `drop_pass` (pytest's `pytest_collection_modifyitems` over the session's items).
    arranges: bool,
    /// What `arrange` was given: each file with its number of tests.
    arranged: Mutex<Vec<(String, usize)>>,
}

fn case(file: &str, name: &str, key: u64) -> TestCase {
    TestCase {
        id: format!("{file}::{name}"),
        file: file.to_string(),
        line: key as u32 + 1,
        name: name.to_string(),
        suite: None,
        params: None,
        tags: vec![],
        skip: None,
        xfail: None,
        timeout_s: None,
        is_async: name.starts_with("async"),
        concurrent: name.contains("concurrent"),
        retries: None,
        serial: None,
        exclusive: false,
        key,
    }
}

impl Engine for Fake {
    async fn collect(&self, file: FileJob) -> Result<Vec<TestCase>, FileError> {
        if file.rel.starts_with("broken") {
            return Err(FileError {
                message: "SyntaxError: invalid syntax".into(),
                traceback: None,
                skipped: false,
            });
        }
        if file.rel.starts_with("stuck") {
            std::future::pending::<()>().await;
        }
        self.collected.lock().unwrap().push(file.rel.clone());
        Ok(self.files[&file.rel]
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut c = case(&file.rel, n, i as u64);
                if self.serial_names.contains(n) {
                    c.serial = Some("db".into());
                }
                c.exclusive = self.exclusive_names.contains(n);
                c.retries = self.own_retries;
                if self.timed_names.contains(n) {
                    c.timeout_s = Some(0.2);
                }
                if self.untimed_names.contains(n) {
                    c.timeout_s = Some(0.0);
                }
                c
            })
            .collect())
    }

    async fn run(&self, case: TestCase, _timeout: Option<Duration>) -> RawResult {
        let attempt = {
            let mut a = self.attempts.lock().unwrap();
            let n = a.entry(case.id.clone()).or_default();
            *n += 1;
            *n
        };
        let behaviour = case.name.rsplit('_').next().unwrap().to_string();
        let (what, arg) = behaviour.split_once(':').unwrap_or((&behaviour, "0"));
        let arg: u64 = arg.parse().unwrap();
        let outcome = match what {
            "pass" => RawOutcome::Passed,
            "fail" => RawOutcome::Failed,
            "err" => RawOutcome::Error,
            "sleep" => {
                tokio::time::sleep(Duration::from_millis(arg)).await;
                RawOutcome::Passed
            }
            "hang" => {
                std::future::pending::<()>().await;
                unreachable!()
            }
            "flaky" if attempt as u64 <= arg => RawOutcome::Failed,
            "flaky" => RawOutcome::Passed,
            other => panic!("unknown behaviour {other}"),
        };
        RawResult::new(outcome, None)
    }

    async fn arrange(
        &self,
        collected: Vec<(String, Vec<TestCase>)>,
    ) -> Option<Vec<(String, Vec<TestCase>)>> {
        *self.arranged.lock().unwrap() = collected
            .iter()
            .map(|(rel, cases)| (rel.clone(), cases.len()))
            .collect();
        if !self.arranges {
            return None;
        }
        let arranged = collected
            .into_iter()
            .rev()
            .map(|(rel, cases)| {
                let kept: Vec<TestCase> = cases
                    .into_iter()
                    .rev()
                    .filter(|c| c.name != "drop_pass")
                    .collect();
                (rel, kept)
            })
            .filter(|(_, kept)| !kept.is_empty())
            .collect();
        Some(arranged)
    }

    async fn finish_file(&self, file: FileJob) -> Vec<TestResult> {
        self.finished_files.lock().unwrap().push(file.rel);
        Vec::new()
    }

    async fn finish_session(&self) -> Vec<TestResult> {
        Vec::new()
    }
}

fn fake(files: &[(&str, &[&'static str])]) -> (Fake, Vec<FileJob>) {
    let mut f = Fake::default();
    let mut jobs = Vec::new();
    for (name, tests) in files {
        f.files.insert(name.to_string(), tests.to_vec());
        jobs.push(FileJob {
            path: PathBuf::from(name),
            rel: name.to_string(),
            exclusive: false,
        });
    }
    (f, jobs)
}

fn quiet() -> Observer {
    Arc::new(Mutex::new(|_: &Event| {}))
}

/// A run nobody watches and nobody interrupts.
async fn run_quietly<E: Engine>(engine: E, jobs: Vec<FileJob>, opts: RunOptions) -> RunOutput {
    run(engine, jobs, opts, quiet(), CancellationToken::new()).await
}

fn outcomes(out: &RunOutput) -> Vec<(String, Outcome)> {
    out.results
        .iter()
        .map(|r| (r.id.clone(), r.outcome))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn results_come_back_in_file_then_written_order() {
    let (engine, jobs) = fake(&[
        ("a.py", &["t_sleep:30", "t_pass"]),
        ("broken.py", &[]),
        ("b.py", &["t_fail", "t_err"]),
    ]);
    let opts = RunOptions {
        jobs: 4,
        ..Default::default()
    };
    let out = run_quietly(engine, jobs, opts).await;
    assert_eq!(
        outcomes(&out),
        vec![
            ("a.py::t_sleep:30".to_string(), Outcome::Passed),
            ("a.py::t_pass".to_string(), Outcome::Passed),
            ("broken.py".to_string(), Outcome::Error),
            ("b.py::t_fail".to_string(), Outcome::Failed),
            ("b.py::t_err".to_string(), Outcome::Error),
        ]
    );
    assert!(!out.interrupted);
}

#[tokio::test(start_paused = true)]
async fn files_overlap_up_to_jobs() {
    let files: Vec<(String, Vec<&'static str>)> = (0..10)
        .map(|i| (format!("f{i}.py"), vec!["t_sleep:100"; 2]))
        .collect();
    let refs: Vec<(&str, &[&'static str])> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_slice()))
        .collect();
    let (engine, jobs) = fake(&refs);
    let opts = RunOptions {
        jobs: 5,
        ..Default::default()
    };
    let started = tokio::time::Instant::now();
    let out = run_quietly(engine, jobs, opts).await;
    // 10 files x 200 ms of serial work each, 5 at a time: 400 ms.
    assert_eq!(started.elapsed(), Duration::from_millis(400));
    assert_eq!(out.results.len(), 20);
}

#[tokio::test(start_paused = true)]
async fn concurrent_tests_of_a_file_overlap() {
    let (engine, jobs) = fake(&[(
        "a.py",
        &[
            "concurrent_sleep:100",
            "concurrent2_sleep:100",
            "t_sleep:100",
        ],
    )]);
    let started = tokio::time::Instant::now();
    let out = run_quietly(engine, jobs, RunOptions::default()).await;
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert_eq!(out.results.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_test_times_out_and_the_file_goes_on() {
    let (engine, jobs) = fake(&[("a.py", &["t_hang", "t_pass"])]);
    let opts = RunOptions {
        timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let out = run_quietly(engine, jobs, opts).await;
    assert_eq!(out.results[0].outcome, Outcome::Timeout);
    assert_eq!(
        out.results[0].message.as_deref(),
        Some("timed out after 1s")
    );
    assert_eq!(out.results[1].outcome, Outcome::Passed);
    assert!(out.abandoned);
}

#[tokio::test(start_paused = true)]
async fn an_own_timeout_of_0_lifts_the_runs_timeout() {
    let (mut engine, jobs) = fake(&[("a.py", &["t_sleep:2000", "u_sleep:2000"])]);
    engine.untimed_names = vec!["u_sleep:2000"];
    let opts = RunOptions {
        timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let out = run_quietly(engine, jobs, opts).await;
    assert_eq!(out.results[0].outcome, Outcome::Timeout);
    assert_eq!(out.results[1].outcome, Outcome::Passed);
}

#[tokio::test]
async fn maxfail_stops_starting_tests() {
    let (engine, jobs) = fake(&[("a.py", &["t_fail", "t_fail", "t_pass", "t_pass"])]);
    let opts = RunOptions {
        stop_after: Some(2),
        ..Default::default()
    };
    let out = run_quietly(engine, jobs, opts).await;
    assert_eq!(out.results.len(), 2);
}

#[tokio::test]
async fn retries_make_a_test_flaky() {
    let (engine, jobs) = fake(&[("a.py", &["t_flaky:2", "t_fail"])]);
    let opts = RunOptions {
        retries: 2,
        ..Default::default()
    };
    let out = run_quietly(engine, jobs, opts).await;
    assert_eq!(out.results[0].outcome, Outcome::Passed);
    assert_eq!(out.results[0].attempts, 3);
    assert!(out.results[0].is_flaky());
    assert_eq!(out.results[1].attempts, 3);
}

#[tokio::test]
async fn selection_and_collect_only_run_nothing() {
    let (engine, jobs) = fake(&[("a.py", &["t_pass", "x_fail"])]);
    let opts = RunOptions {
        collect_only: true,
        select: Arc::new(|c: &TestCase| c.name.starts_with("t_")),
        ..Default::default()
    };
    let out = run_quietly(engine, jobs, opts).await;
    assert_eq!(out.selected, vec!["a.py::t_pass".to_string()]);
    assert!(out.results.is_empty());
}

#[tokio::test(start_paused = true)]
async fn cancel_returns_partial_results() {
    let (engine, jobs) = fake(&[("a.py", &["t_pass", "t_hang", "t_pass"])]);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        trigger.cancel();
    });
    let out = run(engine, jobs, RunOptions::default(), quiet(), cancel).await;
    assert!(out.interrupted);
    assert_eq!(
        outcomes(&out),
        vec![("a.py::t_pass".to_string(), Outcome::Passed)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_test_that_finishes_just_after_ctrl_c_keeps_its_result() {
    let (engine, jobs) = fake(&[("a.py", &["t_sleep:300", "t_pass"])]);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        trigger.cancel();
    });
    let out = run(engine, jobs, RunOptions::default(), quiet(), cancel).await;
    assert!(out.interrupted);
    // The running test finished within the grace; the next one never started.
    assert_eq!(
        outcomes(&out),
        vec![("a.py::t_sleep:300".to_string(), Outcome::Passed)]
    );
}

#[tokio::test]
async fn observer_sees_every_event() {
    let (engine, jobs) = fake(&[("a.py", &["t_pass", "t_fail"])]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let observer: Observer = Arc::new(Mutex::new(move |e: &Event| {
        sink.lock().unwrap().push(match e {
            Event::RunStarted { files } => format!("start {files}"),
            Event::FileCollected { file, tests } => format!("collected {file} {tests}"),
            Event::TestFinished(r) => format!("{} {}", r.id, r.outcome),
            Event::FileFinished { file } => format!("finished {file}"),
            Event::TestStarted { case, .. } => format!("started {}", case.id),
        })
    }));
    run(
        engine,
        jobs,
        RunOptions::default(),
        observer,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "start 1",
            "collected a.py 2",
            "started a.py::t_pass",
            "a.py::t_pass passed",
            "started a.py::t_fail",
            "a.py::t_fail failed",
            "finished a.py"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn serial_tests_of_different_files_never_overlap() {
    let (mut engine, jobs) = fake(&[
        ("a.py", &["t_sleep:100"]),
        ("b.py", &["t_sleep:100"]),
        ("c.py", &["u_sleep:100"]),
    ]);
    engine.serial_names = vec!["t_sleep:100"];
    let opts = RunOptions {
        jobs: 3,
        ..Default::default()
    };
    let started = tokio::time::Instant::now();
    let out = run_quietly(engine, jobs, opts).await;
    // a.py and b.py share the resource and take turns; c.py overlaps with both.
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert_eq!(out.results.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_serial_test_starts_once_it_holds_its_resource() {
    // The short test may wait for the long one longer than its own timeout: the wait is no
    // part of its time, and it is not announced as started (a worker's parent times a test
    // from its start) until it holds the resource.
    let (mut engine, jobs) = fake(&[
        ("a.py", &["long_sleep:300"]),
        ("b.py", &["short_sleep:50"]),
        ("c.py", &["other_sleep:300"]),
    ]);
    engine.serial_names = vec!["long_sleep:300", "short_sleep:50"];
    engine.timed_names = vec!["short_sleep:50"];
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = events.clone();
    let observer: Observer = Arc::new(Mutex::new(move |e: &Event| match e {
        Event::TestStarted { case, .. } => log.lock().unwrap().push(format!("start {}", case.id)),
        Event::TestFinished(r) => log.lock().unwrap().push(format!("end {}", r.id)),
        _ => {}
    }));
    let opts = RunOptions {
        jobs: 3,
        ..Default::default()
    };
    let out = run(engine, jobs, opts, observer, CancellationToken::new()).await;
    assert!(
        out.results.iter().all(|r| r.outcome == Outcome::Passed),
        "{:?}",
        outcomes(&out)
    );
    let events = events.lock().unwrap();
    let serial: Vec<&String> = events.iter().filter(|e| !e.contains("c.py")).collect();
    // Whichever goes first, the other starts after it ended.
    assert!(
        serial[1].starts_with("end") && serial[0][6..] == serial[1][4..],
        "{serial:?}"
    );
    // A test of no resource overlaps with both.
    assert_eq!(
        events
            .iter()
            .position(|e| e == "start c.py::other_sleep:300"),
        Some(1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_file_whose_import_never_returns_is_an_error_after_the_collection_timeout() {
    for exclusive in [false, true] {
        let (engine, mut jobs) = fake(&[
            ("a.py", &["t_pass"]),
            ("stuck.py", &[]),
            ("z.py", &["t_pass"]),
        ]);
        for job in &mut jobs {
            job.exclusive = exclusive;
        }
        let opts = RunOptions {
            jobs: 1,
            collect_timeout: Some(Duration::from_secs(5)),
            ..Default::default()
        };
        let out = run_quietly(engine, jobs, opts).await;
        assert_eq!(
            outcomes(&out),
            vec![
                ("a.py::t_pass".to_string(), Outcome::Passed),
                ("stuck.py".to_string(), Outcome::Error),
                ("z.py::t_pass".to_string(), Outcome::Passed),
            ],
            "exclusive: {exclusive}"
        );
        let message = out.results[1].message.as_deref().unwrap();
        assert!(
            message.starts_with("collecting stuck.py did not finish within 5s"),
            "{message}"
        );
        assert!(message.contains("--collect-timeout"), "{message}");
        // The import is still running on its thread: the process must not wait for it.
        assert!(out.abandoned);
    }
}

#[tokio::test(start_paused = true)]
async fn an_exclusive_file_runs_with_nothing_beside_it_and_is_collected_first() {
    // In the order `dbtest unit` plans them: files that overlap first.
    let (engine, mut jobs) = fake(&[
        ("native_a.py", &["t_sleep:100"]),
        ("native_b.py", &["t_sleep:100"]),
        ("pytest_x.py", &["t_sleep:100", "u_sleep:100"]),
        ("pytest_y.py", &["t_sleep:100"]),
    ]);
    for job in &mut jobs {
        job.exclusive = job.rel.starts_with("pytest");
    }
    let engine = Arc::new(engine);
    let opts = RunOptions {
        jobs: 4,
        ..Default::default()
    };
    let started = tokio::time::Instant::now();
    let out = run_quietly(engine.clone(), jobs, opts).await;
    // The native files overlap (100 ms); each exclusive file runs alone, one test at a time
    // (200 + 100 ms).
    assert_eq!(started.elapsed(), Duration::from_millis(400));
    assert_eq!(out.results.len(), 5);
    // pytest imports every module before any test runs: the exclusive files come first.
    let collected = engine.collected.lock().unwrap().clone();
    assert_eq!(&collected[..2], ["pytest_x.py", "pytest_y.py"]);
}

#[tokio::test(start_paused = true)]
async fn a_test_with_a_process_wide_fixture_runs_with_nothing_beside_it() {
    let (mut engine, jobs) = fake(&[
        ("a.py", &["t_sleep:100"]),
        ("b.py", &["patched_sleep:100"]),
        ("c.py", &["u_sleep:100"]),
    ]);
    engine.exclusive_names = vec!["patched_sleep:100"];
    let opts = RunOptions {
        jobs: 3,
        ..Default::default()
    };
    let started = tokio::time::Instant::now();
    let out = run_quietly(engine, jobs, opts).await;
    // b.py's test waits for a.py's, which started first, and holds the process alone; c.py's
    // starts after it (a waiting exclusive test lets nothing start before it).
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    assert_eq!(out.results.len(), 3);
}

#[tokio::test]
async fn a_tests_own_retries_win_over_the_run_default() {
    let (mut engine, jobs) = fake(&[("a.py", &["t_flaky:1"])]);
    engine.own_retries = Some(1);
    let out = run_quietly(engine, jobs, RunOptions::default()).await;
    assert_eq!(out.results[0].outcome, Outcome::Passed);
    assert_eq!(out.results[0].attempts, 2);
}

#[tokio::test]
async fn random_order_is_a_replayable_shuffle() {
    let names: Vec<&'static str> = vec![
        "t0_pass", "t1_pass", "t2_pass", "t3_pass", "t4_pass", "t5_pass", "t6_pass", "t7_pass",
    ];
    let order = |seed| {
        let names = names.clone();
        async move {
            let (engine, jobs) = fake(&[("a.py", &names)]);
            let opts = RunOptions {
                shuffle_seed: Some(seed),
                ..Default::default()
            };
            let out = run_quietly(engine, jobs, opts).await;
            out.results
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        }
    };
    let first = order(7).await;
    assert_eq!(first, order(7).await);
    assert_ne!(first, order(8).await);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(sorted, names);
}

/// An engine whose sync tests block a thread, as Python's do: a pipeline runs on a thread of
/// its own, a retry on a blocking-pool thread. `block:MS` holds the thread for MS ms. Every
/// attempt is logged as `name#attempt`, in the order attempts start.
#[derive(Default)]
struct Threaded {
    fake: Fake,
    log: Arc<Mutex<Vec<String>>>,
    attempts: Arc<Mutex<HashMap<String, u32>>>,
    pipelines: AtomicU32,
}

fn run_blocking(
    log: &Mutex<Vec<String>>,
    attempts: &Mutex<HashMap<String, u32>>,
    case: &TestCase,
) -> RawResult {
    let attempt = {
        let mut a = attempts.lock().unwrap();
        let n = a.entry(case.id.clone()).or_default();
        *n += 1;
        *n
    };
    log.lock().unwrap().push(format!("{}#{attempt}", case.name));
    let behaviour = case.name.rsplit('_').next().unwrap();
    let (what, arg) = behaviour.split_once(':').unwrap_or((behaviour, "0"));
    let arg: u64 = arg.parse().unwrap();
    let outcome = match what {
        "pass" => RawOutcome::Passed,
        "fail" => RawOutcome::Failed,
        "block" => {
            std::thread::sleep(Duration::from_millis(arg));
            RawOutcome::Passed
        }
        "flaky" if attempt as u64 <= arg => RawOutcome::Failed,
        "flaky" => RawOutcome::Passed,
        other => panic!("unknown behaviour {other}"),
    };
    RawResult::new(outcome, None)
}

impl Engine for Threaded {
    async fn collect(&self, file: FileJob) -> Result<Vec<TestCase>, FileError> {
        self.fake.collect(file).await
    }

    async fn run(&self, case: TestCase, _timeout: Option<Duration>) -> RawResult {
        let (log, attempts) = (self.log.clone(), self.attempts.clone());
        tokio::task::spawn_blocking(move || run_blocking(&log, &attempts, &case))
            .await
            .unwrap()
    }

    async fn run_pipeline(&self, pipeline: Pipeline) {
        self.pipelines.fetch_add(1, Ordering::SeqCst);
        let (log, attempts) = (self.log.clone(), self.attempts.clone());
        let (done, finished) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            pipeline.drive(|case, _| run_blocking(&log, &attempts, case));
            let _ = done.send(());
        });
        let _ = finished.await;
    }

    async fn finish_file(&self, _file: FileJob) -> Vec<TestResult> {
        Vec::new()
    }

    async fn finish_session(&self) -> Vec<TestResult> {
        Vec::new()
    }
}

fn threaded(tests: &[&'static str]) -> (Arc<Threaded>, Vec<FileJob>) {
    let (fake, jobs) = fake(&[("a.py", tests)]);
    let engine = Threaded {
        fake,
        ..Default::default()
    };
    (Arc::new(engine), jobs)
}

#[tokio::test]
async fn a_retried_test_is_retried_before_the_next_test_of_its_pipeline_runs() {
    let (engine, jobs) = threaded(&["a_pass", "b_flaky:1", "c_pass"]);
    let opts = RunOptions {
        retries: 1,
        ..Default::default()
    };
    let out = run_quietly(engine.clone(), jobs, opts).await;
    assert_eq!(
        *engine.log.lock().unwrap(),
        vec!["a_pass#1", "b_flaky:1#1", "b_flaky:1#2", "c_pass#1"]
    );
    assert!(out.results.iter().all(|r| r.outcome == Outcome::Passed));
    assert_eq!(out.results[1].attempts, 2);
    // The pipeline stopped at the failure and a new one took the rest.
    assert_eq!(engine.pipelines.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_blocked_pipeline_test_past_its_timeout_is_abandoned_and_the_file_goes_on() {
    let (engine, jobs) = threaded(&["a_pass", "b_block:1000", "c_pass"]);
    let opts = RunOptions {
        timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let started = Instant::now();
    let out = run_quietly(engine.clone(), jobs, opts).await;
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(
        outcomes(&out),
        vec![
            ("a.py::a_pass".to_string(), Outcome::Passed),
            ("a.py::b_block:1000".to_string(), Outcome::Timeout),
            ("a.py::c_pass".to_string(), Outcome::Passed),
        ]
    );
    assert_eq!(
        out.results[1].message.as_deref(),
        Some("timed out after 0.2s")
    );
    assert!(out.abandoned);
    // Once the abandoned test returns, its thread runs nothing more of the file.
    tokio::time::sleep_until(started + Duration::from_millis(1200)).await;
    assert_eq!(
        *engine.log.lock().unwrap(),
        vec!["a_pass#1", "b_block:1000#1", "c_pass#1"]
    );
}

#[tokio::test]
async fn a_tests_own_timeout_is_watched_after_tests_without_one() {
    let (fake, jobs) = fake(&[("a.py", &["a_pass", "b_block:1000", "c_pass"])]);
    let engine = Arc::new(Threaded {
        fake: Fake {
            timed_names: vec!["b_block:1000"],
            ..fake
        },
        ..Default::default()
    });
    let started = Instant::now();
    let out = run_quietly(engine, jobs, RunOptions::default()).await;
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(out.results[1].outcome, Outcome::Timeout);
    assert_eq!(out.results[2].outcome, Outcome::Passed);
}

#[tokio::test]
async fn maxfail_stops_a_pipeline_before_its_next_test() {
    let (engine, jobs) = threaded(&["a_fail", "b_pass", "c_pass"]);
    let opts = RunOptions {
        stop_after: Some(1),
        ..Default::default()
    };
    let out = run_quietly(engine.clone(), jobs, opts).await;
    assert_eq!(*engine.log.lock().unwrap(), vec!["a_fail#1"]);
    assert_eq!(
        outcomes(&out),
        vec![("a.py::a_fail".to_string(), Outcome::Failed)]
    );
}

#[test]
fn a_load_answer_says_why_a_file_has_no_tests() {
    let answer = |v: serde_json::Value| serde_json::from_value::<LoadAnswer>(v).unwrap();
    assert_eq!(answer(serde_json::json!({"tests": []})).failure(), None);
    let error = answer(serde_json::json!({"error": "ImportError: x", "traceback": "tb"}));
    assert_eq!(
        error.failure(),
        Some(FileError {
            message: "ImportError: x".into(),
            traceback: Some("tb".into()),
            skipped: false
        })
    );
    let skipped = answer(serde_json::json!({"skipped": "needs linux"})).failure();
    assert_eq!(
        skipped.map(|f| (f.message, f.skipped)),
        Some(("needs linux".into(), true))
    );
}

#[tokio::test(start_paused = true)]
async fn the_engine_arranges_files_that_run_alone_once_all_are_collected() {
    let (mut engine, mut jobs) = fake(&[
        ("native.py", &["t_pass"]),
        ("a.py", &["one_pass", "two_pass"]),
        ("broken.py", &[]),
        ("b.py", &["drop_pass", "three_pass"]),
        ("c.py", &["drop_pass"]),
    ]);
    engine.arranges = true;
    for job in jobs.iter_mut().skip(1) {
        job.exclusive = true;
    }
    let engine = Arc::new(engine);
    let out = run_quietly(engine.clone(), jobs, RunOptions::default()).await;
    // One call, with every file that runs alone and collected, in run order.
    assert_eq!(
        *engine.arranged.lock().unwrap(),
        vec![
            ("a.py".to_string(), 2),
            ("b.py".to_string(), 2),
            ("c.py".to_string(), 1)
        ]
    );
    // The engine's order; a file it left out runs nothing; a broken file keeps its error.
    assert_eq!(
        outcomes(&out),
        vec![
            ("native.py::t_pass".to_string(), Outcome::Passed),
            ("b.py::three_pass".to_string(), Outcome::Passed),
            ("a.py::two_pass".to_string(), Outcome::Passed),
            ("a.py::one_pass".to_string(), Outcome::Passed),
            ("broken.py".to_string(), Outcome::Error),
        ]
    );
    // ... and run in it.
    let finished = engine.finished_files.lock().unwrap().clone();
    assert_eq!(finished[1..], ["b.py", "a.py"]);
}
