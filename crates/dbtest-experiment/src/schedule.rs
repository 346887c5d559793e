//! The sampling scheduler: runs samples of every configuration concurrently on Tokio, up to
//! `concurrency` at once (interleaving the configurations, so a run stopped early by a
//! budget leaves them comparable), paced to `max_per_second`, retrying infrastructure errors
//! with exponential backoff and jitter, enforcing budgets, and stopping a configuration
//! early on `stop_when` or once a verdict cannot change. Generic over the engine that runs
//! one sample, so it is tested here with a fake one on paused time.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dbtest_stats::proportion::wilson_interval;
use dbtest_stats::verdict::{Decision, DecisionRule, StopReason};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::design::{sample_seed, Budgets, Configuration};
use crate::expr::Expr;
use crate::sample::{judge, RawKind, RawSample, SampleOutcome, SampleRecord};
use crate::shard::Shard;

/// Runs one attempt of one sample.
pub trait SampleEngine: Send + Sync + 'static {
    fn sample(&self, request: SampleRequest) -> impl Future<Output = RawSample> + Send;
}

/// Which sample to run: the configuration (an index into the plan's), the sample's index
/// and seed, and the attempt (0 first, then 1, 2 ... on retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleRequest {
    pub config: usize,
    pub index: u64,
    pub seed: u64,
    pub attempt: u32,
}

/// Why a configuration (or the whole run) stopped sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Termination {
    Completed,
    BudgetTime,
    BudgetTokens,
    BudgetCost,
    EarlyStop,
    Interrupted,
    SuccessGuaranteed,
    FailureUnrecoverable,
    TooManyErrors,
}

impl Termination {
    pub fn as_str(self) -> &'static str {
        match self {
            Termination::Completed => "completed",
            Termination::BudgetTime => "budget_time",
            Termination::BudgetTokens => "budget_tokens",
            Termination::BudgetCost => "budget_cost",
            Termination::EarlyStop => "early_stop",
            Termination::Interrupted => "interrupted",
            Termination::SuccessGuaranteed => "success_guaranteed",
            Termination::FailureUnrecoverable => "failure_unrecoverable",
            Termination::TooManyErrors => "too_many_errors",
        }
    }
}

impl std::fmt::Display for Termination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a configuration stops before its planned samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopRule {
    None,
    /// `stop_when: {ci_half_width}`: once the Wilson interval is this narrow.
    CiHalfWidth(f64),
    /// A probabilistic test: once the verdict cannot change.
    Verdict(DecisionRule),
}

/// Exponential backoff of retries: `base * 2^attempt`, capped, times a jitter in [0.5, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The pause before retry `attempt + 1`; the jitter is derived from the sample's seed so
    /// that a test can predict it, and differs between samples so retries do not stampede.
    pub fn delay(&self, seed: u64, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cap);
        let u = (splitmix64(seed ^ u64::from(attempt).wrapping_mul(0x9E37_79B9)) >> 11) as f64
            / (1u64 << 53) as f64;
        exp.mul_f64(0.5 + 0.5 * u)
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Everything the scheduler needs to know.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Salts the seeds (the experiment's name, or a spec's id).
    pub experiment: String,
    pub run_seed: u64,
    pub configs: Vec<Configuration>,
    /// Planned samples per configuration.
    pub samples: u64,
    pub concurrency: usize,
    pub max_per_second: Option<f64>,
    pub retries: u32,
    pub backoff: Backoff,
    pub budgets: Budgets,
    pub success: Option<Expr>,
    pub confidence: f64,
    pub stop: StopRule,
    /// Run another sample in place of each infrastructure error, so that `samples` trials
    /// can still be reached (a probabilistic test); else errors use up their index.
    pub replace_errors: bool,
    /// More infrastructure errors than this in a configuration stop it.
    pub max_errors: Option<u64>,
    /// `--shard K/N`: only the sample indices of this share, in every configuration.
    pub shard: Option<Shard>,
}

impl Plan {
    /// Whether sample `index` is this run's (always, without a shard).
    fn holds(&self, index: u64) -> bool {
        self.shard.is_none_or(|s| s.holds(index))
    }

    /// The samples each configuration plans: `samples`, or the share's part of them.
    pub fn planned(&self) -> u64 {
        self.shard.map_or(self.samples, |s| s.planned(self.samples))
    }
}

