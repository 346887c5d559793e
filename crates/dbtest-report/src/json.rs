//! The `dbtest.report/1` JSON document (DESIGN §4). Its shape is the serde form of
//! [`Report`], so this module only chooses the layout and how the file is written.

use std::io;
use std::path::Path;

use dbtest_core::Report;

/// The report as pretty-printed JSON, without a trailing newline.
pub fn to_string(report: &Report) -> String {
    // serde_json writes non-finite floats as null instead of failing, and every other
    // field of a Report is a plain string, number or list, so this cannot fail.
    serde_json::to_string_pretty(report).expect("a Report always serializes to JSON")
}

/// Writes [`to_string`] plus a final newline to `path`, creating its folder, atomically.
pub fn write(report: &Report, path: &Path) -> io::Result<()> {
    let mut text = to_string(report);
    text.push('\n');
    crate::text::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;

    #[test]
    fn round_trips_through_serde() {
        let report = sample_report();
        let text = to_string(&report);
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
        assert!(text.starts_with("{\n  \"schema\": \"dbtest.report/1\",\n  \"command\": \"unit\""));
    }

    #[test]
    fn writes_the_file_atomically_into_new_folders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/nested/report.json");
        let report = sample_report();
        write(&report, &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("}\n"));
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
    }
}
