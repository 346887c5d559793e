//! The experiment design (DESIGN §6): validated key by key so that every error names the
//! file, the key and what is allowed; configurations are the cross product of the factors.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::expr::Expr;

pub const DEFAULT_CONCURRENCY: u32 = 8;
pub const DEFAULT_RETRIES: u32 = 2;
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

const KEYS: &[&str] = &[
    "experiment",
    "use_case",
    "samples",
    "concurrency",
    "max_per_second",
    "retries",
    "factors",
    "success",
    "budgets",
    "stop_when",
    "confidence",
    "seed",
    "models",
    "dataset",
    "prompt",
    "judge",
    "middleware",
    // DESIGN §9, checked by crate::artifacts.
    "security_level",
    "artifacts",
];
const DATASET_KEYS: &[&str] = &["path", "security_level"];
const PROMPT_KEYS: &[&str] = &["system", "user"];
const JUDGE_KEYS: &[&str] = &["model", "rubric", "pass_if"];
const BUDGET_KEYS: &[&str] = &["time_s", "tokens", "cost_usd"];
const STOP_KEYS: &[&str] = &["ci_half_width"];

/// Limits on a run; each optional. A run stops cleanly when one is spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl Budgets {
    pub fn is_empty(&self) -> bool {
        self.time_s.is_none() && self.tokens.is_none() && self.cost_usd.is_none()
    }
}

/// `stop_when`: stop sampling a configuration once its interval is this narrow.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopWhen {
    pub ci_half_width: f64,
}

/// A validated design.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub experiment: String,
    pub use_case: String,
    pub samples: u64,
    pub concurrency: u32,
    pub max_per_second: Option<f64>,
    pub retries: u32,
    /// Factor name -> levels, in the order the file gives them.
    pub factors: Vec<(String, Vec<Value>)>,
    pub success: Option<Expr>,
    pub budgets: Budgets,
    pub stop_when: Option<StopWhen>,
    pub confidence: f64,
    /// Seeds every sample's seed; drawn at random when the design has none.
    pub seed: Option<u64>,
    /// What a design that talks to models declares (DESIGN §8).
    pub llm: LlmDesign,
    /// The data's level and the sinks (DESIGN §9), checked before any sample runs.
    pub artifacts: crate::artifacts::Artifacts,
}

/// The parts of a design that talk to models. `models` and `middleware` are checked by
/// dbtest-llm when a run is prepared; the rest here.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LlmDesign {
    /// The `models:` mapping as written (or `None`: the project's shared file, if any).
    pub models: Option<Value>,
    pub dataset: Option<DatasetRef>,
    /// A design without Python: each sample renders this and sends it to the `model` factor.
    pub prompt: Option<Prompt>,
    pub judge: Option<Judge>,
    /// The `middleware:` list as written.
    pub middleware: Option<Value>,
    /// These sections as the design wrote them (the dataset's path relative to the project
    /// root): what a baseline, and then a spec, keeps so that `verify` calls the same way.
    pub written: Map<String, Value>,
}

/// `dataset: {path, security_level}` (the path relative to the design's folder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRef {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_level: Option<String>,
}

/// `prompt: {system, user}`: Jinja2 templates over `row` and `factors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    pub user: String,
}

/// `judge: {model, rubric, pass_if}`: a model scores each reply; `pass_if` reads its JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Judge {
    pub model: String,
    pub rubric: String,
    pub pass_if: Expr,
}

/// One combination of factor levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    pub config_id: String,
    pub factors: Map<String, Value>,
}

/// An invalid design: says where and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DesignError {
    pub file: String,
    pub message: String,
}

