//! What the binding drives for `experiment run` and `experiment verify` alike: a job that
//! samples (a run, or the verification of a spec), what its samples need from the caller
//! (the use case to load, the rows, the prompts to render, the LLM layer) and how it ends.

use std::sync::Arc;

use dbtest_core::{Error, ExitCode};
use dbtest_llm::{Llm, Message};
use dbtest_runner::CancellationToken;
use serde_json::{json, Value};

use crate::design::{Configuration, Design};
use crate::models::{ModelSide, PromptEngine};
use crate::project::{Project, UseCaseFile};
use crate::run::{self, PreparedRun, YamlText};
use crate::schedule::SampleEngine;
use crate::spec::{self, Verdict};
use crate::verify::{self, OpenedSpec, Verification};

pub enum Job {
    Run(Box<PreparedRun>),
    Verify(Box<OpenedSpec>),
}

/// How a job ended: a run's exit code, or a verification's verdict.
pub enum Finished {
    Exit(ExitCode),
    Verdict(Box<Verdict>),
}

impl Job {
    fn project(&self) -> &Project {
        match self {
            Job::Run(p) => &p.project,
            Job::Verify(o) => &o.project,
        }
    }

    /// The models side and design of a job whose samples will run.
    fn sampled(&self) -> Option<(&ModelSide, Option<&Design>)> {
        match self {
            Job::Run(p) => Some((&p.models, Some(&p.design))),
            Job::Verify(o) => match &o.verification {
                Verification::Ready { setup, .. } => Some((&setup.models, setup.design.as_ref())),
                Verification::Done(_) => None,
            },
        }
    }

    /// The Python use case the samples call; None when no sample will run or the design
    /// has no Python.
    pub fn use_case(&self) -> Option<&str> {
        match self {
            Job::Run(p) if p.design.llm.prompt.is_none() => Some(&p.design.use_case),
            Job::Run(_) => None,
            Job::Verify(o) => o.use_case(),
        }
    }

    /// The configurations sampled (a verification samples its spec's one).
    pub fn configs(&self) -> Vec<Configuration> {
        match self {
            Job::Run(p) => p.design.configurations(),
            Job::Verify(o) => o.config().cloned().into_iter().collect(),
        }
    }

    /// `(files naming the use case, all use-case files)`.
    pub fn use_case_files(&self) -> Result<(Vec<UseCaseFile>, Vec<UseCaseFile>), Error> {
        match self.use_case() {
            Some(u) => self.project().use_case_files(u),
            None => Ok((Vec::new(), Vec::new())),
        }
    }

    /// The LLM layer for `ctx.llm`; None when the design names no models.
    pub fn llm(&self) -> Option<Arc<Llm>> {
        self.sampled().and_then(|(models, _)| models.llm.clone())
    }

    /// The dataset's rows for `ctx.row`; None without a dataset.
    pub fn dataset_rows(&self) -> Option<&[Value]> {
        let (models, _) = self.sampled()?;
        models.dataset.as_ref().map(|d| d.rows.as_slice())
    }

    /// A design without Python: `{system, user, rows, configs, python_middleware}`, what the
    /// caller renders (Jinja2) into `prompts[config][row]` before any call, and whether a
    /// `python:` middleware needs Python's event loop (else the job can run without one,
    /// [`Job::execute_watching_ctrl_c`]); None for a design with a use case.
    pub fn prompt_inputs(&self) -> Option<Value> {
        let (models, design) = self.sampled()?;
        let prompt = design?.llm.prompt.as_ref()?;
        let configs: Vec<_> = self.configs().into_iter().map(|c| c.factors).collect();
        Some(json!({"system": prompt.system, "user": prompt.user,
                    "rows": models.rows(), "configs": configs,
                    "python_middleware": models.python_middleware}))
    }

    /// The engine of a design without Python over its rendered prompts.
    pub fn prompt_engine(&self, prompts: Vec<Vec<Vec<Message>>>) -> Result<PromptEngine, Error> {
        let no_prompt = || Error::Internal("this job has no prompt to send".into());
        match self {
            Job::Run(p) => run::prompt_engine(p, prompts),
            Job::Verify(o) => {
                let (models, design) = self.sampled().ok_or_else(no_prompt)?;
                let config = o.config().cloned().ok_or_else(no_prompt)?;
                PromptEngine::new(
                    models,
                    design.ok_or_else(no_prompt)?,
                    vec![config],
                    prompts,
                    run::random_seed(),
                )
            }
        }
    }

    /// [`Job::execute`] for a caller outside any event loop (a design without Python whose
    /// middleware is all Rust), which hands Ctrl-C to the engine: the first stops launching
    /// samples, with a notice; a second ends the process.
    pub async fn execute_watching_ctrl_c<E: SampleEngine>(
        self,
        engine: E,
        cancel: CancellationToken,
        yaml: &impl YamlText,
        progress: bool,
    ) -> Finished {
        let notice = "interrupted: finishing the calls in flight (Ctrl-C again to quit now)";
        let watcher = dbtest_runner::watch_ctrl_c(cancel.clone(), Some(notice));
        let finished = self.execute(Some(engine), cancel, yaml, progress).await;
        watcher.abort();
        finished
    }

