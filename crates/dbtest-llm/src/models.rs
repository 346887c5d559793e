//! The `models:` mapping (DESIGN §8): parsed from JSON, then resolved against the
//! environment.
//!
//! Two steps because they fail for different people at different times: a typo in the
//! file is the author's error and is reported with the file and model; a missing
//! environment variable is the runner's, found by [`resolve`] before any call is made.
//! Secrets come only from the environment: a key written in the file is refused.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

/// The parsed entry of one model, before the environment is read.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub provider: Provider,
    /// Default request parameters; a call's parameter of the same name overrides.
    pub params: Map<String, Value>,
    pub price: Option<Price>,
    pub rate_limit: Option<RateLimit>,
    pub timeout: Duration,
}

/// Where and how a model is called.
#[derive(Debug, Clone, PartialEq)]
pub enum Provider {
    /// Any OpenAI-compatible `POST {base_url}/chat/completions` with `Authorization: Bearer`.
    OpenAi {
        model: String,
        base_url: Source,
        /// Optional: local servers (Ollama, llama.cpp) take no key.
        api_key_env: Option<String>,
    },
    /// `POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`
    /// with an `api-key` header.
    Azure {
        endpoint_env: String,
        deployment: String,
        api_version: String,
        api_key_env: String,
    },
}

/// A value written in the file, or the name of the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Literal(String),
    Env(String),
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

/// Limits shared by all samples of a model; either may be absent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub requests_per_minute: Option<f64>,
    pub tokens_per_minute: Option<f64>,
}

/// The default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// An error in the `models:` mapping or in resolving it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelsError {
    #[error("{file}: model `{model}`: {message}")]
    Invalid {
        file: String,
        model: String,
        message: String,
    },
    #[error("{file}: `models` must be a mapping of model names to their settings")]
    NotAMapping { file: String },
    #[error("model `{model}`: environment variable {var} is not set")]
    MissingEnv { model: String, var: String },
}

const OPENAI_KEYS: &[&str] = &[
    "provider",
    "model",
    "base_url",
    "base_url_env",
    "api_key_env",
    "params",
    "price",
    "rate_limit",
    "timeout_s",
];
const AZURE_KEYS: &[&str] = &[
    "provider",
    "endpoint_env",
    "deployment",
    "api_version",
    "api_key_env",
    "params",
    "price",
    "rate_limit",
    "timeout_s",
];

/// Parses the `models:` mapping of `file` (the name is only used in errors).
pub fn parse_models(file: &str, value: &Value) -> Result<BTreeMap<String, ModelSpec>, ModelsError> {
    let Some(map) = value.as_object() else {
        return Err(ModelsError::NotAMapping { file: file.into() });
    };
    map.iter()
        .map(|(name, entry)| {
            let spec = Entry { file, model: name }.parse(entry)?;
            Ok((name.clone(), spec))
        })
        .collect()
}

/// The file and model an error is about.
struct Entry<'a> {
    file: &'a str,
    model: &'a str,
}

