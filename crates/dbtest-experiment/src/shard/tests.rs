//! Shares and merge: which indices a share runs, what merge refuses, and that a merged
//! folder equals a single run's (with an engine whose latencies are fixed, every byte but
//! the time stamps, durations and the folder's name).

use std::path::Path;

use dbtest_llm::cache::CacheMode;
use dbtest_runner::CancellationToken;
use serde_json::{json, Value};

use super::*;
use crate::run::{execute_run, prepare_run, Host};
use crate::sample::RawSample;
use crate::schedule::{SampleEngine, SampleRequest};

#[test]
fn a_share_is_k_of_n() {
    let s: Shard = "2/3".parse().unwrap();
    assert_eq!(s, Shard { index: 2, count: 3 });
    assert_eq!(s.to_string(), "2/3");
    assert_eq!(serde_json::to_value(s).unwrap(), json!("2/3"));
    assert_eq!(serde_json::from_value::<Shard>(json!("2/3")).unwrap(), s);
    for bad in ["0/3", "4/3", "3", "a/b", "1/0", "-1/3", ""] {
        let e = bad.parse::<Shard>().unwrap_err();
        assert!(e.contains("give the share as K/N"), "{bad}: {e}");
    }
    assert!(serde_json::from_value::<Shard>(json!("5/3")).is_err());
    assert_eq!(s.describe(10), "indices 1, 4, 7");
    assert_eq!(s.describe(11), "indices 1, 4, 7, ...");
    assert_eq!(Shard { index: 3, count: 3 }.describe(4), "indices 2");
}

