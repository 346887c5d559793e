//! The scheduler against a fake engine, on paused Tokio time: what runs, when, how often.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;

use dbtest_stats::verdict::{Counts, Threshold};
use serde_json::{json, Map, Value};

use super::*;

type Behaviour = dyn Fn(SampleRequest) -> (Duration, RawSample) + Send + Sync;

/// Sleeps and answers as `behaviour` says; remembers every call and the peak concurrency.
struct Fake {
    behaviour: Box<Behaviour>,
    calls: Mutex<Vec<(SampleRequest, Instant)>>,
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Fake {
    fn new(
        f: impl Fn(SampleRequest) -> (Duration, RawSample) + Send + Sync + 'static,
    ) -> Arc<Fake> {
        Arc::new(Fake {
            behaviour: Box::new(f),
            calls: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> Vec<(SampleRequest, Instant)> {
        self.calls.lock().unwrap().clone()
    }
}

impl SampleEngine for Fake {
    async fn sample(&self, request: SampleRequest) -> RawSample {
        self.calls.lock().unwrap().push((request, Instant::now()));
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let (delay, raw) = (self.behaviour)(request);
        tokio::time::sleep(delay).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        raw
    }
}

fn ok(success: bool) -> RawSample {
    RawSample::returned(Some(success), Value::Null)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn configs(n: usize) -> Vec<Configuration> {
    (0..n)
        .map(|i| {
            let factors: Map<String, Value> =
                [("level".to_string(), json!(i))].into_iter().collect();
            Configuration {
                config_id: crate::design::config_id(&factors),
                factors,
            }
        })
        .collect()
}

fn plan(n_configs: usize, samples: u64, concurrency: usize) -> Plan {
    Plan {
        experiment: "e".into(),
        run_seed: 7,
        configs: configs(n_configs),
        samples,
        concurrency,
        max_per_second: None,
        retries: 2,
        backoff: Backoff::default(),
        budgets: Budgets::default(),
        success: None,
        confidence: 0.95,
        stop: StopRule::None,
        replace_errors: false,
        max_errors: None,
        shard: None,
    }
}

async fn go(engine: &Arc<Fake>, plan: Plan) -> RunOutcome {
    run(
        engine.clone(),
        Arc::new(plan),
        Vec::new(),
        CancellationToken::new(),
        |_, _, _| Ok(()),
    )
    .await
    .unwrap()
}

fn indices(state: &ConfigState) -> Vec<u64> {
    let mut v: Vec<u64> = state.records.iter().map(|r| r.index).collect();
    v.sort_unstable();
    v
}

#[tokio::test(start_paused = true)]
async fn every_sample_runs_once_within_the_concurrency() {
    let engine = Fake::new(|r| (ms(20), ok(r.index % 4 != 0)));
    let out = go(&engine, plan(2, 100, 10)).await;
    assert_eq!(engine.peak.load(Ordering::SeqCst), 10);
    for state in &out.configs {
        assert_eq!(indices(state), (0..100).collect::<Vec<_>>());
        assert_eq!((state.successes, state.failures, state.errors), (75, 25, 0));
        assert_eq!(state.termination, Some(Termination::Completed));
    }
    assert_eq!(out.stopped, None);
    // 200 samples of 20 ms, 10 at a time: 400 ms of (paused) time.
    assert_eq!(out.elapsed, ms(400));
    // Configurations are interleaved: the first ten launches alternate.
    let first: Vec<usize> = engine.calls()[..10].iter().map(|(r, _)| r.config).collect();
    assert_eq!(first, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]);
    // Seeds come from the design's seed, the configuration and the index.
    let r = &out.configs[1].records[0];
    assert_eq!(r.seed, sample_seed(7, "e", "level=1", r.index));
}

#[tokio::test(start_paused = true)]
async fn pacing_spaces_the_starts() {
    let engine = Fake::new(|_| (ms(1), ok(true)));
    let mut p = plan(1, 10, 8);
    p.max_per_second = Some(5.0);
    let out = go(&engine, p).await;
    let starts: Vec<Duration> = engine
        .calls()
        .iter()
        .map(|(_, t)| t.duration_since(engine.calls()[0].1))
        .collect();
    for (i, s) in starts.iter().enumerate() {
        assert_eq!(*s, ms(200) * i as u32, "start {i}");
    }
    assert_eq!(out.configs[0].samples_run(), 10);
}

#[tokio::test(start_paused = true)]
async fn infrastructure_errors_are_retried_with_backoff_then_counted_apart() {
    // Index 0 fails twice then works; index 1 always raises; index 2 fails a check.
    let engine = Fake::new(|r| {
        let raw = match (r.index, r.attempt) {
            (0, 0 | 1) => RawSample::with_kind(RawKind::Raised, "ConnectionError: reset"),
            (1, _) => RawSample::with_kind(RawKind::Raised, "TimeoutError"),
            (2, _) => RawSample::with_kind(RawKind::CheckFailed, "AssertionError: bad"),
            _ => ok(true),
        };
        (ms(10), raw)
    });
    let out = go(&engine, plan(1, 4, 4)).await;
    let state = &out.configs[0];
    assert_eq!((state.successes, state.failures, state.errors), (2, 1, 1));
    let by_index: HashMap<u64, &SampleRecord> =
        state.records.iter().map(|r| (r.index, r)).collect();
    assert_eq!(by_index[&0].attempts, 3);
    assert_eq!(by_index[&0].outcome, SampleOutcome::Success);
    assert_eq!(by_index[&1].attempts, 3);
    assert_eq!(by_index[&1].outcome, SampleOutcome::Error);
    assert_eq!(by_index[&1].message.as_deref(), Some("TimeoutError"));
    // A failed check is a failure, and is not retried.
    assert_eq!(by_index[&2].attempts, 1);
    assert_eq!(by_index[&2].outcome, SampleOutcome::Failure);
    // The retries of index 0 waited the backoff: 10 ms call, pause, call, longer pause.
    let calls: Vec<Instant> = engine
        .calls()
        .iter()
        .filter(|(r, _)| r.index == 0)
        .map(|(_, t)| *t)
        .collect();
    let backoff = Backoff::default();
    let seed = by_index[&0].seed;
    // (Tokio's timer rounds a sleep up to the next millisecond.)
    let close = |a: Duration, b: Duration| a.abs_diff(b) <= ms(1);
    assert!(close(calls[1] - calls[0], ms(10) + backoff.delay(seed, 0)));
    assert!(close(calls[2] - calls[1], ms(10) + backoff.delay(seed, 1)));
    let d0 = backoff.delay(seed, 0);
    assert!(d0 >= ms(100) && d0 <= ms(200), "{d0:?}");
    let d1 = backoff.delay(seed, 1);
    assert!(d1 >= ms(200) && d1 <= ms(400), "{d1:?}");
    assert_eq!(backoff.delay(seed, 30), backoff.delay(seed, 30));
    assert!(backoff.delay(seed, 30) <= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_result_that_cannot_be_judged_is_an_error_not_retried() {
    let engine = Fake::new(|_| (ms(1), RawSample::returned(None, json!({"valid": true}))));
    let mut p = plan(1, 3, 1);
    p.success = Some(Expr::parse("valid and latency_ms < 5").unwrap());
    let out = go(&engine, p).await;
    let s = &out.configs[0];
    assert_eq!(s.errors, 3);
    assert_eq!(s.records[0].attempts, 1);
    assert!(s.records[0]
        .message
        .as_ref()
        .unwrap()
        .contains("`latency_ms` is not in the result"));
}

#[tokio::test(start_paused = true)]
async fn a_token_budget_stops_the_run_cleanly() {
    let engine = Fake::new(|_| {
        let mut raw = ok(true);
        raw.tokens = 100;
        raw.cost_usd = 0.5;
        (ms(10), raw)
    });
    let mut p = plan(2, 100, 4);
    p.budgets.tokens = Some(1000);
    let out = go(&engine, p.clone()).await;
    assert_eq!(out.stopped, Some(Termination::BudgetTokens));
    let total: u64 = out.configs.iter().map(|s| s.samples_run()).sum();
    // The tenth sample spends the budget; the ones already running still count.
    assert!((10..=13).contains(&total), "{total}");
    assert!(out
        .configs
        .iter()
        .all(|s| s.termination == Some(Termination::BudgetTokens)));
    // Interleaved: both configurations got about the same share.
    assert!(
        out.configs[0]
            .samples_run()
            .abs_diff(out.configs[1].samples_run())
            <= 1
    );

    p.budgets = Budgets {
        cost_usd: Some(2.0),
        ..Budgets::default()
    };
    let out = go(&engine, p).await;
    assert_eq!(out.stopped, Some(Termination::BudgetCost));
}

#[tokio::test(start_paused = true)]
async fn a_time_budget_stops_launching_and_lets_running_samples_finish() {
    let engine = Fake::new(|_| (ms(100), ok(true)));
    let mut p = plan(1, 1000, 5);
    p.budgets.time_s = Some(1.05);
    let out = go(&engine, p).await;
    assert_eq!(out.stopped, Some(Termination::BudgetTime));
    // Batches of 5 finish at 100, 200, ... ms; the batch started at 1000 ms finishes too.
    assert_eq!(out.configs[0].samples_run(), 55);
    assert_eq!(out.elapsed, ms(1100));
    assert_eq!(out.configs[0].termination, Some(Termination::BudgetTime));
}

#[tokio::test(start_paused = true)]
async fn stop_when_the_interval_is_narrow_enough() {
    let engine = Fake::new(|r| (ms(5), ok(r.index % 10 != 0)));
    let mut p = plan(1, 2000, 4);
    p.stop = StopRule::CiHalfWidth(0.05);
    let out = go(&engine, p).await;
    let s = &out.configs[0];
    assert_eq!(s.termination, Some(Termination::EarlyStop));
    assert!(s.samples_run() < 200, "{}", s.samples_run());
    let half = wilson_interval(s.successes, s.trials(), 0.95).half_width();
    assert!(half <= 0.05, "{half}");
}

fn verdict_plan(samples: u64, kb: u64, nb: u64) -> Plan {
    let rule = DecisionRule::new(
        Threshold::Empirical {
            baseline: Counts::new(kb, nb),
        },
        samples,
        0.95,
    )
    .unwrap();
    let mut p = plan(1, samples, 8);
    p.stop = StopRule::Verdict(rule);
    p.replace_errors = true;
    p.max_errors = Some(samples / 10);
    p
}

#[tokio::test(start_paused = true)]
async fn a_collapse_stops_early_with_a_failure() {
    let engine = Fake::new(|_| (ms(10), ok(false)));
    let out = go(&engine, verdict_plan(200, 180, 200)).await;
    let s = &out.configs[0];
    assert_eq!(s.termination, Some(Termination::FailureUnrecoverable));
    assert!(matches!(
        s.decision,
        Some(Decision::Fail(StopReason::FailureUnrecoverable))
    ));
    // Unrecoverable after about 200 - k_min + 1 failures; in-flight samples still count.
    let rule = match verdict_plan(200, 180, 200).stop {
        StopRule::Verdict(r) => r,
        _ => unreachable!(),
    };
    let needed = 200 - rule.min_successes() + 1;
    assert!(
        s.samples_run() >= needed && s.samples_run() < needed + 8,
        "{}",
        s.samples_run()
    );
}

#[tokio::test(start_paused = true)]
async fn success_guaranteed_stops_early_with_a_pass() {
    let engine = Fake::new(|_| (ms(10), ok(true)));
    let out = go(&engine, verdict_plan(200, 180, 200)).await;
    let s = &out.configs[0];
    assert!(matches!(
        s.decision,
        Some(Decision::Pass(StopReason::SuccessGuaranteed))
    ));
    assert!(s.samples_run() < 200);
}

#[tokio::test(start_paused = true)]
async fn errors_are_replaced_until_there_are_too_many() {
    // Every 20th sample errors: replaced, and the test still reaches its trials.
    let engine = Fake::new(|r| {
        let raw = if r.index % 20 == 19 {
            RawSample::with_kind(RawKind::Raised, "boom")
        } else {
            ok(r.index % 3 != 0)
        };
        (ms(10), raw)
    });
    let mut p = verdict_plan(100, 60, 100);
    p.retries = 0;
    p.stop = StopRule::None;
    let out = go(&engine, p).await;
    let s = &out.configs[0];
    assert_eq!(s.trials(), 100);
    assert_eq!(s.errors, 5);
    assert_eq!(s.termination, Some(Termination::Completed));

    let engine = Fake::new(|r| {
        let raw = if r.index % 2 == 0 {
            RawSample::with_kind(RawKind::Raised, "boom")
        } else {
            ok(true)
        };
        (ms(10), raw)
    });
    let mut p = verdict_plan(100, 60, 100);
    p.retries = 0;
    p.stop = StopRule::None;
    let out = go(&engine, p).await;
    assert_eq!(out.configs[0].termination, Some(Termination::TooManyErrors));
    assert!(out.configs[0].errors > 10);
}

#[tokio::test(start_paused = true)]
async fn an_interrupted_run_resumes_without_repeating_or_losing_a_sample() {
    let engine = Fake::new(|r| (ms(10 + r.index % 7), ok(r.index % 2 == 0)));
    let cancel = CancellationToken::new();
    let mut logged: Vec<SampleRecord> = Vec::new();
    let trigger = cancel.clone();
    let p = Arc::new(plan(3, 50, 6));
    let out = run(engine.clone(), p.clone(), Vec::new(), cancel, |_, r, _| {
        logged.push(r.clone());
        if logged.len() == 40 {
            trigger.cancel();
        }
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(out.stopped, Some(Termination::Interrupted));
    assert!(out
        .configs
        .iter()
        .all(|s| s.termination == Some(Termination::Interrupted)));
    let first = logged.len();
    assert!((40..46).contains(&first), "{first}");

    let engine2 = Fake::new(|r| (ms(10 + r.index % 7), ok(r.index % 2 == 0)));
    let mut more: Vec<SampleRecord> = Vec::new();
    let out = run(
        engine2.clone(),
        p,
        logged.clone(),
        CancellationToken::new(),
        |_, r, _| {
            more.push(r.clone());
            Ok(())
        },
    )
    .await
    .unwrap();
    assert_eq!(out.stopped, None);
    assert_eq!(first + more.len(), 150);
    let mut all: Vec<(String, u64)> = logged
        .iter()
        .chain(&more)
        .map(|r| (r.config_id.clone(), r.index))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 150);
    // The resumed samples got the seeds they would have had.
    for r in &more {
        assert_eq!(r.seed, sample_seed(7, "e", &r.config_id, r.index));
    }
    for s in &out.configs {
        assert_eq!(s.samples_run(), 50);
        assert_eq!(s.termination, Some(Termination::Completed));
    }
}

#[tokio::test(start_paused = true)]
async fn cancelled_samples_are_not_recorded() {
    let engine = Fake::new(|r| {
        let raw = if r.index >= 3 {
            RawSample::with_kind(RawKind::Cancelled, "cancelled")
        } else {
            ok(true)
        };
        (ms(1), raw)
    });
    let out = go(&engine, plan(1, 5, 1)).await;
    assert_eq!(indices(&out.configs[0]), [0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_resumed_configuration_that_already_met_stop_when_runs_nothing_more() {
    let records: Vec<SampleRecord> = (0..400)
        .map(|i| SampleRecord {
            config_id: "level=0".into(),
            index: i,
            seed: 0,
            outcome: SampleOutcome::Success,
            attempts: 1,
            latency_ms: 1.0,
            tokens: 0,
            cost_usd: 0.0,
            message: None,
            data: Value::Null,
            calls: Vec::new(),
        })
        .collect();
    let engine = Fake::new(|_| (ms(1), ok(true)));
    let mut p = plan(1, 1000, 4);
    p.stop = StopRule::CiHalfWidth(0.05);
    let out = run(
        engine.clone(),
        Arc::new(p),
        records,
        CancellationToken::new(),
        |_, _, _| Ok(()),
    )
    .await
    .unwrap();
    assert!(engine.calls().is_empty());
    assert_eq!(out.configs[0].termination, Some(Termination::EarlyStop));
}

#[tokio::test(start_paused = true)]
async fn a_log_write_error_stops_the_run() {
    let engine = Fake::new(|_| (ms(1), ok(true)));
    let err = run(
        engine,
        Arc::new(plan(1, 10, 2)),
        Vec::new(),
        CancellationToken::new(),
        |_, _, _| Err(RunError("disk full".into())),
    )
    .await
    .unwrap_err();
    assert_eq!(err.0, "disk full");
}

#[tokio::test(start_paused = true)]
async fn a_fatal_sample_stops_the_run_at_once_keeping_what_finished() {
    // Sample 5 of the first configuration meets a 401; nothing launches after it, the
    // samples already running finish and are kept, and the fatal sample is not a record.
    let engine = Fake::new(|r| {
        if r.config == 0 && r.index == 5 {
            (
                ms(1),
                RawSample::with_kind(RawKind::Fatal, "401 from model `small`: check KEY"),
            )
        } else {
            (ms(10), ok(true))
        }
    });
    let out = go(&engine, plan(2, 100, 4)).await;
    assert_eq!(
        out.fatal.as_deref(),
        Some("401 from model `small`: check KEY")
    );
    assert_eq!(out.stopped, Some(Termination::Interrupted));
    let kept: usize = out.configs.iter().map(|s| s.records.len()).sum();
    let calls = engine.calls().len();
    assert_eq!(kept, calls - 1, "every call but the fatal one is kept");
    assert!(calls < 20, "launching stopped at once ({calls} calls)");
    assert!(out.configs[0].records.iter().all(|r| r.index != 5));
    // Not retried: a fatal error is the same on every attempt.
    assert_eq!(
        engine
            .calls()
            .iter()
            .filter(|(r, _)| r.config == 0 && r.index == 5)
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_share_runs_its_indices_of_every_configuration() {
    let engine = Fake::new(|r| (ms(5), ok(r.index % 2 == 0)));
    let whole = go(&engine, plan(2, 11, 4)).await;
    let mut p = plan(2, 11, 4);
    p.shard = Some("2/3".parse().unwrap());
    assert_eq!(p.planned(), 4);
    let out = go(&engine, p.clone()).await;
    for (c, state) in out.configs.iter().enumerate() {
        assert_eq!(indices(state), [1, 4, 7, 10]);
        assert_eq!(state.termination, Some(Termination::Completed));
        // The samples a single run would have drawn, seed for seed.
        for r in &state.records {
            let same = whole.configs[c].records.iter().find(|w| w.index == r.index);
            assert_eq!(same.map(|w| w.seed), Some(r.seed));
        }
    }
    // Resuming a share skips what it did, and ignores samples that are not its own.
    let done: Vec<SampleRecord> = whole.configs[0].records.clone();
    let resumed = run(
        engine.clone(),
        Arc::new(p),
        done,
        CancellationToken::new(),
        |_, _, _| Ok(()),
    )
    .await
    .unwrap();
    assert_eq!(indices(&resumed.configs[0]), [1, 4, 7, 10]);
    assert_eq!(indices(&resumed.configs[1]), [1, 4, 7, 10]);
}
