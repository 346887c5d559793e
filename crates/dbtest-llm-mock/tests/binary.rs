//! The `dbtest-llm-mock` process: reads a JSON script, prints its URL, serves.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

#[test]
fn serves_a_script_and_prints_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.json");
    std::fs::write(&script, r#"{"rules": [{"reply": "scripted"}]}"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dbtest-llm-mock"))
        .arg(&script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first.trim().to_owned();
    let addr = url
        .strip_prefix("http://")
        .and_then(|u| u.strip_suffix("/v1"))
        .expect("an OpenAI base URL");

    let body = r#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("scripted"), "{answer}");
}

#[test]
fn a_bad_script_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.json");
    std::fs::write(&script, r#"{"latncy_ms": 1}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dbtest-llm-mock"))
        .arg(&script)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field `latncy_ms`"));
}
