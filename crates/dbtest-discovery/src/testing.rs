//! What the tests of this crate share.

use std::fs;

use tempfile::TempDir;

/// Creates the files (empty, with their folders) under a fresh temporary root.
pub(crate) fn tree(files: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "").unwrap();
    }
    dir
}