impl Entry<'_> {
    fn err(&self, message: impl Into<String>) -> ModelsError {
        ModelsError::Invalid {
            file: self.file.into(),
            model: self.model.into(),
            message: message.into(),
        }
    }

    fn parse(&self, value: &Value) -> Result<ModelSpec, ModelsError> {
        let map = value
            .as_object()
            .ok_or_else(|| self.err("must be a mapping (provider, model, …)"))?;
        for key in map.keys() {
            if is_written_key(key) {
                let env_name = if key == "api_key" || key == "key" {
                    "api_key_env".to_owned()
                } else {
                    format!("{key}_env")
                };
                return Err(self.err(format!(
                    "`{key}` is a key written in the file, which dbtest refuses: put the key in an \
                     environment variable and name it with `{env_name}` (e.g. api_key_env: OPENAI_API_KEY)"
                )));
            }
        }
        let provider = match map.get("provider") {
            None => return Err(self.err("`provider` is missing (openai or azure)")),
            Some(Value::String(p)) => p.as_str(),
            Some(_) => return Err(self.err("`provider` must be a string (openai or azure)")),
        };
        let allowed = match provider {
            "openai" => OPENAI_KEYS,
            "azure" => AZURE_KEYS,
            other => {
                return Err(self.err(format!(
                    "unknown provider `{other}`{} (openai or azure)",
                    did_you_mean(other, &["openai", "azure"])
                )))
            }
        };
        check_keys(map, allowed, |m| self.err(m))?;
        let provider = if provider == "openai" {
            let base_url = match (
                self.string(map, "base_url")?,
                self.string(map, "base_url_env")?,
            ) {
                (Some(url), None) => Source::Literal(url),
                (None, Some(var)) => Source::Env(var),
                (Some(_), Some(_)) => {
                    return Err(self.err("give `base_url` or `base_url_env`, not both"))
                }
                (None, None) => return Err(self.err("`base_url` (or `base_url_env`) is missing")),
            };
            Provider::OpenAi {
                model: self.required(map, "model")?,
                base_url,
                api_key_env: self.string(map, "api_key_env")?,
            }
        } else {
            Provider::Azure {
                endpoint_env: self.required(map, "endpoint_env")?,
                deployment: self.required(map, "deployment")?,
                api_version: self.required(map, "api_version")?,
                api_key_env: self.required(map, "api_key_env")?,
            }
        };
        let params = match map.get("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(params)) => params.clone(),
            Some(_) => return Err(self.err("`params` must be a mapping")),
        };
        let price = match map.get("price") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let p = self.section(v, "price", &["input_per_mtok", "output_per_mtok"])?;
                Some(Price {
                    input_per_mtok: self
                        .number(p, "price.input_per_mtok")?
                        .ok_or_else(|| self.err("`price.input_per_mtok` is missing"))?,
                    output_per_mtok: self
                        .number(p, "price.output_per_mtok")?
                        .ok_or_else(|| self.err("`price.output_per_mtok` is missing"))?,
                })
            }
        };
        let rate_limit = match map.get("rate_limit") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let r = self.section(
                    v,
                    "rate_limit",
                    &["requests_per_minute", "tokens_per_minute"],
                )?;
                let limit = RateLimit {
                    requests_per_minute: self.positive(r, "rate_limit.requests_per_minute")?,
                    tokens_per_minute: self.positive(r, "rate_limit.tokens_per_minute")?,
                };
                Some(limit)
            }
        };
        let timeout = match self.positive(map, "timeout_s")? {
            None => DEFAULT_TIMEOUT,
            Some(s) => Duration::from_secs_f64(s),
        };
        Ok(ModelSpec {
            name: self.model.into(),
            provider,
            params,
            price,
            rate_limit,
            timeout,
        })
    }

    fn string(&self, map: &Map<String, Value>, key: &str) -> Result<Option<String>, ModelsError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(self.err(format!("`{key}` is empty"))),
            // YAML reads `api_version: 2024-10-21` unquoted as a date or number; accept it.
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.err(format!("`{key}` must be a string"))),
        }
    }

    fn required(&self, map: &Map<String, Value>, key: &str) -> Result<String, ModelsError> {
        self.string(map, key)?
            .ok_or_else(|| self.err(format!("`{key}` is missing")))
    }

    fn section<'v>(
        &self,
        value: &'v Value,
        name: &str,
        allowed: &[&str],
    ) -> Result<&'v Map<String, Value>, ModelsError> {
        let map = value.as_object().ok_or_else(|| {
            self.err(format!(
                "`{name}` must be a mapping ({})",
                allowed.join(", ")
            ))
        })?;
        check_keys(map, allowed, |m| self.err(format!("in `{name}`: {m}")))?;
        Ok(map)
    }

    /// A number at a dotted path's last segment; the path is for the message.
    fn number(&self, map: &Map<String, Value>, path: &str) -> Result<Option<f64>, ModelsError> {
        let key = path.rsplit('.').next().unwrap_or(path);
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                _ => Err(self.err(format!("`{path}` must be a number >= 0"))),
            },
            Some(_) => Err(self.err(format!("`{path}` must be a number"))),
        }
    }

    fn positive(&self, map: &Map<String, Value>, path: &str) -> Result<Option<f64>, ModelsError> {
        match self.number(map, path)? {
            Some(x) if x <= 0.0 => Err(self.err(format!("`{path}` must be greater than 0"))),
            other => Ok(other),
        }
    }
}

/// A setting that looks like a secret written in the file: `api_key`, `key`, or any
/// `*_key` (`*_key_env` names a variable and is fine).
fn is_written_key(key: &str) -> bool {
    key == "api_key" || key == "key" || key.ends_with("_key")
}

fn check_keys(
    map: &Map<String, Value>,
    allowed: &[&str],
    err: impl Fn(String) -> ModelsError,
) -> Result<(), ModelsError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(err(format!(
            "unknown setting `{key}`{}",
            did_you_mean(key, allowed)
        ))),
    }
}

pub(crate) use dbtest_core::suggest::did_you_mean;

