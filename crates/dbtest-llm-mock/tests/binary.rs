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

/// The server alone under the benchmark's load: 200 keep-alive connections, 50 requests
/// each, 20 ms latency (10,000 requests/s at best). A bare HTTP/1.1 client, so the number
/// is the server's, not a client library's. Ignored by default; it measures and asserts
/// only that every request was answered:
/// `cargo test --release -p dbtest-llm-mock --test binary -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a throughput measurement, run by hand"]
async fn server_throughput_with_keep_alive() {
    use dbtest_llm_mock::{MockConfig, MockServer};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

    let latency_ms = std::env::var("MOCK_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let server = MockServer::start(MockConfig {
        latency_ms,
        ..MockConfig::default()
    })
    .await
    .unwrap();
    let addr = server.addr();
    let body = r#"{"model": "m", "messages": [{"role": "user", "content": "hi"}]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let started = std::time::Instant::now();
    let clients: Vec<_> = (0..200)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let mut stream = tokio::io::BufReader::new(stream);
                for _ in 0..50 {
                    stream
                        .get_mut()
                        .write_all(request.as_bytes())
                        .await
                        .unwrap();
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        stream.read_line(&mut line).await.unwrap();
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut answer = vec![0; length];
                    stream.read_exact(&mut answer).await.unwrap();
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "10,000 requests in {secs:.2}s: {:.0} requests/s",
        10_000.0 / secs
    );
    assert_eq!(server.stats().by_status[&200], 10_000);
}