fn type_name(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("{n}"),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn err(&self, message: impl Into<String>) -> DesignError {
        DesignError {
            file: self.file.to_string(),
            message: message.into(),
        }
    }

    fn keys(
        &self,
        map: &Map<String, Value>,
        allowed: &[&str],
        prefix: &str,
    ) -> Result<(), DesignError> {
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = dbtest_core::suggest::closest(key, allowed)
                    .map(|k| format!(" (did you mean `{prefix}{k}`?)"))
                    .unwrap_or_default();
                return Err(self.err(format!(
                    "unknown key `{prefix}{key}`{hint}; allowed keys{}: {}",
                    if prefix.is_empty() {
                        String::new()
                    } else {
                        format!(" in `{}`", prefix.trim_end_matches('.'))
                    },
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn string(
        &self,
        map: &Map<String, Value>,
        key: &str,
        what: &str,
    ) -> Result<Option<String>, DesignError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(v) => Err(self.err(format!("`{key}` must be {what}, got {}", type_name(v)))),
        }
    }

    fn uint(
        &self,
        map: &Map<String, Value>,
        key: &str,
        min: u64,
        what: &str,
    ) -> Result<Option<u64>, DesignError> {
        self.uint_at(key, map.get(key), min, what)
    }

    fn uint_at(
        &self,
        label: &str,
        value: Option<&Value>,
        min: u64,
        what: &str,
    ) -> Result<Option<u64>, DesignError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n >= min => Ok(Some(n)),
                _ => Err(self.err(format!("`{label}` must be {what}, got {}", type_name(v)))),
            },
        }
    }

    fn number(
        &self,
        map: &Map<String, Value>,
        key: &str,
        ok: impl Fn(f64) -> bool,
        what: &str,
    ) -> Result<Option<f64>, DesignError> {
        self.number_at(key, map.get(key), ok, what)
    }

    fn number_at(
        &self,
        label: &str,
        value: Option<&Value>,
        ok: impl Fn(f64) -> bool,
        what: &str,
    ) -> Result<Option<f64>, DesignError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() && ok(x) => Ok(Some(x)),
                _ => Err(self.err(format!("`{label}` must be {what}, got {}", type_name(v)))),
            },
        }
    }

    fn mapping<'m>(
        &self,
        map: &'m Map<String, Value>,
        key: &str,
        example: &str,
    ) -> Result<Option<&'m Map<String, Value>>, DesignError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(v) => Err(self.err(format!(
                "`{key}` must be a mapping, e.g. {example}; got {}",
                type_name(v)
            ))),
        }
    }
}

