//! A local OpenAI- and Azure-compatible chat server for dbtest's own tests and benchmarks.
//!
//! Tests of the LLM layer need a server whose answers, latency and failures are scripted:
//! a 429 with `Retry-After` on the first request, a 401 for a wrong key, a count of the
//! requests a cache replay must not send. This crate is that server, on hyper 1 and Tokio,
//! bound to 127.0.0.1 only.
//!
//! Routes:
//! * `POST /v1/chat/completions` — OpenAI, key in `Authorization: Bearer …`;
//! * `POST /openai/deployments/{deployment}/chat/completions?api-version=…` — Azure, key in
//!   `api-key`;
//! * `GET /_mock/stats` — the request counts as JSON ([`Stats`]); not counted itself.
//!
//! Latency is a Tokio sleep, so thousands of slow requests in flight cost no threads: the
//! server sustains the benchmark load (10,000 samples at concurrency 200, 20 ms each)
//! with keep-alive connections.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the server answers and how it misbehaves; deserializable so a benchmark can read it
/// from a JSON script file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MockConfig {
    /// The key clients must send; `None` accepts any request (like a local Ollama).
    pub api_key: Option<String>,
    /// A pause before each answer (not before a 401 or an injected fault's answer).
    pub latency_ms: u64,
    /// Scripted answers: the first rule whose `match` is in the last user message wins;
    /// a rule without `match` is a default. Without any rule the reply is `ok`.
    pub rules: Vec<Rule>,
    /// Injected failures, checked in order before the rules.
    pub faults: Vec<Fault>,
}

/// One scripted answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A substring of the last user message; absent = matches every request.
    #[serde(rename = "match", default)]
    pub matches: Option<String>,
    /// The reply text; `{{last_user}}` is replaced by the last user message,
    /// `{{model}}` by the requested model (or the Azure deployment) and `{{request}}` by
    /// the request's number (1-based, counting every chat request), so identical prompts
    /// can get distinct answers.
    pub reply: String,
    /// The usage to report; by default estimated as characters / 4.
    #[serde(default)]
    pub usage: Option<MockUsage>,
}

/// Token counts the server reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// An injected failure: `status` for the `first` N requests, or for every `every`-th
/// request (the K-th, 2K-th, …), or both. Counting is over every chat request the server
/// received, 1-based.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub status: u16,
    #[serde(default)]
    pub retry_after_s: Option<u64>,
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    #[serde(default)]
    pub first: Option<u64>,
    #[serde(default)]
    pub every: Option<u64>,
}

impl Fault {
    fn applies(&self, n: u64) -> bool {
        self.first.is_some_and(|first| n <= first)
            || self.every.is_some_and(|every| every > 0 && n % every == 0)
    }
}

/// Request counts, as `GET /_mock/stats` returns them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Chat requests received (both routes), whatever their answer.
    pub total: u64,
    /// Answers by status code.
    pub by_status: BTreeMap<u16, u64>,
    /// The body of the last chat request, so a test can see what was sent (masked
    /// prompts, merged parameters).
    pub last_request: Option<Value>,
}

struct State {
    config: MockConfig,
    counter: AtomicU64,
    counts: Mutex<Counts>,
}

/// What each request updates: counts and the raw last body (a reference-counted
/// `Bytes`, parsed only when stats are read, so the hot path copies nothing).
#[derive(Default)]
struct Counts {
    total: u64,
    by_status: BTreeMap<u16, u64>,
    last_request: Option<Bytes>,
}

impl State {
    fn record(&self, status: StatusCode, body: &Bytes) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total += 1;
        *counts.by_status.entry(status.as_u16()).or_default() += 1;
        if !body.is_empty() {
            counts.last_request = Some(body.clone());
        }
    }

    fn stats(&self) -> Stats {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        Stats {
            total: counts.total,
            by_status: counts.by_status.clone(),
            last_request: counts
                .last_request
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok()),
        }
    }
}

/// A running mock server; stops on [`MockServer::shutdown`] or when dropped.
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Binds 127.0.0.1 on a free port and serves until shut down.
    pub async fn start(config: MockConfig) -> std::io::Result<MockServer> {
        MockServer::start_on(config, 0).await
    }

    /// Binds 127.0.0.1:`port` (0 = pick a free one).
    pub async fn start_on(config: MockConfig, port: u16) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            config,
            counter: AtomicU64::new(0),
            counts: Mutex::new(Counts::default()),
        });
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), stopped));
        Ok(MockServer {
            addr,
            state,
            stop,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI base URL, `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The Azure endpoint, `http://127.0.0.1:PORT`.
    pub fn azure_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counts so far (the same as `GET /_mock/stats`).
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stopped: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors under load, typically: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

type Body = Full<Bytes>;

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET && path == "/_mock/stats" {
        return Ok(json_response(StatusCode::OK, &json!(state.stats())));
    }
    let route = if path == "/v1/chat/completions" {
        Some(Route::OpenAi)
    } else {
        path.strip_prefix("/openai/deployments/")
            .and_then(|rest| rest.strip_suffix("/chat/completions"))
            .filter(|deployment| !deployment.is_empty() && !deployment.contains('/'))
            .map(|deployment| Route::Azure(deployment.to_owned()))
    };
    let Some(route) = route.filter(|_| req.method() == Method::POST) else {
        return Ok(error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no route for {} {path}", req.method()),
        ));
    };
    let response = chat(&state, route, req).await;
    Ok(response)
}