/// A secret read from the environment. Its `Debug` and `Display` are redacted so that no
/// log, error or sample record can print it; only the transport reads it, through
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The key itself, for the request header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A model ready to call: URL and key read from the environment.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub spec: ModelSpec,
    /// The full chat completions URL (with Azure's `api-version` query).
    pub url: String,
    /// The base URL (OpenAI) or endpoint (Azure): what messages and the cache key name.
    pub base_url: String,
    pub auth: Auth,
}

/// How a request carries its key, and which variable held it (for the 401 message).
#[derive(Debug, Clone)]
pub struct Auth {
    pub scheme: AuthScheme,
    pub key: Option<Secret>,
    pub key_env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// `Authorization: Bearer <key>` (OpenAI).
    Bearer,
    /// `api-key: <key>` (Azure).
    ApiKey,
}

impl ResolvedModel {
    /// `openai` or `azure`, for the cache key and the audit log.
    pub fn provider_name(&self) -> &'static str {
        match self.spec.provider {
            Provider::OpenAi { .. } => "openai",
            Provider::Azure { .. } => "azure",
        }
    }

    /// The `model` field of the request body; Azure names the deployment in the URL.
    pub fn body_model(&self) -> Option<&str> {
        match &self.spec.provider {
            Provider::OpenAi { model, .. } => Some(model),
            Provider::Azure { .. } => None,
        }
    }

    /// The model (OpenAI) or deployment (Azure) name.
    pub fn target(&self) -> &str {
        match &self.spec.provider {
            Provider::OpenAi { model, .. } => model,
            Provider::Azure { deployment, .. } => deployment,
        }
    }
}

/// All models of a run, resolved.
#[derive(Debug, Clone, Default)]
pub struct ResolvedModels {
    pub models: BTreeMap<String, ResolvedModel>,
}

impl ResolvedModels {
    pub fn get(&self, name: &str) -> Option<&ResolvedModel> {
        self.models.get(name)
    }
}