impl Checker<'_> {
    fn expr(&self, label: &str, src: &str) -> Result<Expr, DesignError> {
        Expr::parse(src).map_err(|e| {
            self.err(format!(
                "`{label}` is not a valid expression: {e}\n    {src}\n    {}^",
                " ".repeat(e.column - 1)
            ))
        })
    }

    fn llm(&self, map: &Map<String, Value>) -> Result<LlmDesign, DesignError> {
        let models = match map.get("models") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(v) => {
                return Err(self.err(format!(
                    "`models` must be a mapping of model names, e.g. models: {{small: {{provider: openai, \
                     model: gpt-4o-mini, api_key_env: OPENAI_API_KEY}}}}; got {}",
                    type_name(v)
                )))
            }
        };
        let dataset = match map.get("dataset") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) => Some(DatasetRef {
                path: path.clone(),
                security_level: None,
            }),
            Some(Value::Object(d)) => {
                self.keys(d, DATASET_KEYS, "dataset.")?;
                let path = self
                    .string(d, "path", "a CSV or JSONL file")?
                    .ok_or_else(|| {
                        self.err("`dataset` needs `path`, e.g. dataset: {path: tickets.csv}")
                    })?;
                let security_level = self.string(d, "security_level", "a security level")?;
                Some(DatasetRef {
                    path,
                    security_level,
                })
            }
            Some(v) => {
                return Err(self.err(format!(
                    "`dataset` must be a path or {{path: tickets.csv}}, got {}",
                    type_name(v)
                )))
            }
        };
        let prompt = match self.mapping(map, "prompt", "{user: \"Ticket: {{ row.text }}\"}")? {
            Some(p) => {
                self.keys(p, PROMPT_KEYS, "prompt.")?;
                let user = self
                    .string(p, "user", "a template such as \"Ticket: {{ row.text }}\"")?
                    .ok_or_else(|| self.err("`prompt` needs `user`: the message to send"))?;
                Some(Prompt {
                    system: self.string(p, "system", "a template")?,
                    user,
                })
            }
            None => None,
        };
        let judge = match self.mapping(
            map,
            "judge",
            "{model: big, rubric: \"...\", pass_if: \"score >= 4\"}",
        )? {
            Some(j) => {
                self.keys(j, JUDGE_KEYS, "judge.")?;
                let need = |key: &str, what: &str| {
                    self.string(j, key, what)?.ok_or_else(|| {
                        self.err(format!(
                            "`judge` needs `{key}` ({what}): judge: {{model, rubric, pass_if}}"
                        ))
                    })
                };
                let model = need("model", "one of the design's models")?;
                let rubric = need(
                    "rubric",
                    "what the judge is asked, with the JSON it replies",
                )?;
                let pass_if = need("pass_if", "an expression over the judge's JSON reply")?;
                Some(Judge {
                    model,
                    rubric,
                    pass_if: self.expr("judge.pass_if", &pass_if)?,
                })
            }
            None => None,
        };
        let middleware = match map.get("middleware") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Array(_)) => Some(v.clone()),
            Some(v) => {
                return Err(self.err(format!(
                    "`middleware` must be a list, e.g. middleware: [{{pii_mask: {{kinds: [email]}}}}]; got {}",
                    type_name(v)
                )))
            }
        };
        let written = ["models", "dataset", "prompt", "judge", "middleware"]
            .into_iter()
            .filter_map(|k| {
                map.get(k)
                    .filter(|v| !v.is_null())
                    .map(|v| (k.to_string(), v.clone()))
            })
            .collect();
        Ok(LlmDesign {
            models,
            dataset,
            prompt,
            judge,
            middleware,
            written,
        })
    }
}

/// Checks a budgets mapping (of a design or a spec); `prefix` names it in messages.
pub fn parse_budgets(
    file: &str,
    value: Option<&Value>,
    prefix: &str,
) -> Result<Budgets, DesignError> {
    let c = Checker { file };
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(Budgets::default());
    };
    let Value::Object(b) = value else {
        return Err(c.err(format!(
            "`{prefix}` must be a mapping, e.g. {{time_s: 300, tokens: 500000, cost_usd: 5.0}}; got {}",
            type_name(value)
        )));
    };
    c.keys(b, BUDGET_KEYS, &format!("{prefix}."))?;
    let positive = |x: f64| x > 0.0;
    let named = |k: &str| format!("{prefix}.{k}");
    Ok(Budgets {
        time_s: c.number_at(
            &named("time_s"),
            b.get("time_s"),
            positive,
            "a positive number of seconds",
        )?,
        tokens: c.uint_at(
            &named("tokens"),
            b.get("tokens"),
            1,
            "a positive whole number of tokens",
        )?,
        cost_usd: c.number_at(
            &named("cost_usd"),
            b.get("cost_usd"),
            positive,
            "a positive amount in US dollars",
        )?,
    })
}

