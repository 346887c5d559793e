//! Finding test files and deciding which tests run, without importing anything.
//!
//! Everything here works on paths and test ids only, so that the runner can
//! narrow a run down before paying for a single Python import.

pub mod fnmatch;
pub mod hints;
pub mod import;
pub mod keyword;
pub mod overlap;
pub mod select;
pub mod shard;
pub mod statics;
pub mod tags;
pub mod walk;

mod paths;
#[cfg(test)]
mod testing;

pub use hints::unmatched_test_files;
pub use import::{conftests_for, import_target, ImportTarget};
pub use keyword::{KeywordExpr, KeywordExprError};
pub use overlap::{imports_dbtest, OverlapRule};
pub use paths::relative_id;
pub use select::{Selector, SelectorError};
pub use shard::{shard_files, Shard};
pub use statics::{static_tests, StaticTest};
pub use tags::{TagExpr, TagExprError};
pub use walk::{
    dbtest_norecurse, discover, discover_from, expand_testpaths, search_paths, Discovered,
    DiscoveryError, Pattern, SKIPPED_DIRS,
};
