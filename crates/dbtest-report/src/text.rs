//! Helpers the renderers share: cleaning captured text, number formats, atomic writes.

use std::borrow::Cow;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Removes ANSI escape sequences (colours, cursor moves, hyperlinks): tests often print
/// coloured output, and the codes are noise in files that are not shown on a terminal.
pub(crate) fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\x1b') && !s.contains('\u{9b}') {
        return Cow::Borrowed(s);
    }
    Cow::Owned(anstream::adapter::strip_str(s).to_string())
}

/// Whether `c` may appear in an XML 1.0 document at all (even escaped as `&#N;`).
fn is_xml10_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text as it may go into an XML 1.0 document: no ANSI codes, no characters XML forbids.
/// A single stray NUL in captured output would otherwise make the whole report unreadable
/// to every CI parser.
pub(crate) fn xml_clean(s: &str) -> Cow<'_, str> {
    let stripped = strip_ansi(s);
    if stripped.chars().all(is_xml10_char) {
        return stripped;
    }
    Cow::Owned(stripped.chars().filter(|&c| is_xml10_char(c)).collect())
}

/// Text for Markdown and other human-facing files: no ANSI codes and no control characters
/// other than tabs and line breaks.
pub(crate) fn plain(s: &str) -> Cow<'_, str> {
    xml_clean(s)
}

/// `1234567` as `1,234,567`, for counts people read at a glance.
pub(crate) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A test's duration as people read it: `12 ms`, `1.23 s`, `2m 05s`.
pub(crate) fn human_duration(seconds: f64) -> String {
    let s = if seconds.is_finite() && seconds > 0.0 {
        seconds
    } else {
        0.0
    };
    if s < 1.0 {
        format!("{} ms", (s * 1000.0).round() as u64)
    } else if s < 60.0 {
        format!("{s:.2} s")
    } else {
        let whole = s.round() as u64;
        format!("{}m {:02}s", whole / 60, whole % 60)
    }
}

/// Seconds for the summary lines: `0.52s`.
pub(crate) fn seconds(s: f64) -> String {
    let s = if s.is_finite() && s > 0.0 { s } else { 0.0 };
    format!("{s:.2}s")
}

/// The first `max` characters of `s`, saying how much was cut.
pub(crate) fn head(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => {
            let rest = s[cut..].chars().count();
            Cow::Owned(format!("{}\n… ({rest} more characters cut)", &s[..cut]))
        }
    }
}

/// The last `max` characters of `s`, saying how much was cut; the end of a traceback or
/// of captured output is where the cause usually is.
pub(crate) fn tail(s: &str, max: usize) -> Cow<'_, str> {
    let total = s.chars().count();
    if total <= max {
        return Cow::Borrowed(s);
    }
    let skip = total - max;
    let cut = s.char_indices().nth(skip).map_or(s.len(), |(i, _)| i);
    Cow::Owned(format!("… ({skip} earlier characters cut)\n{}", &s[cut..]))
}

/// Writes `contents` to `path` so that readers see either the old file or the whole new
/// one, never a half-written file (a crash included): a temporary file in the same folder
/// (so the rename cannot cross file systems), synced to disk, then renamed over the target.
/// Creates missing folders. Every file dbtest writes goes through here.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_inner(path, contents)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
}

fn write_atomic_inner(path: &Path, contents: &[u8]) -> io::Result<()> {
    if path.file_name().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path",
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".dbtest-")
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    // A failed rename drops (and so removes) the temporary file.
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_sequences() {
        assert_eq!(strip_ansi("\x1b[1;31mred\x1b[0m plain"), "red plain");
        assert_eq!(
            strip_ansi("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x07b"),
            "alinkb"
        );
        assert_eq!(strip_ansi("\x1b(Bx\x1b7y\x1b[?25l"), "xy");
        assert!(matches!(strip_ansi("no codes"), Cow::Borrowed(_)));
        assert_eq!(strip_ansi("cut\x1b["), "cut");
    }

    #[test]
    fn xml_clean_drops_forbidden_characters() {
        assert_eq!(
            xml_clean("a\x00b\x08c\x0bd\x0ce\x1ff\tg\nh\ri\u{FFFE}"),
            "abcdef\tg\nh\ri"
        );
        assert_eq!(xml_clean("é✓😀"), "é✓😀");
    }

    #[test]
    fn formats() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1234), "1,234");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(human_duration(0.0123), "12 ms");
        assert_eq!(human_duration(1.234), "1.23 s");
        assert_eq!(human_duration(125.0), "2m 05s");
        assert_eq!(human_duration(f64::NAN), "0 ms");
        assert_eq!(seconds(0.5199), "0.52s");
        assert_eq!(head("abcdef", 3), "abc\n… (3 more characters cut)");
        assert_eq!(tail("abcdef", 2), "… (4 earlier characters cut)\nef");
        assert_eq!(tail("ab", 2), "ab");
    }

    #[test]
    fn atomic_write_creates_folders_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/report.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
        let err = write_atomic(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("cannot write"), "{err}");
    }
}