/// Reads each model's URL and key from `env` (in production `|v| std::env::var(v).ok()`);
/// a variable that is missing or empty is an error naming it and the model, so the run
/// stops before any call.
pub fn resolve(
    specs: &BTreeMap<String, ModelSpec>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ResolvedModels, ModelsError> {
    let read = |model: &str, var: &str| {
        env(var)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ModelsError::MissingEnv {
                model: model.into(),
                var: var.into(),
            })
    };
    let mut models = BTreeMap::new();
    for (name, spec) in specs {
        let resolved = match &spec.provider {
            Provider::OpenAi {
                base_url,
                api_key_env,
                ..
            } => {
                let base = match base_url {
                    Source::Literal(url) => url.clone(),
                    Source::Env(var) => read(name, var)?,
                };
                let base = base.trim_end_matches('/').to_owned();
                let key = match api_key_env {
                    Some(var) => Some(Secret::new(read(name, var)?)),
                    None => None,
                };
                ResolvedModel {
                    spec: spec.clone(),
                    url: format!("{base}/chat/completions"),
                    base_url: base,
                    auth: Auth {
                        scheme: AuthScheme::Bearer,
                        key,
                        key_env: api_key_env.clone(),
                    },
                }
            }
            Provider::Azure {
                endpoint_env,
                deployment,
                api_version,
                api_key_env,
            } => {
                let endpoint = read(name, endpoint_env)?.trim_end_matches('/').to_owned();
                let key = Secret::new(read(name, api_key_env)?);
                ResolvedModel {
                    spec: spec.clone(),
                    url: format!(
                        "{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={api_version}"
                    ),
                    base_url: endpoint,
                    auth: Auth {
                        scheme: AuthScheme::ApiKey,
                        key: Some(key),
                        key_env: Some(api_key_env.clone()),
                    },
                }
            }
        };
        models.insert(name.clone(), resolved);
    }
    Ok(ResolvedModels { models })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_one(entry: Value) -> Result<ModelSpec, ModelsError> {
        parse_models("models.yaml", &json!({ "small": entry }))
            .map(|mut m| m.remove("small").unwrap())
    }

    fn err_text(entry: Value) -> String {
        parse_one(entry).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_design_example() {
        let models = parse_models(
            "models.yaml",
            &json!({
                "small": {
                    "provider": "openai", "model": "gpt-4o-mini",
                    "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY",
                    "params": {"temperature": 0.2, "max_tokens": 256},
                    "price": {"input_per_mtok": 0.15, "output_per_mtok": 0.60},
                    "rate_limit": {"requests_per_minute": 500, "tokens_per_minute": 200000},
                    "timeout_s": 60
                },
                "big": {
                    "provider": "azure", "endpoint_env": "AZURE_OPENAI_ENDPOINT", "deployment": "gpt-4o",
                    "api_version": "2024-10-21", "api_key_env": "AZURE_OPENAI_API_KEY"
                }
            }),
        )
        .unwrap();
        let small = &models["small"];
        assert_eq!(small.params["max_tokens"], 256);
        assert_eq!(
            small.price,
            Some(Price {
                input_per_mtok: 0.15,
                output_per_mtok: 0.60
            })
        );
        assert_eq!(small.rate_limit.unwrap().requests_per_minute, Some(500.0));
        assert_eq!(models["big"].timeout, DEFAULT_TIMEOUT);
        assert!(models["big"].price.is_none());
    }

    #[test]
    fn a_key_in_the_file_is_refused() {
        for key in ["api_key", "key", "openai_key"] {
            let text = err_text(
                json!({"provider": "openai", "model": "m", "base_url": "http://x", key: "sk-123"}),
            );
            assert!(
                text.contains("api_key_env") || text.contains("_key_env"),
                "{text}"
            );
            assert!(text.starts_with("models.yaml: model `small`:"), "{text}");
            assert!(
                !text.contains("sk-123"),
                "the key itself is never repeated: {text}"
            );
        }
    }

    #[test]
    fn unknown_settings_suggest_the_closest() {
        let text = err_text(
            json!({"provider": "openai", "model": "m", "base_url": "http://x", "timout_s": 3}),
        );
        assert!(
            text.contains("unknown setting `timout_s` (did you mean `timeout_s`?)"),
            "{text}"
        );
        let text = err_text(json!({"provider": "opnai"}));
        assert!(text.contains("did you mean `openai`"), "{text}");
        let text = err_text(
            json!({"provider": "openai", "model": "m", "base_url": "http://x", "price": {"input": 1}}),
        );
        assert!(
            text.contains("in `price`: unknown setting `input`"),
            "{text}"
        );
        let text = err_text(
            json!({"provider": "azure", "endpoint_env": "E", "deployment": "d", "api_version": "1", "api_key_env": "K", "model": "m"}),
        );
        assert!(
            text.contains("unknown setting `model`"),
            "azure names a deployment: {text}"
        );
    }

    #[test]
    fn missing_and_malformed_fields() {
        assert!(err_text(json!({"provider": "openai", "model": "m"}))
            .contains("`base_url` (or `base_url_env`) is missing"));
        assert!(
            err_text(json!({"provider": "openai", "base_url": "u"})).contains("`model` is missing")
        );
        assert!(err_text(
            json!({"provider": "openai", "model": "m", "base_url": "u", "timeout_s": 0})
        )
        .contains("greater than 0"));
        assert!(err_text(json!({"provider": "openai", "model": "m", "base_url": "u", "price": {"input_per_mtok": 1}})).contains("output_per_mtok` is missing"));
        assert!(err_text(json!({"model": "m"})).contains("`provider` is missing"));
        assert!(matches!(
            parse_models("f", &json!([1])),
            Err(ModelsError::NotAMapping { .. })
        ));
    }

    #[test]
    fn resolve_reads_env_and_names_missing_variables() {
        let models = parse_models(
            "m.yaml",
            &json!({
                "local": {"provider": "openai", "model": "llama3", "base_url_env": "OLLAMA_URL"},
                "big": {"provider": "azure", "endpoint_env": "AZ_EP", "deployment": "gpt-4o", "api_version": "2024-10-21", "api_key_env": "AZ_KEY"}
            }),
        )
        .unwrap();
        let env = |v: &str| match v {
            "OLLAMA_URL" => Some("http://localhost:11434/v1/".to_owned()),
            "AZ_EP" => Some("https://r.openai.azure.com".to_owned()),
            "AZ_KEY" => Some("az-secret-value".to_owned()),
            _ => None,
        };
        let resolved = resolve(&models, env).unwrap();
        let local = resolved.get("local").unwrap();
        assert_eq!(local.url, "http://localhost:11434/v1/chat/completions");
        assert!(local.auth.key.is_none());
        let big = resolved.get("big").unwrap();
        assert_eq!(
            big.url,
            "https://r.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(big.auth.scheme, AuthScheme::ApiKey);
        assert!(
            !format!("{resolved:?}").contains("az-secret-value"),
            "Debug redacts the key"
        );

        let err = resolve(&models, |v| if v == "AZ_KEY" { None } else { env(v) }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "model `big`: environment variable AZ_KEY is not set"
        );
        assert!(resolve(&models, |v| if v == "AZ_KEY" {
            Some(" ".into())
        } else {
            env(v)
        })
        .is_err());
    }
}
