//! The LLM layer end to end against the mock server, over real HTTP on 127.0.0.1.
//!
//! Real time, since the client's timeouts are Tokio timers that a paused clock would
//! fire while a socket waits; the waits are kept short and only lower bounds are asserted
//! (never "took less than").

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dbtest_llm::cache::{Cache, CacheMode};
use dbtest_llm::middleware::{parse_middleware, Middleware};
use dbtest_llm::models::{parse_models, resolve, ResolvedModels};
use dbtest_llm::retry::RetryPolicy;
use dbtest_llm::{CallError, CallInfo, ChatRequest, Llm, Message};
use dbtest_llm_mock::{Fault, MockConfig, MockServer, MockUsage, Rule};
use serde_json::{json, Value};

const KEY: &str = "sk-test-0123456789abcdef";

fn models(entries: Value, env: &[(&str, &str)]) -> ResolvedModels {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let specs = parse_models("models.yaml", &entries).unwrap();
    resolve(&specs, |var| env.get(var).cloned()).unwrap()
}

fn openai(server: &MockServer, extra: Value) -> ResolvedModels {
    let mut entry = json!({
        "provider": "openai", "model": "gpt-4o-mini", "base_url": server.url(),
        "api_key_env": "OPENAI_API_KEY",
        "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
        "timeout_s": 10
    });
    for (k, v) in extra.as_object().unwrap() {
        entry[k] = v.clone();
    }
    models(json!({"small": entry}), &[("OPENAI_API_KEY", KEY)])
}

/// Fast retries, so tests of many retries stay short.
fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base: Duration::from_millis(2),
        cap: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

fn llm(models: ResolvedModels, cache: Cache, middleware: Vec<Arc<dyn Middleware>>) -> Llm {
    Llm::new(models, cache, middleware)
        .unwrap()
        .with_retry(quick())
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![Message::new("user", text)],
        ..ChatRequest::default()
    }
}

fn call(sample_index: u64) -> CallInfo {
    CallInfo {
        config_id: "model=small".into(),
        sample_index,
        seed: 42,
    }
}

fn keyed(config: MockConfig) -> MockConfig {
    MockConfig {
        api_key: Some(KEY.into()),
        ..config
    }
}