enum Route {
    OpenAi,
    Azure(String),
}

async fn chat(state: &State, route: Route, req: Request<Incoming>) -> Response<Body> {
    let n = state.counter.fetch_add(1, Ordering::Relaxed) + 1;
    let presented = match &route {
        Route::OpenAi => req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned),
        Route::Azure(_) => req
            .headers()
            .get("api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let api_version_missing = matches!(route, Route::Azure(_))
        && !req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .any(|pair| pair.starts_with("api-version=") && pair.len() > "api-version=".len());
    let raw = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let body = serde_json::from_slice::<Value>(&raw).ok();
    let respond = |status: StatusCode, response: Response<Body>| {
        state.record(status, &raw);
        response
    };

    if let Some(expected) = &state.config.api_key {
        if presented.as_deref() != Some(expected.as_str()) {
            let status = StatusCode::UNAUTHORIZED;
            return respond(
                status,
                error_response(status, "invalid_api_key", "Incorrect API key provided."),
            );
        }
    }
    if api_version_missing {
        let status = StatusCode::BAD_REQUEST;
        return respond(
            status,
            error_response(status, "missing_api_version", "api-version is required"),
        );
    }
    if let Some(fault) = state.config.faults.iter().find(|f| f.applies(n)) {
        let status =
            StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = error_response(status, "injected", "injected fault");
        if let Some(s) = fault.retry_after_s {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(s));
        }
        if let Some(ms) = fault.retry_after_ms {
            response
                .headers_mut()
                .insert("retry-after-ms", HeaderValue::from(ms));
        }
        return respond(status, response);
    }
    let Some(request) = body.as_ref().filter(|b| b.get("messages").is_some()) else {
        let status = StatusCode::BAD_REQUEST;
        return respond(
            status,
            error_response(status, "invalid_request", "body must be JSON with messages"),
        );
    };
    if state.config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(state.config.latency_ms)).await;
    }
    let model = match &route {
        Route::OpenAi => request
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        Route::Azure(deployment) => deployment.clone(),
    };
    let answer = answer(&state.config, request, &model, n);
    respond(StatusCode::OK, json_response(StatusCode::OK, &answer))
}

/// The completion for a request: the first matching rule, its template filled in.
fn answer(config: &MockConfig, request: &Value, model: &str, n: u64) -> Value {
    let messages = request
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let content = |m: &Value| {
        m.get("content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let last_user = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .map(content)
        .unwrap_or_default();
    let rule = config.rules.iter().find(|rule| match &rule.matches {
        Some(needle) => last_user.contains(needle.as_str()),
        None => true,
    });
    let text = match rule {
        Some(rule) => rule
            .reply
            .replace("{{last_user}}", &last_user)
            .replace("{{request}}", &n.to_string())
            .replace("{{model}}", model),
        None => "ok".to_owned(),
    };
    let usage = rule.and_then(|r| r.usage).unwrap_or_else(|| {
        let prompt_chars: usize = messages.iter().map(|m| content(m).chars().count()).sum();
        MockUsage {
            prompt_tokens: estimate_tokens(prompt_chars),
            completion_tokens: estimate_tokens(text.chars().count()),
        }
    });
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        },
    })
}