#[test]
fn the_shares_split_every_index_once() {
    for samples in [0u64, 1, 2, 5, 10, 11, 12, 100] {
        for count in 1..=5u64 {
            let mut seen = vec![0u32; samples as usize];
            for index in 1..=count {
                let s = Shard { index, count };
                let held: Vec<u64> = (0..samples).filter(|&i| s.holds(i)).collect();
                assert_eq!(held.len() as u64, s.planned(samples), "{s} of {samples}");
                assert!(held.iter().all(|i| i % count == index - 1));
                for i in held {
                    seen[i as usize] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{count} shares of {samples}");
        }
    }
}

fn design(extra: Value) -> Value {
    let mut v = json!({
        "experiment": "shop", "use_case": "u", "samples": 10, "seed": 99, "concurrency": 3,
        "factors": {"model": ["small", "large"]}, "success": "ok",
        "artifacts": [{"sink": "csv", "path": "results.csv"}, {"sink": "jsonl", "path": "results.jsonl"},
                      {"sink": "html", "path": "report.html"}],
    });
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

#[test]
fn a_share_needs_a_seed_and_no_stop_when() {
    let s: Shard = "1/2".parse().unwrap();
    let d = |extra: Value| Design::from_value("d.yaml", &design(extra)).unwrap();
    assert_eq!(s.check_design(&d(json!({})), "d.yaml"), Ok(()));
    let mut no_seed = design(json!({}));
    no_seed.as_object_mut().unwrap().remove("seed");
    let e = s
        .check_design(&Design::from_value("d.yaml", &no_seed).unwrap(), "d.yaml")
        .unwrap_err();
    assert!(
        e.starts_with("d.yaml: --shard 1/2 needs the design's `seed:`"),
        "{e}"
    );
    let e = s
        .check_design(&d(json!({"stop_when": {"ci_half_width": 0.1}})), "d.yaml")
        .unwrap_err();
    assert!(e.contains("cannot be used with `stop_when`"), "{e}");
}

/// A use case that answers from the sample's index and configuration alone, latency too.
struct Fixed;

impl SampleEngine for Fixed {
    async fn sample(&self, r: SampleRequest) -> RawSample {
        let ok = (r.index + r.config as u64) % 3 != 0;
        let mut raw =
            RawSample::returned(None, json!({"ok": ok, "seed": r.seed, "query": "=SUM(A1)"}));
        if !ok {
            raw.message = Some(format!("wrong answer {}", r.index % 2));
        }
        raw.latency_ms = 10.0 + (r.index * 7 % 13) as f64;
        raw.tokens = 3 + r.index;
        raw.cost_usd = 0.0001 * (r.index as f64 + 0.1);
        raw
    }
}

/// Baselines as JSON text (the YAML writer is Python's).
struct Json;

impl YamlText for Json {
    fn yaml(&self, value: &Value) -> Result<String, String> {
        serde_json::to_string_pretty(value).map_err(|e| e.to_string())
    }
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[tool.dbtest]\npaths = ['tests']\n",
    )
    .unwrap();
    dir
}

async fn run(root: &Path, design: &Value, out: &str, shard: Option<&str>) {
    let p = prepare_run(
        design.clone(),
        "d.yaml",
        root,
        Some(out),
        None,
        shard,
        CacheMode::Off,
        &Host::without_python(),
    )
    .unwrap();
    let code = execute_run(Fixed, p, CancellationToken::new(), &Json)
        .await
        .unwrap();
    assert_eq!(code, dbtest_core::ExitCode::Ok);
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A file's JSON without what measures time or names the folder.
fn timeless(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        for key in ["generated_at", "started_at", "duration_s", "run_dir"] {
            m.remove(key);
        }
    }
    v
}

fn sorted_log(path: &Path) -> Vec<Value> {
    let mut lines: Vec<Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|v| (v["config_id"].to_string(), v["index"].as_u64()));
    lines
}

/// SUMMARY.md and report.html without the run's line (folder, start, duration).
fn without_run_line(text: &str, run_dir: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("Run `") && !l.contains("started_at") && !l.contains(" s, seed"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(run_dir, "RUN")
}

#[tokio::test]
async fn three_shares_merged_equal_one_run() {
    let root = project();
    let root = root.path();
    let d = design(json!({}));
    for k in 1..=3 {
        run(root, &d, &format!("s{k}"), Some(&format!("{k}/3"))).await;
    }
    run(root, &d, "single", None).await;
    // Each share holds its own indices only, in both configurations.
    let s2 = Share::read(root, "s2").unwrap();
    assert_eq!(s2.summary.shard, Some("2/3".parse().unwrap()));
    let mut idx: Vec<u64> = s2.records.iter().map(|r| r.index).collect();
    idx.sort_unstable();
    assert_eq!(idx, [1, 1, 4, 4, 7, 7]);
    assert_eq!(read_json(&root.join("s2/run.json"))["shard"], json!("2/3"));
    assert!(std::fs::read_to_string(root.join("s2/SUMMARY.md"))
        .unwrap()
        .contains("This is share 2/3 of the samples"));

    // Given in any order.
    let dirs = ["s3", "s1", "s2"].map(String::from);
    let text = merge(root, &dirs, Some("merged"), &Json).unwrap();
    assert!(
        text.contains("merged 3 shares (s1, s2, s3) -> merged/: samples.jsonl (20 samples)"),
        "{text}"
    );
    assert!(text.contains("wrote artifacts: results.csv, results.jsonl, report.html"));
    let (m, s) = (root.join("merged"), root.join("single"));
    for id in ["model=small", "model=large"] {
        let file = format!("baselines/{id}.yaml");
        let (a, b) = (read_json(&m.join(&file)), read_json(&s.join(&file)));
        assert_eq!(timeless(a), timeless(b), "{file}");
    }
    let (a, b) = (
        read_json(&m.join("summary.json")),
        read_json(&s.join("summary.json")),
    );
    assert_eq!(a["run_dir"], json!("merged"));
    assert!(a.get("shard").is_none());
    assert_eq!(timeless(a), timeless(b));
    assert_eq!(
        sorted_log(&m.join("samples.jsonl")),
        sorted_log(&s.join("samples.jsonl"))
    );
    // The artifacts: byte for byte where they hold no time, else but for the run's line.
    for file in ["results.csv", "results.jsonl"] {
        assert_eq!(
            std::fs::read_to_string(m.join(file)).unwrap(),
            std::fs::read_to_string(s.join(file)).unwrap(),
            "{file}"
        );
    }
    let md = |dir: &Path, name: &str| {
        without_run_line(
            &std::fs::read_to_string(dir.join("SUMMARY.md")).unwrap(),
            name,
        )
    };
    assert_eq!(md(&m, "merged"), md(&s, "single"));
    let run_json = read_json(&m.join("run.json"));
    assert_eq!(run_json["seed"], json!(99));
    assert_eq!(
        run_json["merged_from"],
        json!([{"shard": "1/3", "run_dir": "s1"}, {"shard": "2/3", "run_dir": "s2"},
               {"shard": "3/3", "run_dir": "s3"}])
    );
    // `report` renders the merged folder's artifacts again, to the same bytes.
    let before = std::fs::read(m.join("results.csv")).unwrap();
    crate::artifacts::report(root, "merged").unwrap();
    assert_eq!(std::fs::read(m.join("results.csv")).unwrap(), before);
    // And --out refuses a folder that holds a run.
    let e = merge(root, &dirs, Some("merged"), &Json)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--out merged already holds a run"), "{e}");
}

#[tokio::test]
async fn merge_refuses_what_is_not_one_run() {
    let root = project();
    let root = root.path();
    let d = design(json!({"artifacts": []}));
    run(root, &d, "a1", Some("1/2")).await;
    run(root, &d, "a2", Some("2/2")).await;
    run(root, &d, "b1", Some("1/3")).await;
    run(
        root,
        &design(json!({"artifacts": [], "seed": 7})),
        "c2",
        Some("2/2"),
    )
    .await;
    run(
        root,
        &design(json!({"artifacts": [], "samples": 12})),
        "d2",
        Some("2/2"),
    )
    .await;
    run(root, &d, "whole", None).await;
    let err = |dirs: &[&str]| {
        let dirs: Vec<String> = dirs.iter().map(|d| d.to_string()).collect();
        merge(root, &dirs, Some("out"), &Json)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&["a1"]),
        "share 2/2 is missing: run it with `--shard`, then merge every share"
    );
    assert_eq!(
        err(&["a1", "a1"]),
        "share 1/2 is given more than once (a1, a1): shares must not overlap"
    );
    assert!(
        err(&["a1", "b1"]).contains("a1 is share 1/2 but b1 is share 1/3"),
        "{}",
        err(&["a1", "b1"])
    );
    assert!(err(&["a1", "c2"]).contains("different seeds"));
    let e = err(&["a1", "d2"]);
    assert!(
        e.contains("shares of different designs (`samples` differs)"),
        "{e}"
    );
    let e = err(&["a1", "whole"]);
    assert!(e.starts_with("whole is not a share"), "{e}");
    let e = err(&["a1", "nope"]);
    assert!(e.contains("nope: ") && e.contains("cannot be read"), "{e}");
    assert!(!root.join("out").exists());

    // A sample outside its share (a log edited or mixed up) is named.
    let mut bad = Share::read(root, "a2").unwrap();
    bad.records[0].index = 0;
    let e = join(vec![Share::read(root, "a1").unwrap(), bad]).unwrap_err();
    assert!(e.contains("a2/samples.jsonl holds sample 0 of"), "{e}");
    assert!(e.ends_with("which is not in share 2/2"), "{e}");

    // An interrupted share: resume it first.
    let mut cut = Share::read(root, "a2").unwrap();
    cut.summary.termination = Termination::Interrupted;
    let e = join(vec![Share::read(root, "a1").unwrap(), cut]).unwrap_err();
    assert!(
        e.starts_with("share 2/2 (a2) was interrupted: finish it with `dbtest experiment run d.yaml --resume a2`"),
        "{e}"
    );
    // The two shares merge.
    let j = join(vec![
        Share::read(root, "a2").unwrap(),
        Share::read(root, "a1").unwrap(),
    ])
    .unwrap();
    assert_eq!(j.states.iter().map(|s| s.records.len()).sum::<usize>(), 20);
    assert_eq!(j.stopped, None);
}

#[tokio::test]
async fn a_resumed_share_keeps_its_share() {
    let root = project();
    let root = root.path();
    let d = design(json!({"artifacts": []}));
    run(root, &d, "s1", Some("1/2")).await;
    let resume = |shard: Option<&str>| {
        prepare_run(
            d.clone(),
            "d.yaml",
            root,
            None,
            Some("s1"),
            shard,
            CacheMode::Off,
            &Host::without_python(),
        )
    };
    assert_eq!(resume(None).unwrap().shard, Some("1/2".parse().unwrap()));
    assert_eq!(
        resume(Some("1/2")).unwrap().shard,
        Some("1/2".parse().unwrap())
    );
    let e = resume(Some("2/2")).err().unwrap().to_string();
    assert!(
        e.contains("--resume s1 --shard 2/2: the run is share 1/2"),
        "{e}"
    );
    let mut no_seed = d.clone();
    no_seed.as_object_mut().unwrap().remove("seed");
    let e = prepare_run(
        no_seed,
        "d.yaml",
        root,
        None,
        None,
        Some("1/2"),
        CacheMode::Off,
        &Host::without_python(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("needs the design's `seed:`"), "{e}");
}