/// Where one configuration stands.
#[derive(Debug, Clone, Default)]
pub struct ConfigState {
    /// Finished samples, in the order they finished (those of a resumed run first).
    pub records: Vec<SampleRecord>,
    pub successes: u64,
    pub failures: u64,
    pub errors: u64,
    pub tokens: u64,
    pub cost_usd: f64,
    pub in_flight: u64,
    pub termination: Option<Termination>,
    /// The verdict rule's last decision (probabilistic tests only).
    pub decision: Option<Decision>,
    done: HashSet<u64>,
    next_index: u64,
}

impl ConfigState {
    /// Successes and failures: the samples a rate is computed from.
    pub fn trials(&self) -> u64 {
        self.successes + self.failures
    }

    /// Every finished sample, errors included.
    pub fn samples_run(&self) -> u64 {
        self.successes + self.failures + self.errors
    }

    /// A finished configuration's state from its records, in index order: the same
    /// samples give the same state (and the same sums, to the last bit), whatever order
    /// they finished in or whichever shares ran them.
    pub fn from_records(
        records: impl IntoIterator<Item = SampleRecord>,
        termination: Option<Termination>,
    ) -> ConfigState {
        let mut records: Vec<SampleRecord> = records.into_iter().collect();
        records.sort_by_key(|r| r.index);
        let mut state = ConfigState::default();
        for r in records {
            state.add(r);
        }
        state.termination = termination;
        state
    }

