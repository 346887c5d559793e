//! Tests read from source before any import (dbtest_discovery::static_tests), so that a
//! file is imported only when one of its tests will run: `--collect-only` and filters on
//! large trees import little or nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dbtest_core::pytest_config::PythonSettings as Settings;
use dbtest_runner::{Engine, FileError, FileJob};

/// Reads simple files' tests from their source (dbtest_discovery::static_tests) so that a
/// file is imported only when one of its tests will run: `--collect-only` and filters on
/// large trees import little or nothing. Everything else goes to the real engine.
pub struct StaticFirst<E> {
    pub inner: E,
    pub collect_only: bool,
    pub select: Arc<dyn Fn(&dbtest_core::TestCase) -> bool + Send + Sync>,
    /// The source reader knows pytest's default naming rules only.
    pub enabled: bool,
    /// The project root: where the conftests that apply to a file start.
    pub root: PathBuf,
    /// Whether each conftest read so far names `collect_ignore` (or `_glob`).
    pub ignores: Mutex<HashMap<PathBuf, bool>>,
}

impl<E> StaticFirst<E> {
    /// A conftest that applies to `file` may leave it out of the collection
    /// (`collect_ignore`), which only importing the conftest tells: such a file is not read
    /// from source.
    fn may_be_ignored(&self, file: &Path) -> bool {
        let mut known = self.ignores.lock().unwrap();
        dbtest_discovery::conftests_for(&self.root, file)
            .into_iter()
            .any(|conftest| {
                *known.entry(conftest).or_insert_with_key(|path| {
                    std::fs::read_to_string(path).is_ok_and(|text| text.contains("collect_ignore"))
                })
            })
    }
}

/// Whether reading tests from source gives what collection would: not when the project's
/// pytest configuration names tests its own way.
pub fn static_reading_holds(python: &Settings) -> bool {
    use dbtest_core::pytest_config::{DEFAULT_PYTHON_CLASSES, DEFAULT_PYTHON_FUNCTIONS};
    python.python_classes == DEFAULT_PYTHON_CLASSES
        && python.python_functions == DEFAULT_PYTHON_FUNCTIONS
        // A doctest is not in the reader's view.
        && !python.doctest_modules
}

fn static_cases(file: &FileJob) -> Option<Vec<dbtest_core::TestCase>> {
    // A text file of doctests (`--doctest-glob`) holds no Python to read.
    if file.path.extension().is_none_or(|ext| ext != "py") {
        return None;
    }
    let source = std::fs::read_to_string(&file.path).ok()?;
    let tests = dbtest_discovery::static_tests(&source)?;
    Some(
        tests
            .into_iter()
            .map(|t| dbtest_core::TestCase {
                id: dbtest_core::test_id(&file.rel, t.suite.as_deref(), &t.name, None),
                file: file.rel.clone(),
                line: t.line,
                name: t.name,
                suite: t.suite,
                params: None,
                tags: t.tags,
                skip: None,
                xfail: None,
                timeout_s: None,
                is_async: false,
                concurrent: false,
                retries: None,
                serial: None,
                exclusive: false,
                key: u64::MAX,
            })
            .collect(),
    )
}

impl<E: Engine> Engine for StaticFirst<E> {
    async fn collect(&self, file: FileJob) -> Result<Vec<dbtest_core::TestCase>, FileError> {
        let readable = self.enabled && !self.may_be_ignored(&file.path);
        if let Some(cases) = readable.then(|| static_cases(&file)).flatten() {
            if self.collect_only || !cases.iter().any(|c| (self.select)(c)) {
                return Ok(cases);
            }
        }
        self.inner.collect(file).await
    }
    async fn run(
        &self,
        case: dbtest_core::TestCase,
        timeout: Option<Duration>,
    ) -> dbtest_core::RawResult {
        self.inner.run(case, timeout).await
    }
    async fn run_pipeline(&self, pipeline: dbtest_runner::Pipeline) {
        self.inner.run_pipeline(pipeline).await
    }
    async fn partial_output(&self, case: &dbtest_core::TestCase) -> dbtest_runner::Partial {
        self.inner.partial_output(case).await
    }
    async fn arrange(
        &self,
        collected: Vec<(String, Vec<dbtest_core::TestCase>)>,
    ) -> Option<Vec<(String, Vec<dbtest_core::TestCase>)>> {
        // Files whose tests were read from source were never imported: the engine arranges
        // the others, and these (which run nothing) stay as they are, after them.
        let (imported, read): (Vec<_>, Vec<_>) = collected
            .into_iter()
            .partition(|(_, cases)| !cases.iter().any(|c| c.key == u64::MAX));
        if imported.is_empty() {
            return None;
        }
        let mut arranged = self.inner.arrange(imported).await?;
        arranged.extend(read);
        Some(arranged)
    }
    fn forget_file(&self, file: &FileJob) {
        self.inner.forget_file(file)
    }
    async fn finish_file(&self, file: FileJob) -> Vec<dbtest_core::TestResult> {
        self.inner.finish_file(file).await
    }
    async fn finish_session(&self) -> Vec<dbtest_core::TestResult> {
        self.inner.finish_session().await
    }
}

/// The engine of a run that found no test files: nothing to import, so no Python driver.
pub struct NoFiles;

impl Engine for NoFiles {
    async fn collect(&self, _: FileJob) -> Result<Vec<dbtest_core::TestCase>, FileError> {
        Ok(Vec::new())
    }
    async fn run(&self, _: dbtest_core::TestCase, _: Option<Duration>) -> dbtest_core::RawResult {
        unreachable!("a run without files runs no test")
    }
    async fn finish_file(&self, _: FileJob) -> Vec<dbtest_core::TestResult> {
        Vec::new()
    }
    async fn finish_session(&self) -> Vec<dbtest_core::TestResult> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_a_conftest_may_ignore_is_not_read_from_source() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tests/data")).unwrap();
        std::fs::write(
            dir.path().join("tests/data/test_x.py"),
            "def test_x():\n    pass\n",
        )
        .unwrap();
        let engine = || StaticFirst {
            inner: NoFiles,
            collect_only: true,
            select: Arc::new(|_| true),
            enabled: true,
            root: dir.path().to_path_buf(),
            ignores: Default::default(),
        };
        let job = FileJob {
            path: dir.path().join("tests/data/test_x.py"),
            rel: "tests/data/test_x.py".into(),
            exclusive: true,
        };
        assert_eq!(engine().collect(job.clone()).await.unwrap().len(), 1);
        std::fs::write(
            dir.path().join("tests/conftest.py"),
            "collect_ignore = [\"data\"]\n",
        )
        .unwrap();
        // The file goes to the engine (which collects nothing here), never read from source.
        assert!(engine().collect(job).await.unwrap().is_empty());
    }
}
