//! A design's `artifacts:` list (DESIGN §9), checked as a whole before any sample runs:
//! every kind and key known, every path inside the run folder and written by one sink only,
//! every `consumes` naming a declared kind, no cycle, no sink cleared below the data, every
//! signing key present. The sinks come out in the order they must run.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::levels::SecurityLevel;
use dbtest_core::suggest::did_you_mean;

use crate::Error;

/// What a sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SinkKind {
    /// A row per sample, safe to open in a spreadsheet.
    Csv,
    /// A JSON line per sample.
    Jsonl,
    /// One self-contained page.
    Html,
    /// `manifest.json` (SHA-256 and size of each consumed file) and its HMAC, `.sig`.
    Signed,
    /// The consumed files in one archive.
    Zip,
}

impl SinkKind {
    pub const ALL: [SinkKind; 5] = [
        SinkKind::Csv,
        SinkKind::Jsonl,
        SinkKind::Html,
        SinkKind::Signed,
        SinkKind::Zip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Csv => "csv",
            SinkKind::Jsonl => "jsonl",
            SinkKind::Html => "html",
            SinkKind::Signed => "signed",
            SinkKind::Zip => "zip",
        }
    }

    /// Where the sink writes when the design gives no `path`.
    pub fn default_path(self) -> &'static str {
        match self {
            SinkKind::Csv => "results.csv",
            SinkKind::Jsonl => "results.jsonl",
            SinkKind::Html => "report.html",
            SinkKind::Signed => "manifest.json",
            SinkKind::Zip => "bundle.zip",
        }
    }

    /// Signed and zip sinks take other sinks' files; the others render the run's data.
    pub fn takes_files(self) -> bool {
        matches!(self, SinkKind::Signed | SinkKind::Zip)
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            SinkKind::Csv | SinkKind::Jsonl | SinkKind::Html => &["sink", "path", "security_level"],
            SinkKind::Signed => &["sink", "path", "security_level", "consumes", "key_env"],
            SinkKind::Zip => &["sink", "path", "security_level", "consumes"],
        }
    }
}

impl fmt::Display for SinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const ALL_KEYS: &[&str] = &["sink", "path", "security_level", "consumes", "key_env"];

/// What a signed or zip sink takes, as the design says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumes {
    /// Every other sink's files.
    All,
    /// The files of every other sink of these kinds.
    Kinds(Vec<SinkKind>),
}

/// One checked sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkSpec {
    /// Its place in the design's `artifacts` list, from 0: how messages and `inputs` name it.
    pub position: usize,
    pub kind: SinkKind,
    /// Relative to the run folder, `/`-separated, inside it.
    pub path: String,
    /// For signed and zip sinks.
    pub consumes: Option<Consumes>,
    /// The positions of the sinks whose files it takes, ascending.
    pub inputs: Vec<usize>,
    /// The most sensitive data it may hold.
    pub clearance: SecurityLevel,
    /// For a signed sink: the environment variable holding the key (never the key itself).
    pub key_env: Option<String>,
}

impl SinkSpec {
    /// `sink 4 (signed, manifest.json)`: numbered from 1 as a reader counts the list.
    pub fn name(&self) -> String {
        format!("sink {} ({}, {})", self.position + 1, self.kind, self.path)
    }

    /// Every file the sink writes, relative to the run folder.
    pub fn outputs(&self) -> Vec<String> {
        match self.kind {
            SinkKind::Signed => vec![self.path.clone(), format!("{}.sig", self.path)],
            _ => vec![self.path.clone()],
        }
    }
}

/// What the sinks are checked against.
#[derive(Debug, Clone, Copy)]
pub struct SinkContext<'a> {
    /// The design's own `security_level`: each sink's clearance unless it sets one. Not the
    /// data's level: a dataset raising the data's level must not clear sinks silently.
    pub experiment_level: SecurityLevel,
    /// The data's level (the experiment's raised by its dataset's): no sink below it.
    pub data_level: SecurityLevel,
    /// Files and folders (ending in `/`) of the run folder that a sink may not overwrite.
    pub reserved: &'a [&'a str],
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
        other => other.to_string(),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

