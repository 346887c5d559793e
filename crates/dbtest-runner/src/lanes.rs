//! Which thread runs what, for an engine whose tests need threads of their own (Python's:
//! a sync test blocks its thread). A *lane* is such a thread; the engine makes them, this
//! decides which lane serves which file, and when imports take turns.

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// A lane as the engine made it: a handle with an identity.
pub trait Lane: Clone {
    fn id(&self) -> u64;
}

/// The lanes of a run: one for each file in progress, and idle ones kept for the next files
/// (a thread and its interpreter state cost more to make than a trivial file takes to run).
/// Exclusive files (written for pytest or unittest) all share one lane, the main lane: pytest
/// runs every test on one thread, so an object bound to its thread (a `sqlite3` connection
/// made by a session fixture) works in every test, as it does under pytest.
pub struct Lanes<L> {
    by_file: HashMap<String, L>,
    idle: Vec<L>,
    main: Option<L>,
    exclusive: HashSet<String>,
}

impl<L> Default for Lanes<L> {
    fn default() -> Self {
        Lanes {
            by_file: HashMap::new(),
            idle: Vec::new(),
            main: None,
            exclusive: HashSet::new(),
        }
    }
}

impl<L: Lane> Lanes<L> {
    /// The file runs alone, on the main lane (say so before its first job).
    pub fn mark_exclusive(&mut self, file: &str) {
        self.exclusive.insert(file.to_owned());
    }

    /// The file's lane, made with `start` when no idle one is left.
    pub fn for_file(&mut self, file: &str, start: impl FnOnce() -> L) -> &L {
        if !self.by_file.contains_key(file) {
            let lane = if self.exclusive.contains(file) {
                self.main.get_or_insert_with(start).clone()
            } else {
                self.idle.pop().unwrap_or_else(start)
            };
            self.by_file.insert(file.to_string(), lane);
        }
        &self.by_file[file]
    }

    /// The lane the file is on, if it has one.
    pub fn of_file(&self, file: &str) -> Option<&L> {
        self.by_file.get(file)
    }

    /// The lane of exclusive files, if one was made.
    pub fn main(&self) -> Option<&L> {
        self.main.as_ref()
    }

    fn is_main(&self, lane: &L) -> bool {
        self.main.as_ref().is_some_and(|m| m.id() == lane.id())
    }

    /// The file is done with its lane: the lane waits for another file.
    pub fn release(&mut self, file: &str) {
        self.exclusive.remove(file);
        if let Some(lane) = self.by_file.remove(file) {
            if !self.is_main(&lane) {
                self.idle.push(lane);
            }
        }
    }

    /// The lane's thread is stuck in a test the runner gave up on: it is never used again.
    pub fn abandon(&mut self, file: &str, lane: u64) {
        if self.by_file.get(file).is_some_and(|l| l.id() == lane) {
            self.by_file.remove(file);
        }
        if self.main.as_ref().is_some_and(|m| m.id() == lane) {
            self.main = None;
        }
    }
}

/// Files are imported one at a time. An import holds the interpreter except in its file
/// system calls, so imports on parallel lanes gain nothing and hand the lock back and forth
/// at every one of those calls (measured on 1,000 files: three times the context switches, a
/// quarter more time). An import that takes longer than the patience (it waits on something,
/// or never returns) stops holding the others up: they go ahead beside it.
pub struct ImportTurn {
    /// When the import that has the turn began.
    holder: Mutex<Option<Instant>>,
    freed: Condvar,
    patience: Duration,
}

pub const IMPORT_PATIENCE: Duration = Duration::from_secs(2);

impl Default for ImportTurn {
    fn default() -> Self {
        ImportTurn::new(IMPORT_PATIENCE)
    }
}

impl ImportTurn {
    pub fn new(patience: Duration) -> Self {
        ImportTurn {
            holder: Mutex::new(None),
            freed: Condvar::new(),
            patience,
        }
    }

    /// Blocks until the turn is free, or the import holding it has taken the patience.
    /// Call it without the interpreter's lock.
    pub fn take(&self) -> ImportGuard<'_> {
        let mut holder = self.holder.lock().unwrap();
        let mine = loop {
            match *holder {
                None => {
                    *holder = Some(Instant::now());
                    break true;
                }
                Some(since) if since.elapsed() >= self.patience => break false,
                Some(since) => {
                    let left = self.patience.saturating_sub(since.elapsed());
                    holder = self.freed.wait_timeout(holder, left).unwrap().0;
                }
            }
        };
        ImportGuard { turn: self, mine }
    }
}

pub struct ImportGuard<'a> {
    turn: &'a ImportTurn,
    /// False for an import that went ahead beside a slow one.
    mine: bool,
}

impl Drop for ImportGuard<'_> {
    fn drop(&mut self) {
        if self.mine {
            *self.turn.holder.lock().unwrap() = None;
            self.turn.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Debug, PartialEq)]
    struct Fake(u64);

    impl Lane for Fake {
        fn id(&self) -> u64 {
            self.0
        }
    }

    fn counter() -> impl FnMut() -> Fake {
        let mut next = 0;
        move || {
            next += 1;
            Fake(next)
        }
    }

    #[test]
    fn a_released_lane_serves_the_next_file() {
        let mut lanes = Lanes::default();
        let mut start = counter();
        assert_eq!(lanes.for_file("a.py", &mut start).id(), 1);
        assert_eq!(lanes.for_file("b.py", &mut start).id(), 2);
        assert_eq!(lanes.for_file("a.py", &mut start).id(), 1);
        lanes.release("a.py");
        assert_eq!(lanes.for_file("c.py", &mut start).id(), 1);
    }

    #[test]
    fn exclusive_files_share_the_main_lane_and_keep_it() {
        let mut lanes = Lanes::default();
        let mut start = counter();
        lanes.mark_exclusive("a.py");
        lanes.mark_exclusive("b.py");
        assert_eq!(lanes.for_file("a.py", &mut start).id(), 1);
        assert_eq!(lanes.for_file("b.py", &mut start).id(), 1);
        lanes.release("a.py");
        // The main lane is never handed to a file that may overlap.
        assert_eq!(lanes.for_file("c.py", &mut start).id(), 2);
        assert_eq!(lanes.main(), Some(&Fake(1)));
    }

    #[test]
    fn an_abandoned_lane_is_never_used_again() {
        let mut lanes = Lanes::default();
        let mut start = counter();
        lanes.mark_exclusive("a.py");
        lanes.for_file("a.py", &mut start);
        lanes.abandon("a.py", 1);
        assert_eq!(lanes.main(), None);
        // Still exclusive: a new main lane.
        assert_eq!(lanes.for_file("a.py", &mut start).id(), 2);
        assert_eq!(lanes.main(), Some(&Fake(2)));
        lanes.release("a.py");
        assert_eq!(lanes.for_file("c.py", &mut start).id(), 3);
        lanes.release("c.py");
        // Abandoning names the file that holds the lane: an idle lane stays usable.
        lanes.abandon("d.py", 3);
        assert_eq!(lanes.for_file("d.py", &mut start).id(), 3);
    }

    #[test]
    fn imports_take_turns_until_one_outlasts_the_patience() {
        let turn = Arc::new(ImportTurn::new(Duration::from_millis(200)));
        let first = turn.take();
        assert!(first.mine);
        // The second waits out the patience (only then is it let through without the turn),
        // then goes ahead beside the first.
        let second = turn.take();
        assert!(!second.mine);
        drop(second);
        drop(first);
        assert!(turn.take().mine, "the turn is free again");
    }
}
