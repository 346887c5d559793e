//! The zip sink: the consumed files in one archive, deflated.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// `files` as `(name in the archive, bytes)`, stored sorted by name. Every entry has the same
/// fixed time and mode, so the same files always give the same archive bytes (a signed
/// manifest of the zip, or a re-render, then agrees with the first).
pub(crate) fn zip_bytes(mut files: Vec<(String, Vec<u8>)>) -> Result<Vec<u8>, String> {
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in &files {
        w.start_file(name.as_str(), options)
            .map_err(|e| e.to_string())?;
        w.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(w.finish().map_err(|e| e.to_string())?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_files_are_in_the_archive_deflated_and_the_bytes_repeat() {
        let files = vec![
            ("b/x.csv".to_string(), b"a,b\n".repeat(100)),
            ("a.html".to_string(), b"<p>".to_vec()),
        ];
        let bytes = zip_bytes(files.clone()).unwrap();
        assert_eq!(zip_bytes(files).unwrap(), bytes);
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let names: Vec<String> = archive.file_names().map(String::from).collect();
        assert_eq!(names.len(), 2);
        let mut entry = archive.by_name("b/x.csv").unwrap();
        assert_eq!(entry.compression(), CompressionMethod::Deflated);
        assert!(entry.compressed_size() < entry.size());
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        assert_eq!(text, "a,b\n".repeat(100));
    }
}