fn parse_kind(text: &str, what: &str) -> Result<SinkKind, Error> {
    if let Some(kind) = SinkKind::ALL.into_iter().find(|k| k.as_str() == text) {
        return Ok(kind);
    }
    let names = SinkKind::ALL.map(SinkKind::as_str);
    let hint = did_you_mean(text, &names);
    Err(invalid(format!(
        "{what}: unknown sink kind {text:?}{hint}; the kinds: {}",
        names.join(", ")
    )))
}

/// A path the sink may write: relative, inside the run folder, not one of the run's own.
fn check_path(path: &str, at: &str, reserved: &[&str]) -> Result<String, Error> {
    let bad = |why: &str| {
        invalid(format!(
            "{at}: `path` {path:?} {why}; give a file name inside the run folder, e.g. results.csv"
        ))
    };
    if path.trim().is_empty() {
        return Err(bad("is empty"));
    }
    if path.starts_with('/') || path.starts_with('\\') || path.contains(':') {
        return Err(bad(
            "is absolute: artifacts are written inside the run folder",
        ));
    }
    let parts: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(bad("leaves the run folder"));
    }
    if parts.is_empty() || path.ends_with('/') {
        return Err(bad("names a folder, not a file"));
    }
    let clean = parts.join("/");
    for r in reserved {
        let taken = match r.strip_suffix('/') {
            Some(dir) => clean == dir || clean.starts_with(r),
            None => clean == *r,
        };
        if taken {
            return Err(bad(
                "is one of the run's own files, which a sink may not overwrite",
            ));
        }
    }
    Ok(clean)
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_one(position: usize, value: &Value, ctx: &SinkContext<'_>) -> Result<SinkSpec, Error> {
    let at = format!("`artifacts` item {}", position + 1);
    let Value::Object(map) = value else {
        return Err(invalid(format!(
            "{at} must be a mapping such as {{sink: csv, path: results.csv}}, got {}",
            describe(value)
        )));
    };
    let kind = match map.get("sink") {
        Some(Value::String(s)) => parse_kind(s, &at)?,
        Some(v) => {
            return Err(invalid(format!(
                "{at}: `sink` must be a kind ({}), got {}",
                SinkKind::ALL.map(SinkKind::as_str).join(", "),
                describe(v)
            )))
        }
        None => {
            return Err(invalid(format!(
                "{at} needs `sink`: one of {}",
                SinkKind::ALL.map(SinkKind::as_str).join(", ")
            )))
        }
    };
    check_keys(map, kind, &at)?;
    let path = match map.get("path") {
        None | Some(Value::Null) => kind.default_path().to_string(),
        Some(Value::String(p)) => check_path(p, &at, ctx.reserved)?,
        Some(v) => {
            return Err(invalid(format!(
                "{at}: `path` must be a file name, got {}",
                describe(v)
            )))
        }
    };
    let clearance = match map.get("security_level") {
        None | Some(Value::Null) => ctx.experiment_level,
        Some(Value::String(s)) => s
            .parse()
            .map_err(|e| invalid(format!("{at}: `security_level`: {e}")))?,
        Some(v) => {
            return Err(invalid(format!(
                "{at}: `security_level` must be a level name, got {}",
                describe(v)
            )))
        }
    };
    let consumes = if kind.takes_files() {
        Some(match map.get("consumes") {
            // Without `consumes` a bundle takes everything, as `all` says explicitly.
            None | Some(Value::Null) => Consumes::All,
            Some(Value::String(s)) if s == "all" => Consumes::All,
            Some(Value::String(s)) => Consumes::Kinds(vec![parse_kind(s, &format!("{at}: `consumes`"))?]),
            Some(Value::Array(items)) if !items.is_empty() => {
                let mut kinds = Vec::new();
                for item in items {
                    let Value::String(s) = item else {
                        return Err(invalid(format!(
                            "{at}: `consumes` lists sink kinds, got {}",
                            describe(item)
                        )));
                    };
                    let k = parse_kind(s, &format!("{at}: `consumes`"))?;
                    if !kinds.contains(&k) {
                        kinds.push(k);
                    }
                }
                Consumes::Kinds(kinds)
            }
            Some(v) => {
                return Err(invalid(format!(
                    "{at}: `consumes` must be `all` or a list of sink kinds such as [csv, html], got {}",
                    describe(v)
                )))
            }
        })
    } else {
        None
    };
    let key_env = match (kind, map.get("key_env")) {
        (SinkKind::Signed, Some(Value::String(name))) if is_env_name(name) => Some(name.clone()),
        (SinkKind::Signed, None | Some(Value::Null)) => {
            return Err(invalid(format!(
                "{at}: a signed sink needs `key_env`: the environment variable that holds the \
                 signing key, e.g. key_env: DBTEST_SIGNING_KEY"
            )))
        }
        (SinkKind::Signed, Some(v)) => {
            return Err(invalid(format!(
                "{at}: `key_env` must name an environment variable (letters, digits, `_`), got {}",
                describe(v)
            )))
        }
        _ => None,
    };
    Ok(SinkSpec {
        position,
        kind,
        path,
        consumes,
        inputs: Vec::new(),
        clearance,
        key_env,
    })
}