    /// Samples with `engine` (None when the job runs no sample: a verification that ended
    /// before any) until the job ends. A run prints its summary and writes its folder.
    pub async fn execute<E: SampleEngine>(
        self,
        engine: Option<E>,
        cancel: CancellationToken,
        yaml: &impl YamlText,
        progress: bool,
    ) -> Finished {
        let missing = "dbtest internal error: the job needs a sample engine";
        match (self, engine) {
            (Job::Run(p), Some(engine)) => Finished::Exit(
                run::execute_run(engine, *p, cancel, yaml)
                    .await
                    .unwrap_or_else(|message| {
                        eprintln!("dbtest: {message}");
                        ExitCode::Internal
                    }),
            ),
            (Job::Run(_), None) => {
                eprintln!("{missing}");
                Finished::Exit(ExitCode::Internal)
            }
            (Job::Verify(o), engine) => {
                Finished::Verdict(Box::new(match (o.verification, engine) {
                    (Verification::Done(verdict), _) => *verdict,
                    (
                        Verification::Ready {
                            spec,
                            checked,
                            setup,
                        },
                        Some(engine),
                    ) => verify::execute(engine, &spec, &checked, &setup, cancel, progress).await,
                    (Verification::Ready { spec, .. }, None) => {
                        spec::inconclusive_without_samples(&spec.spec_id, "error", missing)
                    }
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use dbtest_llm::cache::CacheMode;
    use serde_json::json;

    use super::*;
    use crate::sample::RawSample;
    use crate::schedule::SampleRequest;

    struct Never;

    impl SampleEngine for Never {
        async fn sample(&self, _: SampleRequest) -> RawSample {
            unreachable!("no sample runs")
        }
    }

    struct Json;

    impl YamlText for Json {
        fn yaml(&self, value: &Value) -> Result<String, String> {
            Ok(value.to_string())
        }
    }

    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pyproject.toml"), "[tool.dbtest]\n").unwrap();
        dir
    }

    fn run_job(root: &std::path::Path, design: Value) -> Job {
        let p = run::prepare_run(
            design,
            "d.yaml",
            root,
            None,
            None,
            None,
            CacheMode::Off,
            &run::Host::without_python(),
        )
        .unwrap();
        Job::Run(Box::new(p))
    }

    #[test]
    fn a_run_of_a_use_case_loads_it_and_sends_no_prompt() {
        let dir = project();
        let job = run_job(
            dir.path(),
            json!({"experiment": "e", "use_case": "shop.search", "samples": 2,
                   "factors": {"model": ["small", "large"]}}),
        );
        assert_eq!(job.use_case(), Some("shop.search"));
        let ids: Vec<String> = job.configs().into_iter().map(|c| c.config_id).collect();
        assert_eq!(ids.len(), 2);
        assert!(job.prompt_inputs().is_none());
        assert!(job.llm().is_none() && job.dataset_rows().is_none());
        assert!(job.prompt_engine(Vec::new()).is_err());
    }

    #[test]
    fn a_design_without_python_gives_what_to_render() {
        let dir = project();
        std::fs::write(dir.path().join("rows.csv"), "text\nhello\nbye\n").unwrap();
        let job = run_job(
            dir.path(),
            json!({"experiment": "triage", "samples": 4, "dataset": {"path": "rows.csv"},
                   "models": {"m": {"provider": "openai", "model": "x",
                                    "base_url": "http://127.0.0.1:9/v1"}},
                   "prompt": {"system": "Be brief.", "user": "{{ row.text }}"},
                   "factors": {"model": ["m"], "temperature": [0.0]}}),
        );
        assert_eq!(job.use_case(), None);
        assert!(job.llm().is_some());
        assert_eq!(job.dataset_rows().map(<[Value]>::len), Some(2));
        let inputs = job.prompt_inputs().unwrap();
        assert_eq!(inputs["system"], "Be brief.");
        assert_eq!(inputs["user"], "{{ row.text }}");
        assert_eq!(inputs["rows"], json!([{"text": "hello"}, {"text": "bye"}]));
        assert_eq!(
            inputs["configs"],
            json!([{"model": "m", "temperature": 0.0}])
        );
        // One configuration, two rows: anything else is not what was asked to be rendered.
        let prompt = vec![Message::new("user", "hello".to_string())];
        assert!(job.prompt_engine(vec![vec![prompt.clone()]]).is_err());
        assert!(job
            .prompt_engine(vec![vec![prompt.clone(), prompt]])
            .is_ok());
    }

    #[tokio::test]
    async fn a_missing_spec_ends_inconclusive_without_a_sample() {
        let dir = project();
        let host = run::Host::without_python();
        let opened = verify::open(
            "shop.search:v1",
            dir.path(),
            None,
            |_| unreachable!("there is no file to read"),
            host.middleware,
        )
        .unwrap();
        let job = Job::Verify(Box::new(opened));
        assert_eq!(job.use_case(), None);
        assert!(job.configs().is_empty() && job.llm().is_none() && job.prompt_inputs().is_none());
        let Finished::Verdict(verdict) = job
            .execute(None::<Never>, CancellationToken::new(), &Json, false)
            .await
        else {
            panic!("a verification ends with a verdict");
        };
        assert_eq!(verdict.termination, "spec_missing");
        assert_eq!(verdict.samples_run, 0);
    }
}