impl Design {
    /// Validates the design loaded from `file` (YAML already turned into JSON).
    pub fn from_value(file: &str, value: &Value) -> Result<Design, DesignError> {
        let c = Checker { file };
        let Value::Object(map) = value else {
            return Err(c.err(format!(
                "a design must be a mapping with at least `experiment`, `use_case` and `samples`; got {}",
                type_name(value)
            )));
        };
        c.keys(map, KEYS, "")?;
        let required =
            |key: &str, v: Option<String>| v.ok_or_else(|| c.err(format!("`{key}` is required")));
        let experiment = required(
            "experiment",
            c.string(map, "experiment", "a name such as shop-search")?,
        )?;
        if !experiment
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
            || experiment.starts_with('.')
        {
            return Err(c.err(format!(
                "`experiment` must use letters, digits, '-', '_' or '.' (it names the run's folder), got {experiment:?}"
            )));
        }
        let llm = c.llm(map)?;
        let use_case = match (
            c.string(map, "use_case", "a use case id such as shop.search")?,
            &llm.prompt,
        ) {
            (Some(_), Some(_)) => {
                return Err(c.err(
                    "a design has either `use_case` (Python calls the model) or `prompt` \
                     (dbtest calls it), not both",
                ))
            }
            (Some(u), None) => u,
            // A design without Python is its own use case: its specs are `<experiment>:vN`.
            (None, Some(_)) => experiment.clone(),
            (None, None) => {
                return Err(c.err(
                    "`use_case` is required (a Python use case id such as shop.search), or \
                     `prompt` with `models` for a design that needs no Python",
                ))
            }
        };
        let samples = c
            .uint(
                map,
                "samples",
                1,
                "a whole number of samples per configuration, at least 1",
            )?
            .ok_or_else(|| {
                c.err(
                    "`samples` is required: how many samples per configuration, e.g. samples: 200",
                )
            })?;
        let concurrency = c
            .uint(map, "concurrency", 1, "a whole number of at least 1")?
            .map_or(DEFAULT_CONCURRENCY, |n| n.min(u64::from(u32::MAX)) as u32);
        let max_per_second = c.number(
            map,
            "max_per_second",
            |x| x > 0.0,
            "a positive number of samples per second",
        )?;
        let retries = c
            .uint(map, "retries", 0, "a whole number of 0 or more")?
            .map_or(DEFAULT_RETRIES, |n| n.min(100) as u32);
        let confidence = c
            .number(
                map,
                "confidence",
                |x| x > 0.0 && x < 1.0,
                "a number between 0 and 1, e.g. 0.95",
            )?
            .unwrap_or(DEFAULT_CONFIDENCE);
        let seed = c.uint(map, "seed", 0, "a whole number of 0 or more")?;
        let success = match c.string(
            map,
            "success",
            "an expression such as \"valid_json and latency_ms < 800\"",
        )? {
            Some(src) => Some(Expr::parse(&src).map_err(|e| {
                c.err(format!(
                    "`success` is not a valid expression: {e}\n    {src}\n    {}^",
                    " ".repeat(e.column - 1)
                ))
            })?),
            None => None,
        };
        let mut factors = Vec::new();
        if let Some(f) = c.mapping(
            map,
            "factors",
            "{model: [small, large], temperature: [0.0, 0.7]}",
        )? {
            for (name, levels) in f {
                let bad = |why: &str| {
                    c.err(format!(
                        "`factors.{name}` {why}; give a list of levels, e.g. {name}: [a, b]"
                    ))
                };
                let Value::Array(levels) = levels else {
                    return Err(bad(&format!("must be a list, got {}", type_name(levels))));
                };
                if levels.is_empty() {
                    return Err(bad("is empty"));
                }
                for (i, level) in levels.iter().enumerate() {
                    if !matches!(level, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                        return Err(bad(&format!(
                            "must hold strings, numbers or booleans, but level {} is {}",
                            i + 1,
                            type_name(level)
                        )));
                    }
                    if levels[..i].contains(level) {
                        return Err(bad(&format!("lists {} twice", type_name(level))));
                    }
                }
                factors.push((name.clone(), levels.clone()));
            }
        }
        let budgets = parse_budgets(file, map.get("budgets"), "budgets")?;
        let stop_when = match c.mapping(map, "stop_when", "{ci_half_width: 0.03}")? {
            Some(s) => {
                c.keys(s, STOP_KEYS, "stop_when.")?;
                let width = c
                    .number_at(
                        "stop_when.ci_half_width",
                        s.get("ci_half_width"),
                        |x| x > 0.0 && x < 0.5,
                        "a number between 0 and 0.5, e.g. 0.03",
                    )?
                    .ok_or_else(|| c.err("`stop_when` needs `ci_half_width`, e.g. stop_when: {ci_half_width: 0.03}"))?;
                Some(StopWhen {
                    ci_half_width: width,
                })
            }
            None => None,
        };
        let artifacts = crate::artifacts::Artifacts::from_design(map).map_err(|e| c.err(e))?;
        Ok(Design {
            artifacts,
            experiment,
            use_case,
            samples,
            concurrency,
            max_per_second,
            retries,
            factors,
            success,
            budgets,
            stop_when,
            confidence,
            seed,
            llm,
        })
    }

