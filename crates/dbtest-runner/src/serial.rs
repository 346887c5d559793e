//! `@dbtest.serial("resource")`: tests that name one resource never run at the same time, in
//! one process (a lock per name) and, with `--workers`, across the run's worker processes (an
//! `flock` on a file per name in a folder the parent made for the run). The name is the one
//! the test was collected with, so a resource named through a constant is honoured.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub(crate) struct SerialLocks {
    in_process: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Where the cross-process locks live; `None` in a run of one process.
    folder: Option<PathBuf>,
}

/// Holds a resource until dropped.
pub(crate) struct SerialTurn {
    _in_process: OwnedMutexGuard<()>,
    _across: Option<FileLock>,
}

impl SerialLocks {
    pub(crate) fn new(folder: Option<PathBuf>) -> Self {
        SerialLocks {
            in_process: Mutex::default(),
            folder,
        }
    }

    /// Waits for `resource`, without holding up the runtime: first among this process's
    /// tests, then among the processes.
    pub(crate) async fn take(&self, resource: &str) -> std::io::Result<SerialTurn> {
        let lock = self
            .in_process
            .lock()
            .unwrap()
            .entry(resource.to_string())
            .or_default()
            .clone();
        let in_process = lock.lock_owned().await;
        let across = match &self.folder {
            Some(folder) => {
                let path = lock_file(folder, resource);
                let taken = tokio::task::spawn_blocking(move || FileLock::take(&path))
                    .await
                    .map_err(std::io::Error::other)?;
                Some(taken?)
            }
            None => None,
        };
        Ok(SerialTurn {
            _in_process: in_process,
            _across: across,
        })
    }
}

/// The lock file of `resource`: a readable part of its name, and a hash of all of it (names
/// may hold any character).
pub fn lock_file(folder: &Path, resource: &str) -> PathBuf {
    let hash = resource.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let readable: String = resource
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(40)
        .collect();
    folder.join(format!("{readable}-{hash:016x}.lock"))
}

#[cfg(unix)]
struct FileLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

#[cfg(unix)]
impl FileLock {
    /// Blocks until this process holds `path`'s lock; the kernel lets go of it when the
    /// process ends, however it ends.
    fn take(path: &Path) -> std::io::Result<FileLock> {
        use nix::fcntl::{Flock, FlockArg};
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        loop {
            match Flock::lock(file, FlockArg::LockExclusive) {
                Ok(lock) => return Ok(FileLock(lock)),
                Err((f, nix::errno::Errno::EINTR)) => file = f,
                Err((_, e)) => return Err(e.into()),
            }
        }
    }
}

/// Worker processes need POSIX (see the README): a single process needs no file lock.
#[cfg(not(unix))]
struct FileLock;

#[cfg(not(unix))]
impl FileLock {
    fn take(_: &Path) -> std::io::Result<FileLock> {
        Ok(FileLock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_name_has_its_own_file_in_the_folder() {
        let folder = Path::new("/run/locks");
        assert_eq!(lock_file(folder, "db"), lock_file(folder, "db"));
        assert_ne!(lock_file(folder, "db"), lock_file(folder, "db "));
        assert_ne!(lock_file(folder, "a/b"), lock_file(folder, "ab"));
        assert_eq!(lock_file(folder, "../x").parent(), Some(folder));
        assert!(lock_file(folder, "../x")
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("x-"));
    }

    /// Two holders that take the lock through two open files, as two processes would: the
    /// second waits until the first lets go.
    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_holder_waits_for_the_first() {
        let folder =
            std::env::temp_dir().join(format!("dbtest-serial-test-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let (a, b) = (
            SerialLocks::new(Some(folder.clone())),
            SerialLocks::new(Some(folder.clone())),
        );
        let first = a.take("db").await.unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let log = events.clone();
        let second = tokio::spawn(async move {
            let turn = b.take("db").await.unwrap();
            log.lock().unwrap().push("second holds");
            drop(turn);
        });
        // However long the first holds it, the second does not get it before it is released.
        tokio::time::sleep(Duration::from_millis(200)).await;
        events.lock().unwrap().push("first lets go");
        drop(first);
        second.await.unwrap();
        assert_eq!(
            *events.lock().unwrap(),
            vec!["first lets go", "second holds"]
        );
        // Other names do not wait.
        let _db = a.take("db").await.unwrap();
        let _cache = a.take("cache").await.unwrap();
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
