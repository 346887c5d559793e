//! The model side of an experiment (DESIGN §8): the design's models checked and resolved
//! before any call, its dataset read, the run's LLM layer built; and the engine that runs
//! a design without Python (a prompt per row, sent to the configuration's `model`, judged
//! by `success` over the reply and, if asked, by a judge model).

use std::path::Path;
use std::sync::Arc;

use dbtest_core::Error;
use dbtest_llm::cache::{Cache, CacheMode};
use dbtest_llm::middleware::{parse_middleware, Middleware, MiddlewareSpec};
use dbtest_llm::models::{parse_models, resolve};
use dbtest_llm::{CallError, CallInfo, ChatRequest, Llm, Message, Reply};
use futures::future::BoxFuture;
use serde_json::{json, Map, Value};

use crate::dataset::Dataset;
use crate::design::{Configuration, Design, Judge};
use crate::expr::Expr;
use crate::sample::{RawKind, RawSample};
use crate::schedule::{SampleEngine, SampleRequest};

/// Request parameters a factor may set (a factor of another name only labels the
/// configuration: sending it would make the server refuse the call).
pub const CHAT_PARAMS: &[&str] = &[
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stop",
    "response_format",
    "reasoning_effort",
];

/// What a run needs to call models, prepared before any sample.
#[derive(Default)]
pub struct ModelSide {
    pub llm: Option<Arc<Llm>>,
    pub dataset: Option<Dataset>,
    /// A `python:` middleware runs: its async hooks need Python's event loop.
    pub python_middleware: bool,
}

/// Builds a `python: "module:Class"` middleware (only the binding can).
pub type PythonMiddleware<'a> = dyn Fn(&str) -> Result<Arc<dyn Middleware>, String> + 'a;

/// Builds a `python: "module:Class"` middleware, importing `module` from the project root
/// (the same for a run and for `verify`, which may start from another folder).
pub type ImportMiddleware<'a> = dyn Fn(&str, &Path) -> Result<Arc<dyn Middleware>, String> + 'a;

/// A probabilistic test's own check of each sample's result (its test function, which only
/// the binding can call): `Err(message)` fails that sample (DESIGN §6).
pub trait SampleCheck: Send + Sync {
    fn check<'a>(&'a self, result: &'a Value) -> BoxFuture<'a, Result<(), String>>;
}

fn usage(e: impl std::fmt::Display) -> Error {
    Error::Usage(e.to_string())
}