#[tokio::test]
async fn a_reply_with_text_json_usage_and_cost() {
    let server = MockServer::start(keyed(MockConfig {
        rules: vec![Rule {
            matches: None,
            reply: "```json\n{\"echo\": \"{{last_user}}\"}\n```".into(),
            usage: Some(MockUsage {
                prompt_tokens: 1000,
                completion_tokens: 500,
            }),
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let llm = llm(
        openai(
            &server,
            json!({"params": {"temperature": 0.2, "max_tokens": 64}}),
        ),
        Cache::off(),
        vec![],
    );
    let mut request = ask("hi");
    request.params.insert("temperature".into(), json!(0.9));
    let reply = llm.chat("small", request, call(0)).await.unwrap();
    assert_eq!(reply.json, Some(json!({"echo": "hi"})));
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (1000, 500)
    );
    assert!((reply.cost_usd.unwrap() - 0.002).abs() < 1e-12);
    assert_eq!(reply.attempts.len(), 1);
    assert!(!reply.cached);
    let sent = server.stats().last_request.unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["temperature"], 0.9, "the call's parameter wins");
    assert_eq!(sent["max_tokens"], 64, "the model's default stays");
}

#[tokio::test]
async fn retries_after_429_no_sooner_than_retry_after() {
    let server = MockServer::start(keyed(MockConfig {
        faults: vec![Fault {
            status: 429,
            retry_after_ms: Some(150),
            first: Some(1),
            ..Fault::default()
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let reply = llm(openai(&server, json!({})), Cache::off(), vec![])
        .chat("small", ask("x"), call(0))
        .await
        .unwrap();
    let statuses: Vec<_> = reply.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(429), Some(200)]);
    assert!(reply.attempts[1].wait_ms >= 150, "{:?}", reply.attempts);
    assert_eq!(server.stats().total, 2);
}

#[tokio::test]
async fn server_errors_then_success() {
    let server = MockServer::start(keyed(MockConfig {
        faults: vec![
            Fault {
                status: 500,
                first: Some(1),
                ..Fault::default()
            },
            Fault {
                status: 503,
                first: Some(2),
                ..Fault::default()
            },
        ],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let reply = llm(openai(&server, json!({})), Cache::off(), vec![])
        .chat("small", ask("x"), call(0))
        .await
        .unwrap();
    let statuses: Vec<_> = reply.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    assert_eq!(reply.text, "ok");
}

#[tokio::test]
async fn retries_spent_is_exhausted_and_other_4xx_is_rejected() {
    let server = MockServer::start(keyed(MockConfig {
        faults: vec![Fault {
            status: 502,
            every: Some(1),
            ..Fault::default()
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let llm = Llm::new(openai(&server, json!({})), Cache::off(), vec![])
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 3,
            ..quick()
        });
    let err = llm.chat("small", ask("x"), call(0)).await.unwrap_err();
    assert!(matches!(err, CallError::Exhausted { .. }), "{err:?}");
    assert_eq!(err.attempts().len(), 3);

    let server = MockServer::start(keyed(MockConfig {
        faults: vec![Fault {
            status: 404,
            every: Some(1),
            ..Fault::default()
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let err = Llm::new(openai(&server, json!({})), Cache::off(), vec![])
        .unwrap()
        .chat("small", ask("x"), call(0))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            CallError::Rejected {
                status: Some(404),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.stats().total, 1, "no retry on 404");
}

#[tokio::test]
async fn unauthorized_is_fatal_names_the_variable_and_never_the_key() {
    let server = MockServer::start(MockConfig {
        api_key: Some("the-right-key".into()),
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let models = openai(&server, json!({}));
    assert!(
        !format!("{models:?}").contains(KEY),
        "Debug redacts the key"
    );
    let llm = llm(models, Cache::off(), vec![]);
    assert!(!format!("{llm:?}").contains(KEY));
    let err = llm.chat("small", ask("x"), call(0)).await.unwrap_err();
    assert!(err.is_fatal());
    assert_eq!(
        err.to_string(),
        format!(
            "401 Unauthorized from model `small` ({}): check OPENAI_API_KEY",
            server.url()
        )
    );
    assert_eq!(err.attempts().len(), 1, "not retried");
    assert!(!format!("{err:?}").contains(KEY));
    assert_eq!(server.stats().total, 1);
}

#[tokio::test]
async fn azure_route_with_api_key_header() {
    let server = MockServer::start(MockConfig {
        api_key: Some("az-key".into()),
        rules: vec![Rule {
            matches: None,
            reply: "deployment {{model}}".into(),
            usage: None,
        }],
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let models = models(
        json!({"big": {"provider": "azure", "endpoint_env": "AZURE_OPENAI_ENDPOINT", "deployment": "gpt-4o",
                       "api_version": "2024-10-21", "api_key_env": "AZURE_OPENAI_API_KEY"}}),
        &[
            ("AZURE_OPENAI_ENDPOINT", &server.azure_endpoint()),
            ("AZURE_OPENAI_API_KEY", "az-key"),
        ],
    );
    let llm = llm(models, Cache::off(), vec![]);
    let reply = llm.chat("big", ask("x"), call(0)).await.unwrap();
    assert_eq!(reply.text, "deployment gpt-4o");
    assert!(reply.cost_usd.is_none(), "unpriced");
    let sent = server.stats().last_request.unwrap();
    assert!(
        sent.get("model").is_none(),
        "Azure names the deployment in the URL"
    );
}

#[tokio::test]
async fn record_then_replay_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".dbtest/llm-cache.sqlite");
    let server = MockServer::start(keyed(MockConfig {
        rules: vec![Rule {
            matches: None,
            reply: "answer to {{last_user}}".into(),
            usage: None,
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let recorder = llm(
        openai(&server, json!({})),
        Cache::open(&path, CacheMode::Record).unwrap(),
        vec![],
    );
    let first = recorder.chat("small", ask("q"), call(0)).await.unwrap();
    let second = recorder.chat("small", ask("q"), call(1)).await.unwrap();
    assert!(
        !first.cached && !second.cached,
        "repeated samples are distinct entries"
    );
    assert_eq!(server.stats().total, 2);
    drop(recorder);
    // A second recording run answers what the first stored, and sends only what is new.
    let rerun = llm(
        openai(&server, json!({})),
        Cache::open(&path, CacheMode::Record).unwrap(),
        vec![],
    );
    assert!(rerun.chat("small", ask("q"), call(0)).await.unwrap().cached);
    assert_eq!(server.stats().total, 2);
    drop(rerun);

    let before = server.stats().total;
    let replayer = llm(
        openai(&server, json!({})),
        Cache::open(&path, CacheMode::Replay).unwrap(),
        vec![],
    );
    let replayed = replayer.chat("small", ask("q"), call(1)).await.unwrap();
    assert!(replayed.cached);
    assert_eq!(replayed.text, second.text);
    assert_eq!(replayed.usage, second.usage);
    assert_eq!(replayed.cost_usd, second.cost_usd);
    assert!(replayed.attempts.is_empty());
    let miss = replayer.chat("small", ask("q"), call(2)).await.unwrap_err();
    assert!(matches!(miss, CallError::CacheMiss { .. }));
    assert!(miss
        .to_string()
        .contains("not in the cache; run once with --cache record"));
    assert_eq!(server.stats().total, before, "replay sent no request");
}

#[tokio::test]
async fn errors_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    let server = MockServer::start(keyed(MockConfig {
        faults: vec![Fault {
            status: 400,
            first: Some(1),
            ..Fault::default()
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let recorder = llm(
        openai(&server, json!({})),
        Cache::open(&path, CacheMode::Record).unwrap(),
        vec![],
    );
    assert!(recorder.chat("small", ask("q"), call(0)).await.is_err());
    let reply = recorder.chat("small", ask("q"), call(0)).await.unwrap();
    assert!(!reply.cached, "the 400 was not stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_loses_no_call() {
    let server = MockServer::start(keyed(MockConfig {
        latency_ms: 2,
        faults: vec![Fault {
            status: 429,
            retry_after_ms: Some(5),
            every: Some(3),
            ..Fault::default()
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let llm = Arc::new(llm(openai(&server, json!({})), Cache::off(), vec![]));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let llm = Arc::clone(&llm);
            tokio::spawn(async move { llm.chat("small", ask(&format!("q{i}")), call(i)).await })
        })
        .collect();
    let mut retried = 0;
    for task in tasks {
        let reply = task.await.unwrap().unwrap();
        retried += reply.attempts.len() - 1;
    }
    let stats = server.stats();
    assert_eq!(stats.by_status[&200], 200);
    assert_eq!(stats.by_status[&429] as usize, retried);
    assert!(retried > 0);
}

#[tokio::test]
async fn middleware_masks_before_sending_and_shield_aborts_with_nothing_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = MockServer::start(keyed(MockConfig {
        rules: vec![Rule {
            matches: None,
            reply: "{{last_user}}".into(),
            usage: None,
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let specs = parse_middleware(
        "design.yaml",
        &json!([
            {"pii_mask": {"kinds": ["email", "card"]}},
            {"prompt_shield": {"denied_terms": ["Project Falcon"], "on_violation": "abort"}},
            {"audit_log": {"path": "audit.jsonl", "include_prompts": true}}
        ]),
    )
    .unwrap();
    let middleware: Vec<_> = specs
        .iter()
        .filter_map(|s| s.build(dir.path()).unwrap())
        .collect();
    let llm = llm(openai(&server, json!({})), Cache::off(), middleware);

    let reply = llm
        .chat(
            "small",
            ask("mail me at a@b.com, card 4111111111111111"),
            call(0),
        )
        .await
        .unwrap();
    assert_eq!(reply.text, "mail me at [EMAIL], card [CARD]");
    assert_eq!(
        reply.notes.pii_masked,
        BTreeMap::from([("card".into(), 1), ("email".into(), 1)])
    );
    assert_eq!(
        server.stats().last_request.unwrap()["messages"][0]["content"],
        "mail me at [EMAIL], card [CARD]"
    );

    let err = llm
        .chat("small", ask("news on project falcon?"), call(1))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Aborted { .. }));
    assert_eq!(server.stats().total, 1, "nothing sent for the aborted call");

    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(
        lines[0]["prompts"][0]["content"],
        "mail me at [EMAIL], card [CARD]"
    );
    assert_eq!(lines[1]["sample"], 1);
    assert!(lines[1]["error"]
        .as_str()
        .unwrap()
        .contains("prompt_shield"));
    assert!(!audit.contains(KEY));
    assert!(!audit.contains("a@b.com"));
}

#[tokio::test]
async fn connection_refused_is_exhausted() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let models = models(
        json!({"local": {"provider": "openai", "model": "llama3", "base_url": format!("http://127.0.0.1:{port}/v1")}}),
        &[],
    );
    let llm = Llm::new(models, Cache::off(), vec![])
        .unwrap()
        .with_retry(RetryPolicy {
            max_attempts: 2,
            ..quick()
        });
    let err = llm.chat("local", ask("x"), call(0)).await.unwrap_err();
    assert!(matches!(err, CallError::Exhausted { .. }), "{err:?}");
    assert!(err.attempts().iter().all(|a| a.status.is_none()));
    assert!(err.to_string().contains("connection failed"), "{err}");
}

#[test]
fn the_chat_future_can_be_spawned() {
    fn assert_send<T: Send>(_: &T) {}
    let llm = Llm::with_transport(
        ResolvedModels::default(),
        Cache::off(),
        vec![],
        Arc::new(dbtest_llm::transport::HttpTransport::new(false).unwrap()),
    );
    let future = llm.chat("m", ChatRequest::default(), call(0));
    assert_send(&future);
}

/// The benchmark's load: 10,000 calls at concurrency 200 with 20 ms of server latency,
/// i.e. up to 10,000 requests/s. Ignored by default (it measures; it asserts only that no
/// call is lost): `cargo test -p dbtest-llm --release --test mock_server -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a throughput measurement, run by hand"]
async fn throughput_10k_calls_at_concurrency_200() {
    let server = MockServer::start(keyed(MockConfig {
        latency_ms: 20,
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let llm = Arc::new(llm(openai(&server, json!({})), Cache::off(), vec![]));
    let gate = Arc::new(tokio::sync::Semaphore::new(200));
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let (llm, gate) = (Arc::clone(&llm), Arc::clone(&gate));
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                llm.chat("small", ask("x"), call(i)).await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!("10,000 calls in {secs:.2}s: {:.0} calls/s", 10_000.0 / secs);
    assert_eq!(server.stats().by_status[&200], 10_000);
}

#[tokio::test]
async fn a_timeout_is_retried_then_exhausted() {
    let server = MockServer::start(keyed(MockConfig {
        latency_ms: 2_000,
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let llm = Llm::new(
        openai(&server, json!({"timeout_s": 0.05})),
        Cache::off(),
        vec![],
    )
    .unwrap()
    .with_retry(RetryPolicy {
        max_attempts: 2,
        ..quick()
    });
    let err = llm.chat("small", ask("x"), call(0)).await.unwrap_err();
    assert!(matches!(err, CallError::Exhausted { .. }), "{err:?}");
    assert_eq!(err.attempts().len(), 2);
    assert!(err
        .attempts()
        .iter()
        .all(|a| a.status.is_none() && a.duration_ms >= 50));
    assert!(err.to_string().contains("timed out after 50ms"), "{err}");
}

#[tokio::test]
async fn the_same_call_twice_in_a_sample_replays_both_answers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite");
    let server = MockServer::start(keyed(MockConfig {
        rules: vec![Rule {
            matches: None,
            reply: "draw {{request}}".into(),
            usage: None,
        }],
        ..MockConfig::default()
    }))
    .await
    .unwrap();
    let recorder = llm(
        openai(&server, json!({})),
        Cache::open(&path, CacheMode::Record).unwrap(),
        vec![],
    );
    let a = recorder
        .chat("small", ask("q"), call(0))
        .await
        .unwrap()
        .text;
    let b = recorder
        .chat("small", ask("q"), call(0))
        .await
        .unwrap()
        .text;
    assert_eq!((a.as_str(), b.as_str()), ("draw 1", "draw 2"));
    drop(recorder);
    let replayer = llm(
        openai(&server, json!({})),
        Cache::open(&path, CacheMode::Replay).unwrap(),
        vec![],
    );
    assert_eq!(
        replayer
            .chat("small", ask("q"), call(0))
            .await
            .unwrap()
            .text,
        "draw 1"
    );
    assert_eq!(
        replayer
            .chat("small", ask("q"), call(0))
            .await
            .unwrap()
            .text,
        "draw 2"
    );
    assert_eq!(server.stats().total, 2);
}