fn check_keys(map: &Map<String, Value>, kind: SinkKind, at: &str) -> Result<(), Error> {
    let allowed = kind.keys();
    for key in map.keys() {
        if allowed.contains(&key.as_str()) {
            continue;
        }
        if ALL_KEYS.contains(&key.as_str()) {
            let owners: Vec<&str> = SinkKind::ALL
                .into_iter()
                .filter(|k| k.keys().contains(&key.as_str()))
                .map(SinkKind::as_str)
                .collect();
            return Err(invalid(format!(
                "{at}: `{key}` is for {} sinks, not {kind}",
                owners.join(" and ")
            )));
        }
        let hint = did_you_mean(key, allowed);
        return Err(invalid(format!(
            "{at}: unknown key `{key}`{hint}; a {kind} sink takes: {}",
            allowed.join(", ")
        )));
    }
    Ok(())
}

/// Checks the design's `artifacts` (the YAML as JSON; absent means none) and returns the
/// sinks in the order they run: each after the sinks it consumes, otherwise as declared.
pub fn parse_sinks(value: Option<&Value>, ctx: &SinkContext<'_>) -> Result<Vec<SinkSpec>, Error> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(v) => {
            return Err(invalid(format!(
            "`artifacts` must be a list of sinks, e.g. [{{sink: csv, path: results.csv}}], got {}",
            describe(v)
        )))
        }
    };
    let mut sinks = items
        .iter()
        .enumerate()
        .map(|(i, v)| parse_one(i, v, ctx))
        .collect::<Result<Vec<_>, _>>()?;
    let mut written: Vec<(String, usize)> = Vec::new();
    for s in &sinks {
        for out in s.outputs() {
            if let Some((_, other)) = written.iter().find(|(p, _)| *p == out) {
                return Err(invalid(format!(
                    "{} and {} both write {out}; give one of them another `path`",
                    sinks[*other].name(),
                    s.name()
                )));
            }
            written.push((out, s.position));
        }
    }
    resolve_inputs(&mut sinks)?;
    check_manifest_folders(&sinks)?;
    let order = run_order(&sinks)?;
    for s in &sinks {
        if s.clearance < ctx.data_level {
            return Err(Error::WriteDown {
                sink: s.name(),
                clearance: s.clearance,
                data: ctx.data_level,
            });
        }
    }
    let mut by_position: Vec<Option<SinkSpec>> = sinks.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .filter_map(|i| by_position[i].take())
        .collect())
}