fn estimate_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4).max(1)
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An error in OpenAI's shape: `{"error": {"message", "type", "code"}}`.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": {"message": message, "type": code, "code": code}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A bare HTTP/1.1 request over a fresh connection, so these tests need no client
    /// crate; returns the status and the body.
    async fn send(
        addr: SocketAddr,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_owned(), body.to_owned())
    }

    fn chat_body(user: &str) -> String {
        json!({"model": "m", "messages": [{"role": "user", "content": user}]}).to_string()
    }

    #[tokio::test]
    async fn scripted_rules_echo_and_estimate_usage() {
        let server = MockServer::start(MockConfig {
            rules: vec![
                Rule {
                    matches: Some("weather".into()),
                    reply: "sunny".into(),
                    usage: Some(MockUsage {
                        prompt_tokens: 7,
                        completion_tokens: 3,
                    }),
                },
                Rule {
                    matches: None,
                    reply: "you said {{last_user}} to {{model}} ({{request}})".into(),
                    usage: None,
                },
            ],
            ..MockConfig::default()
        })
        .await
        .unwrap();
        let (status, _, body) = send(
            server.addr(),
            "POST",
            "/v1/chat/completions",
            &[],
            &chat_body("the weather?"),
        )
        .await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "sunny");
        assert_eq!(v["usage"]["prompt_tokens"], 7);

        let (_, _, body) = send(
            server.addr(),
            "POST",
            "/v1/chat/completions",
            &[],
            &chat_body("hello"),
        )
        .await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "you said hello to m (2)"
        );
        assert_eq!(v["usage"]["prompt_tokens"], 2); // 5 chars / 4, rounded up
        assert_eq!(server.stats().total, 2);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn wrong_key_is_401_with_an_openai_error_body() {
        let server = MockServer::start(MockConfig {
            api_key: Some("sk-good".into()),
            ..MockConfig::default()
        })
        .await
        .unwrap();
        let (status, _, body) = send(
            server.addr(),
            "POST",
            "/v1/chat/completions",
            &[("authorization", "Bearer sk-bad")],
            &chat_body("x"),
        )
        .await;
        assert_eq!(status, 401);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["code"], "invalid_api_key");
        let (status, _, _) = send(
            server.addr(),
            "POST",
            "/v1/chat/completions",
            &[("authorization", "Bearer sk-good")],
            &chat_body("x"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            server.stats().by_status,
            BTreeMap::from([(200, 1), (401, 1)])
        );
    }

    #[tokio::test]
    async fn azure_route_needs_api_key_header_and_api_version() {
        let server = MockServer::start(MockConfig {
            api_key: Some("az".into()),
            rules: vec![Rule {
                matches: None,
                reply: "{{model}}".into(),
                usage: None,
            }],
            ..MockConfig::default()
        })
        .await
        .unwrap();
        let path = "/openai/deployments/gpt-4o/chat/completions";
        let (status, _, _) = send(
            server.addr(),
            "POST",
            path,
            &[("api-key", "az")],
            &chat_body("x"),
        )
        .await;
        assert_eq!(status, 400, "api-version missing");
        let (status, _, body) = send(
            server.addr(),
            "POST",
            &format!("{path}?api-version=2024-10-21"),
            &[("api-key", "az")],
            &chat_body("x"),
        )
        .await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "gpt-4o");
        let (status, _, _) = send(
            server.addr(),
            "POST",
            &format!("{path}?api-version=1"),
            &[("authorization", "Bearer az")],
            &chat_body("x"),
        )
        .await;
        assert_eq!(status, 401, "Azure reads api-key, not Authorization");
    }

    #[tokio::test]
    async fn faults_first_and_every_with_retry_after_headers() {
        let server = MockServer::start(MockConfig {
            faults: vec![
                Fault {
                    status: 429,
                    retry_after_s: Some(1),
                    retry_after_ms: Some(200),
                    first: Some(2),
                    every: None,
                },
                Fault {
                    status: 503,
                    every: Some(4),
                    ..Fault::default()
                },
            ],
            ..MockConfig::default()
        })
        .await
        .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..8 {
            let (status, head, _) = send(
                server.addr(),
                "POST",
                "/v1/chat/completions",
                &[],
                &chat_body("x"),
            )
            .await;
            if status == 429 {
                assert!(head.contains("retry-after: 1"), "{head}");
                assert!(head.contains("retry-after-ms: 200"), "{head}");
            }
            statuses.push(status);
        }
        assert_eq!(statuses, [429, 429, 200, 503, 200, 200, 200, 503]);
        let (status, _, body) = send(server.addr(), "GET", "/_mock/stats", &[], "").await;
        assert_eq!(status, 200);
        let stats: Stats = serde_json::from_str(&body).unwrap();
        assert_eq!(stats.total, 8);
        assert_eq!(stats.by_status[&503], 2);
        assert_eq!(stats.last_request.unwrap()["messages"][0]["content"], "x");
    }

    #[tokio::test(start_paused = true)]
    async fn latency_is_a_tokio_sleep() {
        let server = MockServer::start(MockConfig {
            latency_ms: 5_000,
            ..MockConfig::default()
        })
        .await
        .unwrap();
        // With the clock paused, the 5 s pause passes at once if it is a Tokio sleep.
        let (status, _, _) = send(
            server.addr(),
            "POST",
            "/v1/chat/completions",
            &[],
            &chat_body("x"),
        )
        .await;
        assert_eq!(status, 200);
    }

    #[test]
    fn config_reads_from_json_with_match_key() {
        let config: MockConfig = serde_json::from_value(json!({
            "api_key": "k",
            "latency_ms": 20,
            "rules": [{"match": "a", "reply": "b"}],
            "faults": [{"status": 500, "every": 10}],
        }))
        .unwrap();
        assert_eq!(config.rules[0].matches.as_deref(), Some("a"));
        assert!(serde_json::from_value::<MockConfig>(json!({"latncy_ms": 1})).is_err());
    }
}