    fn add(&mut self, record: SampleRecord) {
        match record.outcome {
            SampleOutcome::Success => self.successes += 1,
            SampleOutcome::Failure => self.failures += 1,
            SampleOutcome::Error => self.errors += 1,
        }
        self.tokens += record.tokens;
        self.cost_usd += record.cost_usd;
        self.done.insert(record.index);
        self.records.push(record);
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub configs: Vec<ConfigState>,
    /// Why the whole run stopped early (a budget, Ctrl-C), if it did.
    pub stopped: Option<Termination>,
    /// The error that stopped the run at once ([`RawKind::Fatal`]), if one did.
    pub fatal: Option<String>,
    pub elapsed: Duration,
}

/// A record-keeping failure (the sample log could not be written): the run stops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RunError(pub String);

struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().expect("pacer lock");
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

struct Shared<E> {
    engine: Arc<E>,
    pacer: Option<Pacer>,
    retries: u32,
    backoff: Backoff,
    /// Set when the whole run stops launching.
    halt_all: AtomicBool,
    /// Set when a configuration stops launching.
    halt: Vec<AtomicBool>,
}

impl<E> Shared<E> {
    fn halted(&self, config: usize) -> bool {
        self.halt_all.load(Ordering::Relaxed) || self.halt[config].load(Ordering::Relaxed)
    }
}

/// A sample's last attempt, how many attempts it took and the usage of all of them.
type Finished = (RawSample, u32, u64, f64);

/// One sample with its retries. `None` when it never completed: halted before it started
/// or between retries, or cancelled.
async fn one_sample<E: SampleEngine>(
    shared: Arc<Shared<E>>,
    config: usize,
    index: u64,
    seed: u64,
) -> Option<Finished> {
    let mut attempt = 0;
    let (mut tokens, mut cost) = (0u64, 0.0f64);
    let mut calls = Vec::new();
    loop {
        if shared.halted(config) {
            return None;
        }
        if let Some(pacer) = &shared.pacer {
            pacer.wait().await;
            if shared.halted(config) {
                return None;
            }
        }
        let raw = shared
            .engine
            .sample(SampleRequest {
                config,
                index,
                seed,
                attempt,
            })
            .await;
        let mut raw = raw;
        tokens += raw.tokens;
        cost += raw.cost_usd;
        // Every attempt's model calls stay in the sample log, not only the last one's.
        calls.append(&mut raw.calls);
        match raw.kind {
            RawKind::Cancelled => return None,
            RawKind::Raised if attempt < shared.retries => {
                tokio::time::sleep(shared.backoff.delay(seed, attempt)).await;
                attempt += 1;
            }
            _ => {
                raw.calls = calls;
                return Some((raw, attempt + 1, tokens, cost));
            }
        }
    }
}

fn record_of(
    plan: &Plan,
    config: usize,
    index: u64,
    seed: u64,
    (raw, attempts, tokens, cost): Finished,
) -> SampleRecord {
    let (outcome, message) = match raw.kind {
        RawKind::Returned => match judge(plan.success.as_ref(), raw.success, &raw.data) {
            Ok(true) => match raw.check_failed {
                Some(m) => (SampleOutcome::Failure, Some(m)),
                None => (SampleOutcome::Success, None),
            },
            Ok(false) => (SampleOutcome::Failure, raw.check_failed.or(raw.message)),
            Err(m) => (SampleOutcome::Error, Some(m)),
        },
        RawKind::CheckFailed => (SampleOutcome::Failure, raw.message),
        RawKind::Raised | RawKind::Cancelled | RawKind::Fatal => {
            (SampleOutcome::Error, raw.message)
        }
    };
    SampleRecord {
        config_id: plan.configs[config].config_id.clone(),
        index,
        seed,
        outcome,
        attempts,
        latency_ms: raw.latency_ms,
        tokens,
        cost_usd: cost,
        message,
        data: raw.data,
        calls: raw.calls,
    }
}

/// Runs the plan. `resumed` holds the records of an earlier run of the same plan: their
/// samples are not run again. `on_record` sees every new record as it finishes, with the
/// state of every configuration (write it to the log there); an error from it stops the run.
pub async fn run<E: SampleEngine>(
    engine: Arc<E>,
    plan: Arc<Plan>,
    resumed: Vec<SampleRecord>,
    cancel: CancellationToken,
    mut on_record: impl FnMut(usize, &SampleRecord, &[ConfigState]) -> Result<(), RunError>,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let n = plan.configs.len();
    let mut states: Vec<ConfigState> = vec![ConfigState::default(); n];
    for record in resumed {
        let Some(c) = plan
            .configs
            .iter()
            .position(|c| c.config_id == record.config_id)
        else {
            return Err(RunError(format!(
                "the sample log has a sample of configuration {:?}, which the design does not have; \
                 resume a run with the design it was started with",
                record.config_id
            )));
        };
        if (!plan.replace_errors && record.index >= plan.samples) || !plan.holds(record.index) {
            continue;
        }
        if !states[c].done.contains(&record.index) {
            states[c].add(record);
        }
    }
    let shared = Arc::new(Shared {
        engine,
        pacer: plan.max_per_second.map(|rate| Pacer {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(None),
        }),
        retries: plan.retries,
        backoff: plan.backoff,
        halt_all: AtomicBool::new(false),
        halt: (0..n).map(|_| AtomicBool::new(false)).collect(),
    });
    let deadline = plan
        .budgets
        .time_s
        .map(|s| started + Duration::from_secs_f64(s));
    let mut stopped: Option<Termination> = None;
    let mut fatal: Option<String> = None;
    for c in 0..n {
        settle(&plan, &mut states, c, &shared);
    }
    if let Some(reason) = budget_spent(&plan.budgets, &states) {
        stopped = Some(reason);
    }
    let mut set: JoinSet<(usize, u64, u64, Option<Finished>)> = JoinSet::new();
    let mut in_flight = 0usize;
    let mut turn = 0usize;
    loop {
        if stopped.is_none() && cancel.is_cancelled() {
            stopped = Some(Termination::Interrupted);
        }
        if stopped.is_none() {
            // Launch round-robin over the configurations that want more samples.
            let mut idle = 0;
            while in_flight < plan.concurrency && idle < n {
                let c = turn % n;
                turn += 1;
                match next_index(&plan, &mut states[c]) {
                    Some(index) => {
                        idle = 0;
                        let seed = sample_seed(
                            plan.run_seed,
                            &plan.experiment,
                            &plan.configs[c].config_id,
                            index,
                        );
                        states[c].in_flight += 1;
                        in_flight += 1;
                        let shared = shared.clone();
                        set.spawn(async move {
                            let done = one_sample(shared, c, index, seed).await;
                            (c, index, seed, done)
                        });
                    }
                    None => idle += 1,
                }
            }
        }
        if set.is_empty() {
            break;
        }
        let deadline_armed = deadline.is_some() && stopped.is_none();
        tokio::select! {
            biased;
            () = cancel.cancelled(), if stopped.is_none() => {
                stopped = Some(Termination::Interrupted);
                shared.halt_all.store(true, Ordering::Relaxed);
            }
            () = tokio::time::sleep_until(deadline.unwrap_or(started)), if deadline_armed => {
                stopped = Some(Termination::BudgetTime);
                shared.halt_all.store(true, Ordering::Relaxed);
            }
            joined = set.join_next() => {
                let Some(joined) = joined else { continue };
                let (c, index, seed, done) = joined.map_err(|e| RunError(format!("a sample task failed: {e}")))?;
                in_flight -= 1;
                states[c].in_flight -= 1;
                if let Some((raw, ..)) = done.as_ref().filter(|d| d.0.kind == RawKind::Fatal) {
                    // Every other sample would meet it too: stop launching, keep what
                    // finished, and say why.
                    if fatal.is_none() {
                        fatal = Some(raw.message.clone().unwrap_or_else(|| "a fatal error".into()));
                    }
                    stopped.get_or_insert(Termination::Interrupted);
                    shared.halt_all.store(true, Ordering::Relaxed);
                    settle(&plan, &mut states, c, &shared);
                } else if let Some(done) = done {
                    let record = record_of(&plan, c, index, seed, done);
                    states[c].add(record);
                    settle(&plan, &mut states, c, &shared);
                    if stopped.is_none() {
                        if let Some(reason) = budget_spent(&plan.budgets, &states) {
                            stopped = Some(reason);
                            shared.halt_all.store(true, Ordering::Relaxed);
                        }
                    }
                    on_record(c, states[c].records.last().expect("just added"), &states)?;
                } else {
                    settle(&plan, &mut states, c, &shared);
                }
            }
        }
    }
    for c in 0..n {
        settle(&plan, &mut states, c, &shared);
        if states[c].termination.is_none() {
            states[c].termination = Some(stopped.unwrap_or(Termination::Completed));
        }
    }
    Ok(RunOutcome {
        configs: states,
        stopped,
        fatal,
        elapsed: started.elapsed(),
    })
}

/// How many more samples configuration `state` should launch.
fn wanted(plan: &Plan, state: &ConfigState) -> u64 {
    if state.termination.is_some() {
        return 0;
    }
    let used = if plan.replace_errors {
        state.trials()
    } else {
        state.samples_run()
    };
    plan.planned().saturating_sub(used + state.in_flight)
}

fn next_index(plan: &Plan, state: &mut ConfigState) -> Option<u64> {
    if wanted(plan, state) == 0 {
        return None;
    }
    while state.done.contains(&state.next_index) || !plan.holds(state.next_index) {
        state.next_index += 1;
    }
    if !plan.replace_errors && state.next_index >= plan.samples {
        return None;
    }
    let index = state.next_index;
    state.next_index += 1;
    Some(index)
}

/// Decides whether configuration `c` is finished or should stop, after a change.
fn settle<E>(plan: &Plan, states: &mut [ConfigState], c: usize, shared: &Shared<E>) {
    let state = &mut states[c];
    if state.termination.is_some() {
        return;
    }
    let all_done = wanted(plan, state) == 0 && state.in_flight == 0;
    let mut stop = None;
    if let StopRule::Verdict(rule) = plan.stop {
        let decision = rule.decide(state.successes, state.trials());
        state.decision = Some(decision);
        stop = match decision {
            Decision::Continue => None,
            Decision::Pass(reason) | Decision::Fail(reason) => Some(match reason {
                StopReason::Completed => Termination::Completed,
                StopReason::SuccessGuaranteed => Termination::SuccessGuaranteed,
                StopReason::FailureUnrecoverable => Termination::FailureUnrecoverable,
            }),
        };
    }
    if stop.is_none() {
        if plan.max_errors.is_some_and(|max| state.errors > max) {
            stop = Some(Termination::TooManyErrors);
        } else if all_done {
            stop = Some(Termination::Completed);
        } else if let StopRule::CiHalfWidth(width) = plan.stop {
            if state.trials() > 0
                && wilson_interval(state.successes, state.trials(), plan.confidence).half_width()
                    <= width
            {
                stop = Some(Termination::EarlyStop);
            }
        }
    }
    if let Some(stop) = stop {
        state.termination = Some(stop);
        shared.halt[c].store(true, Ordering::Relaxed);
    }
}

fn budget_spent(budgets: &Budgets, states: &[ConfigState]) -> Option<Termination> {
    let tokens: u64 = states.iter().map(|s| s.tokens).sum();
    let cost: f64 = states.iter().map(|s| s.cost_usd).sum();
    if budgets.tokens.is_some_and(|b| tokens >= b) {
        Some(Termination::BudgetTokens)
    } else if budgets.cost_usd.is_some_and(|b| cost >= b) {
        Some(Termination::BudgetCost)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
