//! One HTTP exchange with a model: building the request, sending it, reading the answer.
//!
//! [`Transport`] is the seam between the policy (retries, limits, cache) and the network,
//! so that policy can be tested on paused time with a fake. [`HttpTransport`] is the real
//! one: reqwest on rustls (no native TLS), one connection pool for every model and sample
//! of a run.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value};

use crate::call::{ChatRequest, Usage};
use crate::models::{AuthScheme, ResolvedModel};

/// A request ready to send. `Debug` never shows the key: it is read from the model's
/// [`crate::models::Auth`] only when the request goes out.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub url: String,
    pub auth: crate::models::Auth,
    pub body: Value,
    pub timeout: Duration,
}

/// The parts of an answer the retry policy and the parser read.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// `Retry-After` as sent (seconds or an HTTP date).
    pub retry_after: Option<String>,
    /// `retry-after-ms` as sent (OpenAI and Azure).
    pub retry_after_ms: Option<String>,
    pub body: String,
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    pub kind: TransportErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    Timeout,
    Connect,
    /// Anything else (a body cut short, a protocol error): retried like a connection error.
    Other,
}

/// Sends one request; implemented by [`HttpTransport`] and by tests' fakes.
pub trait Transport: Send + Sync {
    fn send<'a>(
        &'a self,
        request: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, TransportError>>;
}

/// The HTTP client could not be set up (no TLS provider or certificate store).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HTTP client setup: {0}")]
pub struct SetupError(String);

/// The real transport: a reqwest client shared by all calls of a run.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// Builds the client with rustls on ring and, when `tls` (some model's URL is not plain
    /// `http://`), the platform's certificate store: reading it costs tens of milliseconds,
    /// which a run against local servers need not pay. Redirects are not followed (as
    /// OpenAI's own client does not), so a plain-HTTP run never reaches an HTTPS URL.
    pub fn new(tls: bool) -> Result<HttpTransport, SetupError> {
        use rustls_platform_verifier::BuilderVerifierExt;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SetupError(format!("TLS: {e}")))?;
        let tls = if tls {
            builder
                .with_platform_verifier()
                .map_err(|e| SetupError(format!("TLS: {e}")))?
        } else {
            builder.with_root_certificates(rustls::RootCertStore::empty())
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.with_no_client_auth())
            .redirect(reqwest::redirect::Policy::none())
            // Many samples at high concurrency: keep connections to reuse them.
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| SetupError(e.to_string()))?;
        Ok(HttpTransport { client })
    }

    /// Whether any of these URLs needs TLS (is not plain `http://`).
    pub fn needs_tls<'a>(urls: impl IntoIterator<Item = &'a str>) -> bool {
        urls.into_iter().any(|url| {
            !url.get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
        })
    }
}

impl Transport for HttpTransport {
    fn send<'a>(
        &'a self,
        request: &'a HttpRequest,
    ) -> BoxFuture<'a, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            let mut builder = self
                .client
                .post(&request.url)
                .timeout(request.timeout)
                .json(&request.body);
            if let Some(key) = &request.auth.key {
                builder = match request.auth.scheme {
                    AuthScheme::Bearer => builder.bearer_auth(key.expose()),
                    AuthScheme::ApiKey => builder.header("api-key", key.expose()),
                };
            }
            let response = builder.send().await.map_err(transport_error)?;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let status = response.status().as_u16();
            let retry_after = header("retry-after");
            let retry_after_ms = header("retry-after-ms");
            let body = response.text().await.map_err(transport_error)?;
            Ok(HttpResponse {
                status,
                retry_after,
                retry_after_ms,
                body,
            })
        })
    }
}

/// reqwest's error without its URL: the URL is in our own messages already, and an error
/// must never carry more than we chose to show.
fn transport_error(e: reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    TransportError { kind, message }
}

/// The model's `params` overlaid by the call's (a call's parameter wins).
pub fn merged_params(model: &ResolvedModel, request: &ChatRequest) -> Map<String, Value> {
    let mut params = model.spec.params.clone();
    for (k, v) in &request.params {
        params.insert(k.clone(), v.clone());
    }
    params
}

