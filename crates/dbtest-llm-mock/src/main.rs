//! `dbtest-llm-mock [--port N] [SCRIPT.json]`: the mock server as a process, for
//! benchmarks and Python tests that need a model endpoint. Prints the OpenAI base URL on
//! its first line (so a caller started with port 0 can read the port), then serves until
//! interrupted.

use std::io::Write;

use dbtest_llm_mock::{MockConfig, MockServer};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "dbtest-llm-mock: {message}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut port = 0u16;
    let mut script = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let value = args.next().ok_or("--port needs a number")?;
                port = value
                    .parse()
                    .map_err(|_| format!("--port: not a port: {value}"))?;
            }
            "-h" | "--help" => {
                let _ = writeln!(
                    std::io::stdout(),
                    "usage: dbtest-llm-mock [--port N] [SCRIPT.json]"
                );
                return Ok(());
            }
            other if script.is_none() && !other.starts_with('-') => script = Some(other.to_owned()),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    let config: MockConfig = match &script {
        None => MockConfig::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?
        }
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let server = MockServer::start_on(config, port)
            .await
            .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{}", server.url());
        let _ = out.flush();
        let _ = tokio::signal::ctrl_c().await;
        server.shutdown().await;
        Ok(())
    })
}