/// Turns each `consumes` into the positions of the sinks it takes.
fn resolve_inputs(sinks: &mut [SinkSpec]) -> Result<(), Error> {
    let kinds: Vec<(usize, SinkKind)> = sinks.iter().map(|s| (s.position, s.kind)).collect();
    for s in sinks.iter_mut() {
        let Some(consumes) = &s.consumes else {
            continue;
        };
        let others = kinds.iter().filter(|(p, _)| *p != s.position);
        s.inputs = match consumes {
            Consumes::All => others.map(|(p, _)| *p).collect(),
            Consumes::Kinds(wanted) => {
                for k in wanted {
                    if !kinds.iter().any(|(p, kind)| kind == k && *p != s.position) {
                        let declared: BTreeSet<&str> =
                            kinds.iter().map(|(_, k)| k.as_str()).collect();
                        return Err(invalid(format!(
                            "{} consumes `{k}`, but the design declares no {}{k} sink; declared: {}",
                            s.name(),
                            if s.kind == *k { "other " } else { "" },
                            declared.into_iter().collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
                others
                    .filter(|(_, kind)| wanted.contains(kind))
                    .map(|(p, _)| *p)
                    .collect()
            }
        };
    }
    Ok(())
}

/// A manifest lists files relative to its own folder, so a signed sink in a subfolder may
/// only sign files inside that subfolder (a bundle is checked as one folder).
fn check_manifest_folders(sinks: &[SinkSpec]) -> Result<(), Error> {
    for s in sinks.iter().filter(|s| s.kind == SinkKind::Signed) {
        let Some(cut) = s.path.rfind('/') else {
            continue;
        };
        let folder = &s.path[..=cut];
        for &i in &s.inputs {
            if let Some(out) = sinks[i]
                .outputs()
                .into_iter()
                .find(|o| !o.starts_with(folder))
            {
                return Err(invalid(format!(
                    "{} signs {out}, which is outside its folder {folder}: a manifest lists \
                     files of its own folder; put the manifest at the top of the run folder \
                     or the file under {folder}",
                    s.name()
                )));
            }
        }
    }
    Ok(())
}

/// Kahn's algorithm taking the lowest position that is ready, so the order is the
/// declaration order wherever `consumes` leaves a choice.
fn run_order(sinks: &[SinkSpec]) -> Result<Vec<usize>, Error> {
    let mut done: Vec<bool> = vec![false; sinks.len()];
    let mut order = Vec::with_capacity(sinks.len());
    while order.len() < sinks.len() {
        let ready = sinks
            .iter()
            .find(|s| !done[s.position] && s.inputs.iter().all(|&i| done[i]));
        match ready {
            Some(s) => {
                done[s.position] = true;
                order.push(s.position);
            }
            None => return Err(cycle_error(sinks, &done)),
        }
    }
    Ok(order)
}

/// Names one cycle among the sinks not yet ordered: each of them waits on another of them,
/// so following those waits from any of them must come back to a sink already seen.
fn cycle_error(sinks: &[SinkSpec], done: &[bool]) -> Error {
    let start = done.iter().position(|d| !d).unwrap_or(0);
    let mut path = vec![start];
    loop {
        let last = *path.last().unwrap_or(&start);
        let Some(&next) = sinks[last].inputs.iter().find(|&&i| !done[i]) else {
            break;
        };
        if let Some(at) = path.iter().position(|&p| p == next) {
            path.drain(..at);
            path.push(next);
            break;
        }
        path.push(next);
    }
    let steps: Vec<String> = path.iter().map(|&p| sinks[p].name()).collect();
    invalid(format!(
        "the artifacts form a cycle: {}; list in `consumes` the kinds each takes so that one \
         of them comes first",
        steps.join(" consumes ")
    ))
}

/// Refuses, before any sample runs, a signed sink whose key is not in the environment:
/// `env` looks a variable up (`std::env::var` in a run; a map in tests).
pub fn check_signing_keys(
    sinks: &[SinkSpec],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    for s in sinks {
        if let Some(name) = &s.key_env {
            if env(name).is_none_or(|k| k.is_empty()) {
                return Err(Error::MissingKey {
                    sink: s.name(),
                    key_env: name.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use SecurityLevel::*;

    const RESERVED: &[&str] = &["samples.jsonl", "run.json", "baselines/"];

    fn ctx(experiment: SecurityLevel, data: SecurityLevel) -> SinkContext<'static> {
        SinkContext {
            experiment_level: experiment,
            data_level: data,
            reserved: RESERVED,
        }
    }

    fn parse(v: Value) -> Result<Vec<SinkSpec>, Error> {
        parse_sinks(Some(&v), &ctx(Official, Official))
    }

    fn err(v: Value) -> String {
        parse(v).unwrap_err().to_string()
    }

    #[test]
    fn the_design_example_in_dependency_order() {
        let sinks = parse(json!([
            {"sink": "zip", "path": "bundle.zip", "consumes": "all", "security_level": "official"},
            {"sink": "csv", "path": "results.csv"},
            {"sink": "jsonl"},
            {"sink": "html", "path": "report.html"},
            {"sink": "signed", "key_env": "DBTEST_SIGNING_KEY", "consumes": ["csv", "html"]},
        ]))
        .unwrap();
        let order: Vec<(usize, SinkKind)> = sinks.iter().map(|s| (s.position, s.kind)).collect();
        assert_eq!(
            order,
            [
                (1, SinkKind::Csv),
                (2, SinkKind::Jsonl),
                (3, SinkKind::Html),
                (4, SinkKind::Signed),
                (0, SinkKind::Zip),
            ]
        );
        let zip = &sinks[4];
        assert_eq!(zip.inputs, [1, 2, 3, 4]);
        assert_eq!(zip.consumes, Some(Consumes::All));
        let signed = &sinks[3];
        assert_eq!(signed.inputs, [1, 3]);
        assert_eq!(signed.path, "manifest.json");
        assert_eq!(signed.outputs(), ["manifest.json", "manifest.json.sig"]);
        assert_eq!(signed.key_env.as_deref(), Some("DBTEST_SIGNING_KEY"));
        assert_eq!(sinks[1].path, "results.jsonl");
        assert!(sinks.iter().all(|s| s.clearance == Official));
        assert_eq!(signed.name(), "sink 5 (signed, manifest.json)");
    }

    #[test]
    fn no_artifacts_is_no_sinks() {
        assert_eq!(parse_sinks(None, &ctx(Official, Secret)).unwrap(), []);
        assert_eq!(parse(json!([])).unwrap(), []);
        assert!(err(json!({"sink": "csv"})).contains("must be a list of sinks"));
    }

    #[test]
    fn unknown_kinds_and_keys_are_refused_with_a_hint() {
        assert_eq!(
            err(json!([{"sink": "cvs"}])),
            "`artifacts` item 1: unknown sink kind \"cvs\" (did you mean `csv`?); the kinds: \
             csv, jsonl, html, signed, zip"
        );
        assert_eq!(
            err(json!([{"sink": "csv", "pth": "x.csv"}])),
            "`artifacts` item 1: unknown key `pth` (did you mean `path`?); a csv sink takes: \
             sink, path, security_level"
        );
        assert_eq!(
            err(json!([{"sink": "csv", "consumes": "all"}])),
            "`artifacts` item 1: `consumes` is for signed and zip sinks, not csv"
        );
        assert!(err(json!([{"path": "x"}])).contains("needs `sink`"));
        assert!(err(json!(["csv"])).contains("must be a mapping"));
        assert!(
            err(json!([{"sink": "zip", "consumes": ["csv", "htm"]}, {"sink": "csv"}]))
                .contains("`consumes`: unknown sink kind \"htm\" (did you mean `html`?)")
        );
        assert!(err(json!([{"sink": "zip", "consumes": 3}])).contains("must be `all` or a list"));
    }

    #[test]
    fn consuming_an_undeclared_kind_is_refused() {
        assert_eq!(
            err(json!([{"sink": "csv"}, {"sink": "zip", "consumes": ["csv", "html"]}])),
            "sink 2 (zip, bundle.zip) consumes `html`, but the design declares no html sink; \
             declared: csv, zip"
        );
        assert!(
            err(json!([{"sink": "zip", "consumes": "zip"}])).contains("declares no other zip sink")
        );
    }

    #[test]
    fn a_cycle_is_refused_naming_it() {
        let text = err(json!([
            {"sink": "csv"},
            {"sink": "signed", "key_env": "K", "consumes": "all"},
            {"sink": "zip", "consumes": ["signed"]},
        ]));
        assert_eq!(
            text,
            "the artifacts form a cycle: sink 2 (signed, manifest.json) consumes sink 3 (zip, \
             bundle.zip) consumes sink 2 (signed, manifest.json); list in `consumes` the kinds \
             each takes so that one of them comes first"
        );
    }

    #[test]
    fn a_sink_below_the_data_is_refused_naming_both_levels() {
        let v = json!([{"sink": "csv"}, {"sink": "zip", "security_level": "protected"}]);
        // The dataset raised the data to protected: the csv sink keeps the experiment's
        // clearance (official) and may not hold it.
        let e = parse_sinks(Some(&v), &ctx(Official, Protected)).unwrap_err();
        assert!(
            matches!(&e, Error::WriteDown { sink, clearance: Official, data: Protected }
                if sink == "sink 1 (csv, results.csv)"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "sink 1 (csv, results.csv) is cleared for official, but the data is protected: \
             no artifact may be written below the data's level; raise the sink's \
             `security_level` to protected or higher, or remove it"
        );
        let ok = json!([{"sink": "csv", "security_level": "secret"}]);
        assert_eq!(
            parse_sinks(Some(&ok), &ctx(Official, Protected)).unwrap()[0].clearance,
            Secret
        );
        assert!(err(json!([{"sink": "csv", "security_level": "topsecret"}]))
            .contains("`security_level`: unknown security level \"topsecret\""));
    }

    #[test]
    fn paths_stay_inside_the_run_folder() {
        for (path, why) in [
            ("/tmp/x.csv", "is absolute"),
            ("../x.csv", "leaves the run folder"),
            ("a/../../x.csv", "leaves the run folder"),
            ("", "is empty"),
            ("out/", "names a folder"),
            ("samples.jsonl", "one of the run's own files"),
            ("baselines/x.yaml", "one of the run's own files"),
            ("C:x.csv", "is absolute"),
        ] {
            let text = err(json!([{"sink": "csv", "path": path}]));
            assert!(text.contains(why), "{path}: {text}");
        }
        let sinks = parse(json!([{"sink": "csv", "path": "./out//r.csv"}])).unwrap();
        assert_eq!(sinks[0].path, "out/r.csv");
        assert_eq!(
            err(json!([{"sink": "csv", "path": "r.csv"}, {"sink": "jsonl", "path": "r.csv"}])),
            "sink 1 (csv, r.csv) and sink 2 (jsonl, r.csv) both write r.csv; give one of them \
             another `path`"
        );
        assert!(err(json!([
            {"sink": "csv", "path": "m.json.sig"},
            {"sink": "signed", "path": "m.json", "key_env": "K"},
        ]))
        .contains("both write m.json.sig"));
    }

    #[test]
    fn a_manifest_signs_only_its_own_folder() {
        let v = json!([
            {"sink": "csv", "path": "audit/r.csv"},
            {"sink": "html"},
            {"sink": "signed", "path": "audit/manifest.json", "key_env": "K", "consumes": ["csv"]},
        ]);
        assert!(parse(v).is_ok());
        assert!(err(json!([
            {"sink": "html"},
            {"sink": "signed", "path": "audit/manifest.json", "key_env": "K"},
        ]))
        .contains("signs report.html, which is outside its folder audit/"));
    }

    #[test]
    fn signing_keys_are_checked_up_front() {
        assert!(err(json!([{"sink": "signed"}])).contains("needs `key_env`"));
        assert!(err(json!([{"sink": "signed", "key_env": "NOT A NAME"}]))
            .contains("must name an environment variable"));
        let sinks =
            parse(json!([{"sink": "csv"}, {"sink": "signed", "key_env": "SIGN_KEY"}])).unwrap();
        let none = |_: &str| None;
        let e = check_signing_keys(&sinks, &none).unwrap_err();
        assert!(matches!(e, Error::MissingKey { .. }));
        assert_eq!(
            e.to_string(),
            "sink 2 (signed, manifest.json) signs with the key in the environment variable \
             SIGN_KEY, which is not set (or is empty); set it before the run"
        );
        let empty = |_: &str| Some(String::new());
        assert!(check_signing_keys(&sinks, &empty).is_err());
        let set = |n: &str| (n == "SIGN_KEY").then(|| "k".to_string());
        assert!(check_signing_keys(&sinks, &set).is_ok());
    }
}