/// The HTTP request for a chat call: `model` (OpenAI only), `messages`, then every
/// merged parameter.
pub fn build_request(model: &ResolvedModel, request: &ChatRequest) -> HttpRequest {
    let mut body = Map::new();
    if let Some(name) = model.body_model() {
        body.insert("model".into(), Value::String(name.to_owned()));
    }
    body.insert(
        "messages".into(),
        serde_json::to_value(&request.messages).unwrap_or(Value::Null),
    );
    for (k, v) in merged_params(model, request) {
        if k != "model" && k != "messages" {
            body.insert(k, v);
        }
    }
    HttpRequest {
        url: model.url.clone(),
        auth: model.auth.clone(),
        body: Value::Object(body),
        timeout: model.spec.timeout,
    }
}

/// The text and usage of a chat completion body.
pub fn parse_completion(body: &str) -> Result<(String, Usage), String> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| format!("the answer is not JSON ({e})"))?;
    let text = value
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or("the answer has no choices[0].message.content")?
        .to_owned();
    let count = |field: &str| {
        value
            .get("usage")
            .and_then(|u| u.get(field))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    Ok((
        text,
        Usage {
            input_tokens: count("prompt_tokens"),
            output_tokens: count("completion_tokens"),
        },
    ))
}

/// The reply text as JSON: the whole text, or the first ```json (or bare ```) fenced
/// block, since models often wrap JSON that way.
pub fn parse_json_text(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(text.trim()) {
        return Some(v);
    }
    let start = text.find("```")?;
    let rest = &text[start + 3..];
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    let end = rest.find("```")?;
    serde_json::from_str(rest[..end].trim()).ok()
}

/// A short description of an error body for messages: OpenAI's `error.message` when
/// present, else the first 200 characters.
pub fn error_summary(body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    from_json.unwrap_or_else(|| body.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{parse_models, resolve};
    use serde_json::json;

    fn model() -> ResolvedModel {
        let specs = parse_models(
            "m",
            &json!({"m": {"provider": "openai", "model": "gpt", "base_url": "http://h/v1",
                         "params": {"temperature": 0.2, "max_tokens": 10}}}),
        )
        .unwrap();
        resolve(&specs, |_| None)
            .unwrap()
            .models
            .remove("m")
            .unwrap()
    }

    #[test]
    fn call_params_override_model_params() {
        let mut request = ChatRequest {
            messages: vec![crate::call::Message::new("user", "hi")],
            ..ChatRequest::default()
        };
        request.params.insert("temperature".into(), json!(0.9));
        let http = build_request(&model(), &request);
        assert_eq!(http.url, "http://h/v1/chat/completions");
        assert_eq!(
            http.body,
            json!({"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.9, "max_tokens": 10})
        );
    }

    #[test]
    fn completion_text_usage_and_json() {
        let body = json!({"choices": [{"message": {"content": "{\"a\": 1}"}}], "usage": {"prompt_tokens": 5, "completion_tokens": 2}});
        let (text, usage) = parse_completion(&body.to_string()).unwrap();
        assert_eq!(
            usage,
            Usage {
                input_tokens: 5,
                output_tokens: 2
            }
        );
        assert_eq!(parse_json_text(&text), Some(json!({"a": 1})));
        assert!(parse_completion("{}").unwrap_err().contains("choices[0]"));
        assert!(parse_completion("<html>").is_err());
    }

    #[test]
    fn json_in_a_fenced_block_or_not_at_all() {
        assert_eq!(
            parse_json_text("Here:\n```json\n{\"category\": \"billing\"}\n```\nDone."),
            Some(json!({"category": "billing"}))
        );
        assert_eq!(parse_json_text("```\n[1, 2]\n```"), Some(json!([1, 2])));
        assert_eq!(parse_json_text("plain words"), None);
        assert_eq!(parse_json_text("```json\nnot json\n```"), None);
    }

    #[test]
    fn error_summary_prefers_openai_message() {
        assert_eq!(
            error_summary(r#"{"error": {"message": "bad model"}}"#),
            "bad model"
        );
        assert_eq!(error_summary("oops"), "oops");
    }

    #[test]
    fn http_client_builds() {
        HttpTransport::new(true).unwrap();
        HttpTransport::new(false).unwrap();
        assert!(!HttpTransport::needs_tls([
            "http://127.0.0.1:8000/v1",
            "HTTP://localhost/v1"
        ]));
        assert!(HttpTransport::needs_tls([
            "http://127.0.0.1/v1",
            "https://api.openai.com/v1"
        ]));
    }
}
