//! The reply cache: `--cache off|record|replay`, in an SQLite file (by convention
//! `.dbtest/llm-cache.sqlite`; the caller gives the path).
//!
//! `record` answers from the cache when it can and stores every new successful reply;
//! `replay` answers only from the cache and sends nothing, so a run can be repeated
//! offline, at no cost, with the same answers. Errors are never stored: a 429 recorded
//! once would fail every replay.
//!
//! The key is a SHA-256 over canonical JSON (object keys sorted) of what decides the
//! answer: provider, base URL, model or deployment, the messages as sent (after
//! middleware), every parameter, and the sample's index, so that repeated samples of one
//! prompt stay distinct draws. The same call made again within one sample (asking twice
//! for self-consistency) is told apart by its occurrence number, counted per run, so a
//! replay gives back the answers in the order they were recorded. SQLite calls run on Tokio's blocking pool behind one
//! connection, so the async workers never wait on the disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::call::{Message, Usage};
use crate::models::ResolvedModel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheMode {
    #[default]
    Off,
    Record,
    Replay,
}

impl std::str::FromStr for CacheMode {
    type Err = String;
    fn from_str(s: &str) -> Result<CacheMode, String> {
        match s {
            "off" => Ok(CacheMode::Off),
            "record" => Ok(CacheMode::Record),
            "replay" => Ok(CacheMode::Replay),
            other => Err(format!(
                "unknown cache mode `{other}` (off, record or replay)"
            )),
        }
    }
}

/// A call's key, with what [`Cache::forget`] needs to give its occurrence back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallKey {
    pub key: String,
    base: String,
    occurrence: u64,
}

/// What a cache entry holds: enough to rebuild the reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedReply {
    pub text: String,
    pub usage: Usage,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LLM cache {path}: {message}")]
pub struct CacheError {
    pub path: String,
    pub message: String,
}

/// The cache of a run; cheap to clone (one shared connection).
#[derive(Debug, Clone)]
pub struct Cache {
    mode: CacheMode,
    store: Option<Store>,
    /// How many times each base key was asked for in this run.
    occurrences: Arc<Mutex<HashMap<String, u64>>>,
}

#[derive(Debug, Clone)]
struct Store {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl Cache {
    /// No cache: every call is sent.
    pub fn off() -> Cache {
        Cache {
            mode: CacheMode::Off,
            store: None,
            occurrences: Arc::default(),
        }
    }

