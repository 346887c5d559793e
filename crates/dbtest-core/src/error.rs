use std::path::PathBuf;

/// Errors that stop a command before or outside running tests. Each maps to an exit code
/// and carries a message that says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A usage or configuration error: exit code 4.
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A bug or an environment failure inside dbtest: exit code 3.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config { .. } => crate::ExitCode::Usage as i32,
            Error::Io { .. } | Error::Internal(_) => crate::ExitCode::Internal as i32,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a failure inside dbtest's own code while doing `context` reads, wherever it is kept
/// (on a test, a sample, a file or a benchmark) rather than lost.
pub fn internal_message(context: &str, err: impl std::fmt::Display) -> String {
    format!("dbtest internal error while {context}: {err}")
}