/// Checks the design's models against its factors, judge and budgets, resolves keys and
/// endpoints from the environment, reads the dataset, and builds the LLM layer. Every
/// problem found here is a usage error (exit 4) before any call. `python` builds a
/// `python:` middleware (only the binding can).
pub fn prepare(
    design: &Design,
    design_file: &str,
    design_dir: &Path,
    run_dir: &Path,
    cache: (CacheMode, &Path),
    env: impl Fn(&str) -> Option<String>,
    python: &PythonMiddleware<'_>,
) -> Result<ModelSide, Error> {
    let dataset = match &design.llm.dataset {
        Some(d) => Some(Dataset::read(&design_dir.join(&d.path), &d.path).map_err(usage)?),
        None => None,
    };
    let Some(models) = &design.llm.models else {
        if design.llm.prompt.is_some() {
            return Err(usage(format!(
                "{design_file}: a design with `prompt` needs `models`: which endpoints the `model` factor names"
            )));
        }
        return Ok(ModelSide {
            dataset,
            ..ModelSide::default()
        });
    };
    let specs = parse_models(design_file, models).map_err(usage)?;
    let mut used: Vec<String> = Vec::new();
    if let Some((_, levels)) = design.factors.iter().find(|(name, _)| name == "model") {
        for level in levels {
            let name = level.as_str().unwrap_or_default().to_string();
            if !specs.contains_key(&name) {
                return Err(usage(format!(
                    "{design_file}: the factor `model` names {level}, which `models` does not define; models: {}",
                    specs.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            used.push(name);
        }
    } else if design.llm.prompt.is_some() {
        return Err(usage(format!(
            "{design_file}: a design with `prompt` needs a `model` factor naming its models, e.g. factors: {{model: [{}]}}",
            specs.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    } else {
        used.extend(specs.keys().cloned());
    }
    if let Some(judge) = &design.llm.judge {
        if !specs.contains_key(&judge.model) {
            return Err(usage(format!(
                "{design_file}: `judge.model` is `{}`, which `models` does not define; models: {}",
                judge.model,
                specs.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        used.push(judge.model.clone());
    }
    if design.budgets.cost_usd.is_some() {
        dbtest_llm::cost::cost_budget_needs_prices(
            used.iter()
                .map(|m| (m.as_str(), specs.get(m).and_then(|s| s.price.as_ref()))),
        )
        .map_err(|e| usage(format!("{design_file}: {e}")))?;
    }
    let resolved = resolve(&specs, env).map_err(usage)?;
    let mut chain: Vec<Arc<dyn Middleware>> = Vec::new();
    let mut python_middleware = false;
    if let Some(list) = &design.llm.middleware {
        for spec in parse_middleware(design_file, list).map_err(usage)? {
            match &spec {
                MiddlewareSpec::Python { target } => {
                    python_middleware = true;
                    chain.push(python(target).map_err(|e| {
                        usage(format!("{design_file}: middleware python {target:?}: {e}"))
                    })?);
                }
                _ => {
                    std::fs::create_dir_all(run_dir).map_err(|e| {
                        Error::io(format!("cannot create {}", run_dir.display()), e)
                    })?;
                    let built = spec
                        .build(run_dir)
                        .map_err(|e| Error::io("cannot open the audit log", e))?;
                    chain.extend(built);
                }
            }
        }
    }
    let (mode, path) = cache;
    let cache = Cache::open(path, mode).map_err(usage)?;
    let llm = Llm::new(resolved, cache, chain).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(ModelSide {
        llm: Some(Arc::new(llm)),
        dataset,
        python_middleware,
    })
}

/// The `models:` mapping of the project's shared models file (`[tool.dbtest.experiment]
/// models = "models.yaml"`), given as JSON text; `file` names it in errors.
pub fn shared_models(json_text: &str, file: &str) -> Result<Map<String, Value>, Error> {
    let value: Value =
        serde_json::from_str(json_text).map_err(|e| usage(format!("{file}: {e}")))?;
    match value.get("models") {
        Some(Value::Object(models)) => Ok(models.clone()),
        _ => Err(usage(format!(
            "{file}: needs a `models:` mapping, as a design writes it, e.g. models: {{small: \
             {{provider: openai, model: gpt-4o-mini, api_key_env: OPENAI_API_KEY}}}}"
        ))),
    }
}

/// `design` with the shared models it uses added to its own `models:`, for a design that
/// talks to models (it has `models`, `prompt`, `judge` or a `model` factor). A model the
/// design defines itself replaces the shared one of that name whole (no field-by-field
/// merge, so what a design says is all there is to read). Only the shared models the
/// `model` factor and the judge name are taken (all of them without a `model` factor), so
/// that a baseline, and its spec, keep what the run called and `verify` needs no other key.
/// A design that names none of them is left as it is.
pub fn with_shared_models(design: Value, shared: &Map<String, Value>) -> Value {
    let Value::Object(mut map) = design else {
        return design;
    };
    let levels: Option<Vec<String>> = map
        .get("factors")
        .and_then(|f| f.get("model"))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
    let judge = map
        .get("judge")
        .and_then(|j| j.get("model"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let talks_to_models = ["models", "prompt", "judge"]
        .iter()
        .any(|k| map.get(*k).is_some_and(|v| !v.is_null()))
        || levels.is_some();
    if !talks_to_models {
        return Value::Object(map);
    }
    let own = match map.get("models") {
        Some(Value::Object(own)) => own.clone(),
        // Not a mapping: left for the design's own check to refuse.
        Some(v) if !v.is_null() => return Value::Object(map),
        _ => Map::new(),
    };
    let wanted = |name: &str| {
        levels
            .as_ref()
            .is_none_or(|l| l.iter().any(|n| n == name) || judge.as_deref() == Some(name))
    };
    let mut models: Map<String, Value> = shared
        .iter()
        .filter(|(name, _)| wanted(name) && !own.contains_key(*name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if models.is_empty() {
        // Nothing shared is named: a use case's `model` factor may name its own stand-ins.
        return Value::Object(map);
    }
    models.extend(own);
    map.insert("models".into(), Value::Object(models));
    Value::Object(map)
}

/// The request parameters a configuration sets through its factors.
pub fn factor_params(factors: &Map<String, Value>) -> Map<String, Value> {
    factors
        .iter()
        .filter(|(name, _)| CHAT_PARAMS.contains(&name.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// One model call as the sample log keeps it.
pub fn call_entry(model: &str, role: &str, reply: Result<&Reply, &CallError>) -> Value {
    match reply {
        Ok(r) => json!({
            "model": model, "role": role, "status": "ok", "cached": r.cached,
            "usage": r.usage, "cost_usd": r.cost_usd, "latency_ms": r.latency_ms,
            "attempts": r.attempts, "notes": r.notes,
        }),
        Err(e) => json!({
            "model": model, "role": role, "status": "error", "error": e.to_string(),
            "attempts": e.attempts(),
        }),
    }
}

/// What became of a `ctx.llm` call, as Python reads it: `{reply, call}`, or `{error, kind,
/// call}` where `kind` is `fatal` (a 401/403: the run stops), `aborted` (middleware refused
/// the request) or `error`; `call` is the sample log's entry.
pub fn use_case_answer(model: &str, done: Result<Reply, CallError>) -> Value {
    let call = call_entry(model, "use_case", done.as_ref());
    match done {
        Ok(reply) => json!({"reply": reply, "call": call}),
        Err(e) => {
            let kind = match e {
                CallError::Fatal { .. } => "fatal",
                CallError::Aborted { .. } => "aborted",
                _ => "error",
            };
            json!({"error": e.to_string(), "kind": kind, "call": call})
        }
    }
}

/// What became of a call that gave no reply.
pub fn failed_call(e: &CallError, calls: Vec<Value>) -> RawSample {
    let kind = match e {
        CallError::Fatal { .. } => RawKind::Fatal,
        // prompt_shield stopped it: the feature failed, nothing was sent.
        CallError::Aborted { .. } => RawKind::CheckFailed,
        _ => RawKind::Raised,
    };
    RawSample {
        calls,
        ..RawSample::with_kind(kind, e.to_string())
    }
}

/// Runs a design without Python: the prompts are rendered (by the caller, with Jinja2)
/// for every configuration and row before the run starts.
pub struct PromptEngine {
    pub llm: Arc<Llm>,
    pub configs: Vec<Configuration>,
    /// `prompts[config][row]`: the messages sample `i` of `config` sends for row `i mod rows`.
    pub prompts: Vec<Vec<Vec<Message>>>,
    /// The dataset's rows (one empty row without a dataset).
    pub rows: Vec<Value>,
    pub success: Option<Expr>,
    pub judge: Option<Judge>,
    pub run_seed: u64,
    /// A probabilistic test's function, called with each sample's result.
    pub check: Option<Arc<dyn SampleCheck>>,
}

impl ModelSide {
    /// The rows samples read: the dataset's, or one empty row without one.
    pub fn rows(&self) -> Vec<Value> {
        self.dataset
            .as_ref()
            .map_or_else(|| vec![Value::Object(Map::new())], |d| d.rows.clone())
    }
}

impl PromptEngine {
    /// The engine of `design` (a design with `prompt`) over its `configs`, with
    /// `prompts[config][row]` rendered by the caller.
    pub fn new(
        side: &ModelSide,
        design: &Design,
        configs: Vec<Configuration>,
        prompts: Vec<Vec<Vec<Message>>>,
        run_seed: u64,
    ) -> Result<PromptEngine, Error> {
        let llm = side.llm.clone().ok_or_else(|| {
            Error::Internal("a design with `prompt` was prepared without models".into())
        })?;
        let rows = side.rows();
        if prompts.len() != configs.len() || prompts.iter().any(|c| c.len() != rows.len()) {
            return Err(Error::Internal(
                "the rendered prompts do not match the configurations and rows".into(),
            ));
        }
        Ok(PromptEngine {
            llm,
            configs,
            prompts,
            rows,
            success: design.success.clone(),
            judge: design.llm.judge.clone(),
            run_seed,
            check: None,
        })
    }

    async fn judge(
        &self,
        judge: &Judge,
        call: &CallInfo,
        asked: &[Message],
        text: &str,
        calls: &mut Vec<Value>,
    ) -> Result<(bool, Value, u64, f64), RawSample> {
        let question = asked
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map_or("", |m| m.content.as_str());
        let request = ChatRequest {
            messages: vec![
                Message::new("system", judge.rubric.clone()),
                Message::new(
                    "user",
                    format!("The request:\n{question}\n\nThe reply to judge:\n{text}"),
                ),
            ],
            params: Map::new(),
        };
        let reply = self.llm.chat(&judge.model, request, call.clone()).await;
        calls.push(call_entry(&judge.model, "judge", reply.as_ref()));
        let reply = reply.map_err(|e| failed_call(&e, std::mem::take(calls)))?;
        let tokens = reply.usage.input_tokens + reply.usage.output_tokens;
        let cost = reply.cost_usd.unwrap_or(0.0);
        let Some(verdict) = reply.json.clone() else {
            return Err(RawSample {
                calls: std::mem::take(calls),
                ..RawSample::with_kind(
                    RawKind::Raised,
                    format!(
                        "the judge `{}` did not reply with JSON: {}",
                        judge.model,
                        snippet(&reply.text)
                    ),
                )
            });
        };
        match judge.pass_if.eval(&verdict) {
            Ok(passed) => Ok((passed, verdict, tokens, cost)),
            Err(e) => Err(RawSample {
                calls: std::mem::take(calls),
                ..RawSample::with_kind(
                    RawKind::Raised,
                    format!("`judge.pass_if` cannot read the judge's reply {verdict}: {e}"),
                )
            }),
        }
    }
}

fn snippet(text: &str) -> String {
    let mut s: String = text.chars().take(120).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    format!("{s:?}")
}

impl SampleEngine for PromptEngine {
    async fn sample(&self, r: SampleRequest) -> RawSample {
        let config = &self.configs[r.config];
        let model = config
            .factors
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let row_index = (r.index % self.rows.len() as u64) as usize;
        let messages = self.prompts[r.config][row_index].clone();
        let call = CallInfo {
            config_id: config.config_id.clone(),
            sample_index: r.index,
            seed: self.run_seed,
        };
        let request = ChatRequest {
            messages: messages.clone(),
            params: factor_params(&config.factors),
        };
        let mut calls = Vec::new();
        let reply = self.llm.chat(&model, request, call.clone()).await;
        calls.push(call_entry(&model, "answer", reply.as_ref()));
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => return failed_call(&e, calls),
        };
        let mut tokens = reply.usage.input_tokens + reply.usage.output_tokens;
        let mut cost = reply.cost_usd.unwrap_or(0.0);
        let mut data = json!({
            "text": reply.text,
            "json": reply.json,
            "row": self.rows[row_index],
            "usage": reply.usage,
            "latency_ms": reply.latency_ms,
            "cost_usd": reply.cost_usd,
            "cached": reply.cached,
        });
        if let Some(reason) = &reply.notes.refused {
            // A middleware's output check refused the reply: failed, but what it cost counts.
            return RawSample {
                data,
                latency_ms: reply.latency_ms as f64,
                tokens,
                cost_usd: cost,
                calls,
                ..RawSample::with_kind(RawKind::CheckFailed, reason.clone())
            };
        }
        let mut judged = None;
        if let Some(judge) = &self.judge {
            match self
                .judge(judge, &call, &messages, &reply.text, &mut calls)
                .await
            {
                Ok((passed, verdict, judge_tokens, judge_cost)) => {
                    data["judge"] = Value::Bool(passed);
                    data["judge_reply"] = verdict;
                    // Shown apart in the log: what judging cost, beside what answering did.
                    data["judge_cost_usd"] = json!(judge_cost);
                    tokens += judge_tokens;
                    cost += judge_cost;
                    judged = Some(passed);
                }
                // The reply is kept even when judging it failed.
                Err(raw) => return RawSample { data, ..raw },
            }
        }
        let (success, message) = match &self.success {
            Some(expr) => match expr.eval(&data) {
                Ok(ok) => (Some(ok), None),
                // The feature answered, but not in the form asked for: a failed sample.
                Err(e) if reply.json.is_none() => (
                    Some(false),
                    Some(format!(
                        "the reply is not JSON ({e}): {}",
                        snippet(&reply.text)
                    )),
                ),
                Err(e) => {
                    return RawSample {
                        calls,
                        ..RawSample::with_kind(
                            RawKind::Raised,
                            format!("`success` cannot be read: {e}"),
                        )
                    }
                }
            },
            None => (judged, None),
        };
        // As for a use case: the test function sees every answered sample, and its failure
        // fails the sample whatever `success` said.
        let check_failed = match &self.check {
            Some(check) => check.check(&data).await.err(),
            None => None,
        };
        RawSample {
            kind: RawKind::Returned,
            success,
            data,
            message,
            latency_ms: reply.latency_ms as f64,
            tokens,
            cost_usd: cost,
            check_failed,
            calls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_case_answer_says_what_kind_of_failure_it_was() {
        let fatal = CallError::Fatal {
            message: "401: check OPENAI_API_KEY".into(),
            attempts: Vec::new(),
        };
        let answer = use_case_answer("small", Err(fatal));
        assert_eq!(answer["kind"], "fatal");
        assert_eq!(answer["error"], "401: check OPENAI_API_KEY");
        assert_eq!(answer["call"]["model"], "small");
        assert_eq!(answer["call"]["role"], "use_case");
        let missed = use_case_answer(
            "small",
            Err(CallError::CacheMiss {
                model: "small".into(),
            }),
        );
        assert_eq!(missed["kind"], "error");
        assert!(missed.get("reply").is_none());
    }

    fn shared() -> Map<String, Value> {
        shared_models(
            &json!({"models": {
                "small": {"provider": "openai", "model": "mini"},
                "big": {"provider": "openai", "model": "large"},
                "other": {"provider": "openai", "model": "x"},
            }})
            .to_string(),
            "models.yaml",
        )
        .unwrap()
    }

    #[test]
    fn a_design_takes_the_shared_models_it_names_and_its_own_win() {
        let design = json!({"prompt": {"user": "hi"}, "factors": {"model": ["small", "mine"]},
                            "judge": {"model": "big"},
                            "models": {"small": {"provider": "openai", "model": "own-mini"},
                                       "mine": {"provider": "openai", "model": "m"}}});
        let merged = with_shared_models(design, &shared());
        let models = merged["models"].as_object().unwrap();
        let names: Vec<&str> = models.keys().map(String::as_str).collect();
        assert_eq!(names, ["big", "small", "mine"]);
        // The design's own entry, whole: nothing of the shared `small` is mixed in.
        assert_eq!(
            models["small"],
            json!({"provider": "openai", "model": "own-mini"})
        );
    }

    #[test]
    fn a_design_without_models_is_left_alone_and_one_without_a_model_factor_takes_all() {
        let plain = json!({"use_case": "u", "factors": {"size": [1]}});
        assert_eq!(with_shared_models(plain.clone(), &shared()), plain);
        let stand_ins = json!({"use_case": "u", "factors": {"model": ["tiny", "huge"]}});
        assert_eq!(with_shared_models(stand_ins.clone(), &shared()), stand_ins);
        let all = with_shared_models(json!({"use_case": "u", "models": {}}), &shared());
        assert_eq!(all["models"].as_object().unwrap().len(), 3);
    }

    /// Answers every request with `{"category": "bug"}`.
    struct Fake;

    impl dbtest_llm::transport::Transport for Fake {
        fn send<'a>(
            &'a self,
            _: &'a dbtest_llm::transport::HttpRequest,
        ) -> BoxFuture<
            'a,
            Result<dbtest_llm::transport::HttpResponse, dbtest_llm::transport::TransportError>,
        > {
            let body = json!({"choices": [{"message": {"content": "{\"category\": \"bug\"}"}}],
                              "usage": {"prompt_tokens": 10, "completion_tokens": 5}});
            Box::pin(async move {
                Ok(dbtest_llm::transport::HttpResponse {
                    status: 200,
                    retry_after: None,
                    retry_after_ms: None,
                    body: body.to_string(),
                })
            })
        }
    }

    /// An output check that refuses every reply.
    struct RefuseReplies;

    impl Middleware for RefuseReplies {
        fn after_response<'a>(
            &'a self,
            _: &'a dbtest_llm::middleware::CallContext,
            _: &'a ChatRequest,
            reply: &'a mut Reply,
        ) -> BoxFuture<'a, ()> {
            reply.notes.refused = Some("not today".into());
            Box::pin(async {})
        }
    }

    /// A test function that wants no bug reports.
    struct NoBugs;

    impl SampleCheck for NoBugs {
        fn check<'a>(&'a self, result: &'a Value) -> BoxFuture<'a, Result<(), String>> {
            let bug = result["json"]["category"] == "bug";
            Box::pin(async move {
                if bug {
                    Err("a bug report".into())
                } else {
                    Ok(())
                }
            })
        }
    }

    fn engine(middleware: Vec<Arc<dyn Middleware>>) -> PromptEngine {
        let design = Design::from_value(
            "d.yaml",
            &json!({"experiment": "e", "samples": 2, "prompt": {"user": "hi"},
                    "factors": {"model": ["m"]}, "success": "json.category == 'bug'",
                    "models": {"m": {"provider": "openai", "model": "x", "base_url": "http://fake/v1",
                                     "price": {"input_per_mtok": 1.0, "output_per_mtok": 1.0}}}}),
        )
        .unwrap();
        let specs = parse_models("d.yaml", design.llm.models.as_ref().unwrap()).unwrap();
        let llm = Llm::with_transport(
            resolve(&specs, |_| None).unwrap(),
            Cache::off(),
            middleware,
            Arc::new(Fake),
        );
        let side = ModelSide {
            llm: Some(Arc::new(llm)),
            ..ModelSide::default()
        };
        let prompts = vec![vec![vec![Message::new("user", "hi")]]];
        PromptEngine::new(&side, &design, design.configurations(), prompts, 1).unwrap()
    }

    fn first() -> SampleRequest {
        SampleRequest {
            config: 0,
            index: 0,
            seed: 1,
            attempt: 0,
        }
    }

    #[tokio::test]
    async fn a_test_function_fails_a_sample_the_criterion_passed() {
        let mut engine = engine(vec![]);
        let plain = engine.sample(first()).await;
        assert_eq!((plain.success, plain.check_failed), (Some(true), None));
        engine.check = Some(Arc::new(NoBugs));
        let checked = engine.sample(first()).await;
        assert_eq!(checked.kind, RawKind::Returned);
        assert_eq!(checked.success, Some(true));
        assert_eq!(checked.check_failed.as_deref(), Some("a bug report"));
    }

    #[tokio::test]
    async fn a_refused_reply_fails_the_sample_and_its_cost_counts() {
        let raw = engine(vec![Arc::new(RefuseReplies)]).sample(first()).await;
        assert_eq!(raw.kind, RawKind::CheckFailed);
        assert_eq!(raw.message.as_deref(), Some("not today"));
        assert_eq!(raw.tokens, 15);
        assert!(raw.cost_usd > 0.0);
    }

    #[test]
    fn a_models_file_needs_its_models_mapping() {
        let err = shared_models(&json!({"small": {}}).to_string(), "models.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("models.yaml: needs a `models:` mapping"),
            "{err}"
        );
    }
}