    /// Opens (creating it and its folder for `record`) the cache file. `replay` on a
    /// missing file is an error now rather than a miss on every sample.
    pub fn open(path: &Path, mode: CacheMode) -> Result<Cache, CacheError> {
        if mode == CacheMode::Off {
            return Ok(Cache::off());
        }
        let err = |message: String| CacheError {
            path: path.display().to_string(),
            message,
        };
        if mode == CacheMode::Replay && !path.exists() {
            return Err(err(
                "no cache file to replay; run once with --cache record".into()
            ));
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| err(e.to_string()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS replies (
                 key TEXT PRIMARY KEY,
                 reply TEXT NOT NULL,
                 created TEXT NOT NULL
             );",
        )
        .map_err(|e| err(e.to_string()))?;
        Ok(Cache {
            mode,
            store: Some(Store {
                path: path.to_owned(),
                conn: Arc::new(Mutex::new(conn)),
            }),
            occurrences: Arc::default(),
        })
    }

    pub fn mode(&self) -> CacheMode {
        self.mode
    }

    /// The key of a call about to be made: [`cache_key`] of its first occurrence in this
    /// run, then the same with the occurrence number for each repeat.
    pub fn key_for(
        &self,
        model: &ResolvedModel,
        messages: &[Message],
        params: &Map<String, Value>,
        sample_index: u64,
    ) -> CallKey {
        let base = cache_key(model, messages, params, sample_index, 0);
        let occurrence = {
            let mut seen = self.occurrences.lock().unwrap_or_else(|e| e.into_inner());
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            *n - 1
        };
        let key = if occurrence == 0 {
            base.clone()
        } else {
            cache_key(model, messages, params, sample_index, occurrence)
        };
        CallKey {
            key,
            base,
            occurrence,
        }
    }

    /// Gives back the occurrence of a call that failed, if no later one was taken, so that
    /// the call made again gets the same key.
    pub fn forget(&self, key: &CallKey) {
        let mut seen = self.occurrences.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = seen.get_mut(&key.base) {
            if *n == key.occurrence + 1 {
                *n -= 1;
            }
        }
    }

    /// The stored reply for `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<CachedReply>, CacheError> {
        let Some(store) = self.store.clone() else {
            return Ok(None);
        };
        let key = key.to_owned();
        blocking(&store, move |conn| {
            let text: Option<String> = conn
                .query_row("SELECT reply FROM replies WHERE key = ?1", [&key], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(|e| e.to_string())?;
            text.map(|t| serde_json::from_str(&t).map_err(|e| format!("entry {key}: {e}")))
                .transpose()
        })
        .await
    }

    /// Stores a successful reply (only in `record` mode; a no-op otherwise).
    pub async fn put(&self, key: &str, reply: &CachedReply) -> Result<(), CacheError> {
        let Some(store) = self
            .store
            .clone()
            .filter(|_| self.mode == CacheMode::Record)
        else {
            return Ok(());
        };
        let key = key.to_owned();
        let text = serde_json::to_string(reply).map_err(|e| CacheError {
            path: store.path.display().to_string(),
            message: e.to_string(),
        })?;
        let created = jiff::Timestamp::now().to_string();
        blocking(&store, move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO replies (key, reply, created) VALUES (?1, ?2, ?3)",
                [&key, &text, &created],
            )
            .map(drop)
            .map_err(|e| e.to_string())
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Connection) -> Result<T, String> + Send + 'static,
) -> Result<T, CacheError> {
    let conn = Arc::clone(&store.conn);
    let path = store.path.display().to_string();
    let result = tokio::task::spawn_blocking(move || {
        let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    result.map_err(|message| CacheError { path, message })
}

/// The cache key of a call: hex SHA-256 of the canonical JSON of everything that decides
/// the answer. `occurrence` (0 for the first) tells apart the same call repeated within
/// a sample; 0 adds nothing to the material, so first occurrences keep a plain key.
pub fn cache_key(
    model: &ResolvedModel,
    messages: &[Message],
    params: &Map<String, Value>,
    sample_index: u64,
    occurrence: u64,
) -> String {
    let mut material = json!({
        "provider": model.provider_name(),
        "base_url": model.base_url,
        "model": model.target(),
        "messages": messages,
        "params": params,
        "sample_index": sample_index,
    });
    if occurrence > 0 {
        material["occurrence"] = json!(occurrence);
    }
    let mut canonical = String::new();
    write_canonical(&material, &mut canonical);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with object keys sorted at every level, so that `{a, b}` and `{b, a}` (which
/// `preserve_order` keeps apart) hash the same.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{parse_models, resolve};

    fn model(base: &str) -> ResolvedModel {
        let specs = parse_models(
            "m",
            &json!({"m": {"provider": "openai", "model": "gpt", "base_url": base}}),
        )
        .unwrap();
        resolve(&specs, |_| None)
            .unwrap()
            .models
            .remove("m")
            .unwrap()
    }

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn key_covers_what_decides_the_answer_and_ignores_key_order() {
        let m = model("http://a/v1");
        let hi = [Message::new("user", "hi")];
        let key =
            |model: &ResolvedModel, msgs: &[Message], p: Value, sample: u64, occurrence: u64| {
                cache_key(model, msgs, &params(p), sample, occurrence)
            };
        let base = key(&m, &hi, json!({"temperature": 0.2, "max_tokens": 5}), 0, 0);
        assert_eq!(base.len(), 64);
        assert_eq!(
            base,
            key(&m, &hi, json!({"max_tokens": 5, "temperature": 0.2}), 0, 0)
        );
        let differing = [
            key(&m, &hi, json!({"max_tokens": 5, "temperature": 0.3}), 0, 0),
            key(&m, &hi, json!({"temperature": 0.2, "max_tokens": 5}), 1, 0),
            key(&m, &hi, json!({"temperature": 0.2, "max_tokens": 5}), 0, 1),
            key(
                &model("http://b/v1"),
                &hi,
                json!({"temperature": 0.2, "max_tokens": 5}),
                0,
                0,
            ),
            key(
                &m,
                &[Message::new("user", "ho")],
                json!({"temperature": 0.2, "max_tokens": 5}),
                0,
                0,
            ),
        ];
        for other in differing {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn a_repeated_call_gets_its_occurrence_in_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("c.sqlite"), CacheMode::Record).unwrap();
        let m = model("http://a/v1");
        let hi = [Message::new("user", "hi")];
        let first = cache.key_for(&m, &hi, &Map::new(), 3);
        let second = cache.key_for(&m, &hi, &Map::new(), 3);
        assert_eq!(first.key, cache_key(&m, &hi, &Map::new(), 3, 0));
        assert_eq!(second.key, cache_key(&m, &hi, &Map::new(), 3, 1));
        assert_eq!(
            cache.key_for(&m, &hi, &Map::new(), 4).key,
            cache_key(&m, &hi, &Map::new(), 4, 0)
        );
        // The second call failed: made again, it takes the same key.
        cache.forget(&second);
        assert_eq!(cache.key_for(&m, &hi, &Map::new(), 3), second);
        // Forgetting an earlier occurrence while a later one is taken changes nothing.
        cache.forget(&first);
        assert_eq!(
            cache.key_for(&m, &hi, &Map::new(), 3).key,
            cache_key(&m, &hi, &Map::new(), 3, 2)
        );
    }

    #[tokio::test]
    async fn record_stores_and_replay_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".dbtest/llm-cache.sqlite");
        assert!(
            Cache::open(&path, CacheMode::Replay).is_err(),
            "replay needs a file"
        );
        let cache = Cache::open(&path, CacheMode::Record).unwrap();
        let reply = CachedReply {
            text: "hello".into(),
            usage: Usage {
                input_tokens: 3,
                output_tokens: 1,
            },
        };
        assert_eq!(cache.get("k").await.unwrap(), None);
        cache.put("k", &reply).await.unwrap();
        drop(cache);
        let replay = Cache::open(&path, CacheMode::Replay).unwrap();
        assert_eq!(replay.get("k").await.unwrap(), Some(reply.clone()));
        replay.put("other", &reply).await.unwrap();
        assert_eq!(
            replay.get("other").await.unwrap(),
            None,
            "replay never writes"
        );
        assert_eq!(Cache::off().get("k").await.unwrap(), None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_one_connection() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(&dir.path().join("c.sqlite"), CacheMode::Record).unwrap();
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    let reply = CachedReply {
                        text: i.to_string(),
                        usage: Usage::default(),
                    };
                    cache.put(&i.to_string(), &reply).await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        for i in 0..50 {
            assert_eq!(
                cache.get(&i.to_string()).await.unwrap().unwrap().text,
                i.to_string()
            );
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!("replay".parse::<CacheMode>(), Ok(CacheMode::Replay));
        assert!("recrd".parse::<CacheMode>().is_err());
    }
}