    /// Every combination of levels, the first factor varying slowest.
    pub fn configurations(&self) -> Vec<Configuration> {
        let mut combos: Vec<Map<String, Value>> = vec![Map::new()];
        for (name, levels) in &self.factors {
            combos = combos
                .into_iter()
                .flat_map(|base| {
                    levels.iter().map(move |level| {
                        let mut m = base.clone();
                        m.insert(name.clone(), level.clone());
                        m
                    })
                })
                .collect();
        }
        let mut seen = std::collections::HashSet::new();
        combos
            .into_iter()
            .map(|factors| {
                let base = config_id(&factors);
                let mut id = base.clone();
                let mut n = 2;
                while !seen.insert(id.clone()) {
                    id = format!("{base}~{n}");
                    n += 1;
                }
                Configuration {
                    config_id: id,
                    factors,
                }
            })
            .collect()
    }
}

/// A level as text: strings as they are, numbers and booleans as JSON writes them.
pub fn level_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `model=small,temperature=0.0`: readable, and safe as a file name (other characters
/// become `_`). A design without factors has the one configuration `default`.
pub fn config_id(factors: &Map<String, Value>) -> String {
    if factors.is_empty() {
        return "default".to_string();
    }
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    factors
        .iter()
        .map(|(k, v)| format!("{}={}", safe(k), safe(&level_text(v))))
        .collect::<Vec<_>>()
        .join(",")
}

/// `model=small temperature=0.0`: how progress lines and tables show a configuration.
pub fn config_label(factors: &Map<String, Value>) -> String {
    if factors.is_empty() {
        return "default".to_string();
    }
    factors
        .iter()
        .map(|(k, v)| format!("{k}={}", level_text(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A sample's seed: a hash of the run's seed, the experiment, the configuration and the
/// index, so a run with a given seed is reproducible sample by sample (and a resumed run
/// gives a missing sample the seed it would have had). 53 bits, so any JSON reader keeps it
/// exact.
pub fn sample_seed(run_seed: u64, experiment: &str, config_id: &str, index: u64) -> u64 {
    let mut h = Sha256::new();
    h.update(run_seed.to_le_bytes());
    h.update(experiment.as_bytes());
    h.update([0]);
    h.update(config_id.as_bytes());
    h.update([0]);
    h.update(index.to_le_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes")) & ((1 << 53) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn design(v: Value) -> Result<Design, DesignError> {
        Design::from_value("d.yaml", &v)
    }

    fn msg(v: Value) -> String {
        design(v).unwrap_err().to_string()
    }

    #[test]
    fn the_design_example_validates() {
        let d = design(json!({
            "experiment": "shop-search", "use_case": "shop.search", "samples": 200,
            "concurrency": 16, "max_per_second": 20, "retries": 2,
            "factors": {"model": ["small", "large"], "temperature": [0.0, 0.7]},
            "success": "valid_json and latency_ms < 800",
            "budgets": {"time_s": 300, "tokens": 500000, "cost_usd": 5.0},
            "stop_when": {"ci_half_width": 0.03},
        }))
        .unwrap();
        assert_eq!(d.samples, 200);
        assert_eq!(d.max_per_second, Some(20.0));
        assert_eq!(d.budgets.tokens, Some(500000));
        assert_eq!(d.confidence, 0.95);
        let ids: Vec<String> = d
            .configurations()
            .into_iter()
            .map(|c| c.config_id)
            .collect();
        assert_eq!(
            ids,
            [
                "model=small,temperature=0.0",
                "model=small,temperature=0.7",
                "model=large,temperature=0.0",
                "model=large,temperature=0.7"
            ]
        );
    }

    #[test]
    fn defaults() {
        let d = design(json!({"experiment": "e", "use_case": "u", "samples": 1})).unwrap();
        assert_eq!((d.concurrency, d.retries), (8, 2));
        assert!(d.success.is_none() && d.stop_when.is_none() && d.budgets.is_empty());
        let configs = d.configurations();
        assert_eq!(configs.len(), 1);
        assert_eq!(configs[0].config_id, "default");
    }

    #[test]
    fn errors_name_the_file_the_key_and_what_is_allowed() {
        let base = || json!({"experiment": "e", "use_case": "u", "samples": 10});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            msg(b)
        };
        let m = with("concurency", json!(3));
        assert!(
            m.starts_with("d.yaml: unknown key `concurency` (did you mean `concurrency`?)"),
            "{m}"
        );
        assert!(
            m.contains("allowed keys: experiment, use_case, samples"),
            "{m}"
        );
        let m = with("budgets", json!({"tokenz": 3}));
        assert!(
            m.contains("unknown key `budgets.tokenz` (did you mean `budgets.tokens`?)"),
            "{m}"
        );
        assert!(m.contains("time_s, tokens, cost_usd"), "{m}");
        let m = with("samples", json!(0));
        assert!(m.contains("`samples` must be a whole number"), "{m}");
        let m = with("samples", json!("many"));
        assert!(m.contains("got \"many\""), "{m}");
        let m = with("factors", json!({"model": "small"}));
        assert!(m.contains("`factors.model` must be a list"), "{m}");
        let m = with("factors", json!({"model": []}));
        assert!(m.contains("`factors.model` is empty"), "{m}");
        let m = with("factors", json!({"model": [{"a": 1}]}));
        assert!(m.contains("strings, numbers or booleans"), "{m}");
        let m = with("success", json!("valid_json and"));
        assert!(
            m.contains("`success` is not a valid expression: column 15"),
            "{m}"
        );
        let m = with("confidence", json!(95));
        assert!(m.contains("between 0 and 1"), "{m}");
        let m = with("stop_when", json!({"ci_half_width": 2}));
        assert!(m.contains("`stop_when.ci_half_width`"), "{m}");
        let m = with("budgets", json!({"time_s": -1}));
        assert!(
            m.contains("`budgets.time_s` must be a positive number"),
            "{m}"
        );
        let m = with("experiment", json!("a/b"));
        assert!(m.contains("letters, digits"), "{m}");
        let m = msg(json!({"experiment": "e", "use_case": "u"}));
        assert!(m.contains("`samples` is required"), "{m}");
        let m = msg(json!(["x"]));
        assert!(m.contains("must be a mapping"), "{m}");
    }

    #[test]
    fn config_ids_are_file_safe() {
        let f: Map<String, Value> =
            serde_json::from_value(json!({"model": "gpt-4o/mini", "t": 0.5, "flag": true}))
                .unwrap();
        assert_eq!(config_id(&f), "model=gpt-4o_mini,t=0.5,flag=true");
        assert_eq!(config_label(&f), "model=gpt-4o/mini t=0.5 flag=true");
    }

    #[test]
    fn seeds_are_stable_and_distinct() {
        let a = sample_seed(1, "e", "c", 0);
        assert_eq!(a, sample_seed(1, "e", "c", 0));
        assert_ne!(a, sample_seed(1, "e", "c", 1));
        assert_ne!(a, sample_seed(2, "e", "c", 0));
        assert_ne!(a, sample_seed(1, "e", "d", 0));
        assert!(a < (1 << 53));
    }
}
