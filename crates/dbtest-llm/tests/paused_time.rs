//! The facade's timing on a paused clock, over a fake transport: rate-limit spacing
//! shared by concurrent samples, and Retry-After honoured to the millisecond.

use std::sync::{Arc, Mutex};

use dbtest_llm::cache::Cache;
use dbtest_llm::models::{parse_models, resolve, ResolvedModels};
use dbtest_llm::transport::{HttpRequest, HttpResponse, Transport, TransportError};
use dbtest_llm::{CallInfo, ChatRequest, Llm, Message};
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::time::Instant;

/// Answers 200 (or the scripted statuses first) and notes when each request was sent.
struct Fake {
    t0: Instant,
    sent: Mutex<Vec<u64>>,
    script: Mutex<Vec<HttpResponse>>,
    usage: (u64, u64),
}

impl Fake {
    fn new(usage: (u64, u64), script: Vec<HttpResponse>) -> Arc<Fake> {
        Arc::new(Fake {
            t0: Instant::now(),
            sent: Mutex::new(Vec::new()),
            script: Mutex::new(script),
            usage,
        })
    }

    fn sent_ms(&self) -> Vec<u64> {
        let mut sent = self.sent.lock().unwrap().clone();
        sent.sort_unstable();
        sent
    }
}

impl Transport for Fake {
    fn send<'a>(
        &'a self,
        _: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, TransportError>> {
        self.sent
            .lock()
            .unwrap()
            .push(self.t0.elapsed().as_millis() as u64);
        let scripted = {
            let mut script = self.script.lock().unwrap();
            (!script.is_empty()).then(|| script.remove(0))
        };
        let response = scripted.unwrap_or_else(|| HttpResponse {
            status: 200,
            retry_after: None,
            retry_after_ms: None,
            body: json!({"choices": [{"message": {"content": "ok"}}],
                         "usage": {"prompt_tokens": self.usage.0, "completion_tokens": self.usage.1}})
            .to_string(),
        });
        Box::pin(async move { Ok(response) })
    }
}

fn models(rate_limit: Value) -> ResolvedModels {
    let specs = parse_models(
        "models.yaml",
        &json!({"m": {"provider": "openai", "model": "x", "base_url": "http://fake/v1",
                      "params": {"max_tokens": 10}, "rate_limit": rate_limit}}),
    )
    .unwrap();
    resolve(&specs, |_| None).unwrap()
}

async fn run_samples(llm: Arc<Llm>, n: u64) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let llm = Arc::clone(&llm);
            tokio::spawn(async move {
                let request = ChatRequest {
                    messages: vec![Message::new("user", "abcd")],
                    ..ChatRequest::default()
                };
                llm.chat(
                    "m",
                    request,
                    CallInfo {
                        config_id: "c".into(),
                        sample_index: i,
                        seed: 1,
                    },
                )
                .await
                .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn requests_per_minute_are_spaced_across_samples() {
    let fake = Fake::new((1, 1), vec![]);
    let llm = Arc::new(Llm::with_transport(
        models(json!({"requests_per_minute": 600})),
        Cache::off(),
        vec![],
        fake.clone(),
    ));
    run_samples(llm, 5).await;
    assert_eq!(fake.sent_ms(), [0, 100, 200, 300, 400]);
}

#[tokio::test(start_paused = true)]
async fn tokens_per_minute_use_the_estimate_then_the_reported_usage() {
    // 600 tokens per minute = 10 per second. Estimate: "abcd" = 1 token + max_tokens 10 = 11,
    // so 1.1 s of bucket per call until usage is known; the server then reports 20 + 10.
    let fake = Fake::new((20, 10), vec![]);
    let llm = Arc::new(Llm::with_transport(
        models(json!({"tokens_per_minute": 600})),
        Cache::off(),
        vec![],
        fake.clone(),
    ));
    run_samples(Arc::clone(&llm), 1).await;
    // Paid until 1.1 s by the estimate, then corrected by 30 - 11 = 19 tokens: until 3.0 s.
    run_samples(llm, 1).await;
    assert_eq!(fake.sent_ms(), [0, 3000]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_exactly() {
    let limited = HttpResponse {
        status: 429,
        retry_after: Some("2".into()),
        retry_after_ms: None,
        body: r#"{"error": {"message": "slow down"}}"#.into(),
    };
    let fake = Fake::new((1, 1), vec![limited]);
    let llm = Llm::with_transport(models(Value::Null), Cache::off(), vec![], fake.clone());
    let request = ChatRequest {
        messages: vec![Message::new("user", "x")],
        ..ChatRequest::default()
    };
    let reply = llm
        .chat(
            "m",
            request,
            CallInfo {
                config_id: "c".into(),
                sample_index: 0,
                seed: 1,
            },
        )
        .await
        .unwrap();
    // The default backoff ceiling before the first retry is 500 ms, below the 2 s asked.
    assert_eq!(fake.sent_ms(), [0, 2000]);
    assert_eq!(reply.attempts[0].error.as_deref(), Some("429 slow down"));
    assert_eq!(reply.attempts[1].wait_ms, 2000);
}
