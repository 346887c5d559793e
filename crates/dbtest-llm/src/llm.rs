//! [`Llm`]: the one entry point a run calls models through.
//!
//! It puts the pieces in their order: middleware before the request (which may change or
//! abort it), the cache (keyed on what middleware let through), the rate limiter and the
//! retries around each attempt, cost and cache after the answer, middleware after it.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::cache::{Cache, CacheMode, CachedReply, CallKey};
use crate::call::{CallError, CallInfo, CallNotes, ChatRequest, Reply};
use crate::cost::cost_usd;
use crate::limit::{estimate_tokens, RateLimiter};
use crate::middleware::{CallContext, Middleware};
use crate::models::{ResolvedModel, ResolvedModels};
use crate::retry::{send_with_retry, Failure, RetryPolicy};
use crate::transport::{
    build_request, merged_params, parse_completion, parse_json_text, HttpTransport, SetupError,
    Transport,
};

/// The LLM layer of one run: built once, shared by every sample (it is `Send + Sync`).
pub struct Llm {
    models: ResolvedModels,
    limiters: BTreeMap<String, Arc<RateLimiter>>,
    transport: Arc<dyn Transport>,
    cache: Cache,
    middleware: Vec<Arc<dyn Middleware>>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm")
            .field("models", &self.models)
            .field("cache", &self.cache.mode())
            .field("middleware", &self.middleware.len())
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Llm {
    /// The run's layer over the real HTTP transport.
    pub fn new(
        models: ResolvedModels,
        cache: Cache,
        middleware: Vec<Arc<dyn Middleware>>,
    ) -> Result<Llm, SetupError> {
        let tls = HttpTransport::needs_tls(models.models.values().map(|m| m.url.as_str()));
        let transport = Arc::new(HttpTransport::new(tls)?);
        Ok(Llm::with_transport(models, cache, middleware, transport))
    }

    /// The same over any transport (tests use fakes on paused time).
    pub fn with_transport(
        models: ResolvedModels,
        cache: Cache,
        middleware: Vec<Arc<dyn Middleware>>,
        transport: Arc<dyn Transport>,
    ) -> Llm {
        let limiters = models
            .models
            .iter()
            .filter_map(|(name, m)| {
                m.spec
                    .rate_limit
                    .map(|l| (name.clone(), Arc::new(RateLimiter::new(l))))
            })
            .collect();
        Llm {
            models,
            limiters,
            transport,
            cache,
            middleware,
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Llm {
        self.retry = retry;
        self
    }

    pub fn models(&self) -> &ResolvedModels {
        &self.models
    }

    /// One chat call of one sample.
    pub async fn chat(
        &self,
        model: &str,
        request: ChatRequest,
        call: CallInfo,
    ) -> Result<Reply, CallError> {
        let resolved = self
            .models
            .get(model)
            .ok_or_else(|| CallError::UnknownModel(model.into()))?;
        let ctx = CallContext {
            model: model.into(),
            call,
        };
        let mut request = request;
        let mut notes = CallNotes::default();
        for m in &self.middleware {
            if let Err(abort) = m.before_request(&ctx, &mut request, &mut notes).await {
                let error = CallError::Aborted {
                    reason: abort.reason,
                    notes,
                };
                self.report_error(&ctx, &request, &error).await;
                return Err(error);
            }
        }
        match self.send(resolved, &ctx, &request, notes).await {
            Ok(mut reply) => {
                for m in &self.middleware {
                    m.after_response(&ctx, &request, &mut reply).await;
                }
                Ok(reply)
            }
            Err(error) => {
                let error = scrub_error(error, resolved);
                self.report_error(&ctx, &request, &error).await;
                Err(error)
            }
        }
    }

    async fn report_error(&self, ctx: &CallContext, request: &ChatRequest, error: &CallError) {
        for m in &self.middleware {
            m.after_error(ctx, request, error).await;
        }
    }

    /// Cache, then the network with limits and retries.
    async fn send(
        &self,
        model: &ResolvedModel,
        ctx: &CallContext,
        request: &ChatRequest,
        notes: CallNotes,
    ) -> Result<Reply, CallError> {
        let params = merged_params(model, request);
        let key = (self.cache.mode() != CacheMode::Off).then(|| {
            self.cache
                .key_for(model, &request.messages, &params, ctx.call.sample_index)
        });
        let result = self
            .answer(model, ctx, request, notes, &params, key.as_ref())
            .await;
        if let (Err(_), Some(key)) = (&result, &key) {
            // Nothing was stored under this occurrence: the call made again (a retried
            // sample) takes its place, as it will in the replay.
            self.cache.forget(key);
        }
        result
    }

    async fn answer(
        &self,
        model: &ResolvedModel,
        ctx: &CallContext,
        request: &ChatRequest,
        notes: CallNotes,
        params: &serde_json::Map<String, serde_json::Value>,
        key: Option<&CallKey>,
    ) -> Result<Reply, CallError> {
        let name = ctx.model.as_str();
        if let Some(key) = key {
            let hit = self
                .cache
                .get(&key.key)
                .await
                .map_err(|e| CallError::Cache(e.to_string()))?;
            if let Some(hit) = hit {
                return Ok(Reply {
                    json: parse_json_text(&hit.text),
                    cost_usd: cost_usd(hit.usage, model.spec.price.as_ref()),
                    text: hit.text,
                    usage: hit.usage,
                    latency_ms: 0,
                    attempts: Vec::new(),
                    cached: true,
                    notes,
                });
            }
            if self.cache.mode() == CacheMode::Replay {
                return Err(CallError::CacheMiss { model: name.into() });
            }
        }

        let http = build_request(model, request);
        let prompt_chars = request
            .messages
            .iter()
            .map(|m| m.content.chars().count())
            .sum();
        let estimate = estimate_tokens(
            prompt_chars,
            params.get("max_tokens").and_then(|v| v.as_u64()),
        );
        let limiter = self.limiters.get(name).map(Arc::as_ref);
        let mut rng = fastrand::Rng::with_seed(sample_seed(ctx.call.seed, ctx.call.sample_index));
        let (result, attempts) = send_with_retry(
            self.transport.as_ref(),
            &http,
            &self.retry,
            &mut rng,
            limiter,
            estimate,
        )
        .await;
        let response = match result {
            Ok(response) => response,
            Err(Failure::Fatal { status, .. }) => {
                return Err(CallError::Fatal {
                    message: fatal_message(status, name, model),
                    attempts,
                });
            }
            Err(Failure::Rejected { status, message }) => {
                return Err(CallError::Rejected {
                    model: name.into(),
                    status: Some(status),
                    message,
                    attempts,
                });
            }
            Err(Failure::Exhausted { last }) => {
                return Err(CallError::Exhausted {
                    model: name.into(),
                    last,
                    attempts,
                });
            }
        };
        let (text, usage) = match parse_completion(&response.body) {
            Ok(parsed) => parsed,
            Err(message) => {
                if let Some(limiter) = limiter {
                    limiter.correct(estimate, 0);
                }
                return Err(CallError::Rejected {
                    model: name.into(),
                    status: Some(response.status),
                    message,
                    attempts,
                });
            }
        };
        if let Some(limiter) = limiter {
            limiter.correct(estimate, usage.input_tokens + usage.output_tokens);
        }
        if let Some(key) = key {
            let entry = CachedReply {
                text: text.clone(),
                usage,
            };
            // A reply that record mode could not store would make the replay miss: an
            // error now, not a surprise later.
            self.cache
                .put(&key.key, &entry)
                .await
                .map_err(|e| CallError::Cache(e.to_string()))?;
        }
        Ok(Reply {
            json: parse_json_text(&text),
            cost_usd: cost_usd(usage, model.spec.price.as_ref()),
            text,
            usage,
            latency_ms: attempts.last().map_or(0, |a| a.duration_ms),
            attempts,
            cached: false,
            notes,
        })
    }
}

/// "401 Unauthorized from model `small` (https://host/v1): check OPENAI_API_KEY". The
/// server's body is left out: some servers echo part of the key in it.
fn fatal_message(status: u16, name: &str, model: &ResolvedModel) -> String {
    let reason = if status == 401 {
        "Unauthorized"
    } else {
        "Forbidden"
    };
    let hint = match &model.auth.key_env {
        Some(var) => format!("check {var}"),
        None => "the server wants a key: set `api_key_env` in the model's settings".into(),
    };
    format!(
        "{status} {reason} from model `{name}` ({}): {hint}",
        model.base_url
    )
}

/// Belt and braces: whatever a server put in an error, the key itself never leaves.
fn scrub_error(error: CallError, model: &ResolvedModel) -> CallError {
    let Some(key) = model
        .auth
        .key
        .as_ref()
        .map(|k| k.expose())
        .filter(|k| !k.is_empty())
    else {
        return error;
    };
    let scrub = |s: String| {
        if s.contains(key) {
            s.replace(key, "***")
        } else {
            s
        }
    };
    let scrub_attempts = |attempts: Vec<crate::retry::Attempt>| {
        attempts
            .into_iter()
            .map(|mut a| {
                a.error = a.error.map(scrub);
                a
            })
            .collect()
    };
    match error {
        CallError::Fatal { message, attempts } => CallError::Fatal {
            message: scrub(message),
            attempts: scrub_attempts(attempts),
        },
        CallError::Exhausted {
            model,
            last,
            attempts,
        } => CallError::Exhausted {
            model,
            last: scrub(last),
            attempts: scrub_attempts(attempts),
        },
        CallError::Rejected {
            model,
            status,
            message,
            attempts,
        } => CallError::Rejected {
            model,
            status,
            message: scrub(message),
            attempts: scrub_attempts(attempts),
        },
        other => other,
    }
}

/// The jitter seed of one sample: the run's seed and the sample index mixed (SplitMix64),
/// so samples do not retry in lockstep and a re-run draws the same waits.
fn sample_seed(seed: u64, sample_index: u64) -> u64 {
    let mut z = seed ^ sample_index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
