//! The worker side of `dbtest unit --workers`: a worker process serves the parent's commands
//! (dbtest_runner::workers) with its in-process engine, one file at a time, and keeps its
//! session (its session-scoped fixtures) until it is told to exit.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use dbtest_core::Event;
use dbtest_discovery::Selector;
use dbtest_runner::protocol::{Command, Message};
use dbtest_runner::{CancellationToken, Engine, FileJob, Observer};
use tokio::io::AsyncBufReadExt;

use crate::plan::{run_options, selected, WorkerSetup};

/// Serves the parent's commands from this process's stdin until `exit` or end of input:
/// each file is run as an in-process run of one file would run it (the same settings,
/// filters and order), its events sent up as messages by `send`; then the session's
/// teardown.
pub async fn serve<E: Engine>(
    engine: Arc<E>,
    setup: WorkerSetup,
    send: impl Fn(&Message) + Clone + Send + Sync + 'static,
) {
    let selector = match Selector::new(
        setup.config.match_.as_deref().unwrap_or_default(),
        setup.config.tags.as_deref(),
        setup.id_prefixes.clone(),
    )
    .and_then(|s| s.with_keyword(setup.python.keyword.as_deref()))
    {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("dbtest worker: {e}");
            return;
        }
    };
    let last_failed: Option<Arc<HashSet<String>>> = setup
        .last_failed
        .clone()
        .map(|ids| Arc::new(ids.into_iter().collect()));
    send(&Message::Ready);
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let command: Command = match serde_json::from_str(&line) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("dbtest worker: unreadable command {line:?}: {e}");
                continue;
            }
        };
        match command {
            Command::File {
                path,
                rel,
                skip,
                exclusive,
                serial_locks,
            } => {
                let skip: HashSet<String> = skip.into_iter().collect();
                let (selector, last_failed) = (selector.clone(), last_failed.clone());
                let mut opts = run_options(&setup.config, setup.shuffle_seed, move |case| {
                    selected(&selector, last_failed.as_deref(), case) && !skip.contains(&case.id)
                });
                // The parent counts failures across workers and owns -x / --maxfail.
                opts.stop_after = None;
                opts.finish_session = false;
                opts.serial_locks = serial_locks;
                let sink = send.clone();
                let observer: Observer = Arc::new(Mutex::new(move |event: &Event| {
                    let message = match event {
                        Event::FileCollected { file, tests } => Message::Collected {
                            file: file.clone(),
                            tests: *tests,
                        },
                        Event::TestStarted { case, timeout_s } => Message::Started {
                            case: case.clone(),
                            timeout_s: *timeout_s,
                        },
                        Event::TestFinished(result) => Message::Finished {
                            result: result.clone(),
                        },
                        Event::RunStarted { .. } | Event::FileFinished { .. } => return,
                    };
                    sink(&message);
                }));
                let job = FileJob {
                    path,
                    rel: rel.clone(),
                    exclusive,
                };
                let out = dbtest_runner::run(
                    engine.clone(),
                    vec![job],
                    opts,
                    observer,
                    CancellationToken::new(),
                )
                .await;
                let done = Message::FileDone {
                    file: rel,
                    abandoned: out.abandoned,
                };
                send(&done);
            }
            Command::Exit => break,
        }
    }
    for result in engine.finish_session().await {
        send(&Message::Finished {
            result: Box::new(result),
        });
    }
}
