//! Where an experiment's files are: the project's root and `[tool.dbtest.experiment]`, its
//! use-case files, specs and run folders.

use std::path::{Path, PathBuf};

use dbtest_core::config::{
    find_dbtest_project, ExperimentConfig, DEFAULT_EXPERIMENTS_DIR, DEFAULT_SPECS_DIR,
    DEFAULT_USECASE_PATTERN,
};
use dbtest_core::Error;
use dbtest_discovery::{dbtest_norecurse, discover_from, import_target, Pattern};

/// A use-case file, as Python imports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UseCaseFile {
    pub path: String,
    /// The folder to put on `sys.path` (pytest's rootdir-relative import rules).
    pub sys_path_entry: String,
    pub module: String,
}

/// The project's root and `[tool.dbtest.experiment]`.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: ExperimentConfig,
}

impl Project {
    pub fn find(cwd: &Path) -> Result<Project, Error> {
        let (root, file) = find_dbtest_project(cwd)?;
        let config = file.and_then(|(_, c)| c.experiment).unwrap_or_default();
        if config
            .pattern
            .as_deref()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err(Error::Usage(
                "[tool.dbtest.experiment] `pattern` must not be empty (the default is usecase_*.py)"
                    .into(),
            ));
        }
        Ok(Project { root, config })
    }

    pub fn specs_dir(&self) -> PathBuf {
        self.root.join(
            self.config
                .specs_dir
                .as_deref()
                .unwrap_or(DEFAULT_SPECS_DIR),
        )
    }

    pub fn out_dir(&self) -> PathBuf {
        self.root.join(
            self.config
                .out
                .as_deref()
                .unwrap_or(DEFAULT_EXPERIMENTS_DIR),
        )
    }

    /// Use-case files: those whose text names `use_case` first (only they are imported,
    /// unless none defines it), then all of them.
    pub fn use_case_files(
        &self,
        use_case: &str,
    ) -> Result<(Vec<UseCaseFile>, Vec<UseCaseFile>), Error> {
        let paths =
            dbtest_discovery::search_paths(&self.root, None, self.config.paths.as_deref(), None);
        let pattern = self
            .config
            .pattern
            .as_deref()
            .unwrap_or(DEFAULT_USECASE_PATTERN);
        let found = discover_from(
            &self.root,
            &self.root,
            &paths,
            &[Pattern::Glob(pattern.to_owned())],
            &dbtest_norecurse(),
        )
        .map_err(|e| Error::Usage(format!("[tool.dbtest.experiment] paths: {e}")))?;
        let mut named = Vec::new();
        let mut all = Vec::new();
        for path in found.files {
            let target = import_target(&path);
            let file = UseCaseFile {
                path: path.display().to_string(),
                sys_path_entry: target.sys_path_entry.display().to_string(),
                module: target.module,
            };
            if std::fs::read(&path)
                .map(|bytes| contains(&bytes, use_case.as_bytes()))
                .unwrap_or(false)
            {
                named.push(file.clone());
            }
            all.push(file);
        }
        Ok((named, all))
    }

    /// `path` relative to the root when it is inside it, with `/` separators.
    pub fn relative(&self, path: &Path) -> String {
        match path.strip_prefix(&self.root) {
            Ok(rel) => rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
            Err(_) => path.display().to_string(),
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// `p` against `cwd` unless it is absolute.
pub fn absolute(cwd: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(root: &Path) -> Project {
        std::fs::write(
            root.join("pyproject.toml"),
            "[tool.dbtest.experiment]\nspecs_dir = \"s\"\n",
        )
        .unwrap();
        Project::find(root).unwrap()
    }

    #[test]
    fn folders_come_from_the_settings_or_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        assert_eq!(p.specs_dir(), p.root.join("s"));
        assert_eq!(p.out_dir(), p.root.join("experiments"));
        assert_eq!(p.relative(&p.root.join("a").join("b.txt")), "a/b.txt");
        assert_eq!(p.relative(Path::new("/elsewhere/x")), "/elsewhere/x");
    }

    #[test]
    fn files_naming_the_use_case_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = project(dir.path());
        std::fs::write(dir.path().join("usecase_a.py"), "USE = 'summarize'\n").unwrap();
        std::fs::write(dir.path().join("usecase_b.py"), "x = 1\n").unwrap();
        let (named, all) = p.use_case_files("summarize").unwrap();
        assert_eq!(named.len(), 1);
        assert!(named[0].path.ends_with("usecase_a.py"));
        assert_eq!(named[0].module, "usecase_a");
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn an_empty_pattern_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[tool.dbtest.experiment]\npattern = \" \"\n",
        )
        .unwrap();
        let err = Project::find(dir.path()).unwrap_err().to_string();
        assert!(err.contains("`pattern` must not be empty"), "{err}");
    }
}
