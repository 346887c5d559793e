//! JUnit XML, in the shape Jenkins, GitLab and the GitHub test-report actions read:
//! `<testsuites>` holding one `<testsuite>` per test file, one `<testcase>` per test.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use std::path::Path;

use dbtest_core::{Outcome, Report, TestResult};
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use crate::text::xml_clean;

/// The report as a JUnit XML document.
pub fn render(report: &Report) -> String {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    write_document(&mut w, report).expect("writing XML into memory cannot fail");
    let mut out = String::from_utf8(w.into_inner()).expect("every input to the writer is UTF-8");
    out.push('\n');
    out
}

/// Writes [`render`] to `path`, creating its folder, atomically.
pub fn write(report: &Report, path: &Path) -> io::Result<()> {
    crate::text::write_atomic(path, render(report).as_bytes())
}

#[derive(Default)]
struct Counts {
    tests: u64,
    failures: u64,
    errors: u64,
    skipped: u64,
    time: f64,
}

impl Counts {
    fn add(&mut self, t: &TestResult) {
        self.tests += 1;
        match kind(t.outcome) {
            Kind::Failure => self.failures += 1,
            Kind::Error => self.errors += 1,
            Kind::Skipped => self.skipped += 1,
            Kind::Passed => {}
        }
        self.time += finite(t.duration_s);
    }

    fn attributes<'a>(&self, time: f64, timestamp: &'a str) -> [(&'static str, Cow<'a, str>); 6] {
        [
            ("tests", self.tests.to_string().into()),
            ("failures", self.failures.to_string().into()),
            ("errors", self.errors.to_string().into()),
            ("skipped", self.skipped.to_string().into()),
            ("time", secs(time).into()),
            ("timestamp", timestamp.into()),
        ]
    }
}

/// How JUnit consumers classify an outcome. An xpass is a failure here even when it does
/// not fail the run, so that CI dashboards draw attention to a mark that is out of date.
enum Kind {
    Passed,
    Failure,
    Error,
    Skipped,
}

fn kind(outcome: Outcome) -> Kind {
    match outcome {
        // A non-strict xpass does not fail the run (a strict one is recorded as failed), so
        // CI readers must not see it as a failure either.
        Outcome::Passed | Outcome::Xpassed => Kind::Passed,
        Outcome::Error => Kind::Error,
        Outcome::Skipped | Outcome::Xfailed => Kind::Skipped,
        Outcome::Failed | Outcome::Timeout | Outcome::Crashed | Outcome::Inconclusive => {
            Kind::Failure
        }
    }
}

fn finite(s: f64) -> f64 {
    if s.is_finite() && s > 0.0 {
        s
    } else {
        0.0
    }
}

fn secs(s: f64) -> String {
    format!("{:.3}", finite(s))
}

fn write_document(w: &mut Writer<Vec<u8>>, report: &Report) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;

    // Files in the order their first test appears; tests keep the report's order.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut files: Vec<(&str, Vec<&TestResult>, Counts)> = Vec::new();
    let mut total = Counts::default();
    for t in &report.tests {
        let i = *index.entry(t.file.as_str()).or_insert_with(|| {
            files.push((t.file.as_str(), Vec::new(), Counts::default()));
            files.len() - 1
        });
        files[i].1.push(t);
        files[i].2.add(t);
        total.add(t);
    }

    let timestamp = xml_clean(&report.started_at);
    w.create_element("testsuites")
        .with_attribute(("name", "dbtest"))
        .with_attributes(total.attributes(report.duration_s, &timestamp))
        .write_inner_content(|w| {
            for (file, tests, counts) in &files {
                let name = xml_clean(file);
                w.create_element("testsuite")
                    .with_attribute(("name", name.as_ref()))
                    .with_attributes(counts.attributes(counts.time, &timestamp))
                    .write_inner_content(|w| {
                        for t in tests {
                            write_case(w, t)?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    Ok(())
}

/// `tests/unit/test_a.py` + `Suite` → `tests.unit.test_a.Suite`, the dotted form JUnit
/// consumers group by.
fn classname(t: &TestResult) -> String {
    let path = t.file.replace('\\', "/");
    let module = path.strip_suffix(".py").unwrap_or(&path).replace('/', ".");
    match &t.suite {
        Some(suite) => format!("{module}.{suite}"),
        None => module,
    }
}

fn case_name(t: &TestResult) -> String {
    match &t.params {
        Some(p) => format!("{}[{p}]", t.name),
        None => t.name.clone(),
    }
}

fn write_case(w: &mut Writer<Vec<u8>>, t: &TestResult) -> io::Result<()> {
    let classname = classname(t);
    let name = case_name(t);
    let line = t.line.to_string();
    let time = secs(t.duration_s);
    let mut el = w
        .create_element("testcase")
        .with_attribute(("classname", xml_clean(&classname)))
        .with_attribute(("name", xml_clean(&name)))
        .with_attribute(("file", xml_clean(&t.file)));
    // Line 0 means "the file itself" (an import error): no line to point at.
    if t.line > 0 {
        el = el.with_attribute(("line", line.as_str()));
    }
    let el = el.with_attribute(("time", time.as_str()));

    let detail = kind(t.outcome);
    let has_body = !matches!(detail, Kind::Passed)
        || t.attempts > 1
        || !t.stdout.is_empty()
        || !t.stderr.is_empty()
        || !t.log.is_empty();
    if !has_body {
        el.write_empty()?;
        return Ok(());
    }
    el.write_inner_content(|w| {
        if t.attempts > 1 {
            let attempts = t.attempts.to_string();
            w.create_element("properties").write_inner_content(|w| {
                w.create_element("property")
                    .with_attribute(("name", "attempts"))
                    .with_attribute(("value", attempts.as_str()))
                    .write_empty()?;
                Ok(())
            })?;
        }
        match detail {
            Kind::Passed => {}
            Kind::Failure | Kind::Error => {
                let message = match &t.message {
                    Some(m) => m.clone(),
                    None => default_message(t.outcome),
                };
                let message = xml_clean(&message);
                let body = t
                    .traceback
                    .as_deref()
                    .map(xml_clean)
                    .unwrap_or_else(|| message.clone());
                let (tag, ty) = match detail {
                    Kind::Error => ("error", "error"),
                    _ => ("failure", t.outcome.as_str()),
                };
                w.create_element(tag)
                    .with_attribute(("message", message.as_ref()))
                    .with_attribute(("type", ty))
                    .write_text_content(text(&body))?;
            }
            Kind::Skipped => {
                let message = match (t.outcome, &t.message) {
                    (Outcome::Xfailed, Some(m)) => Some(format!("xfail: {m}")),
                    (Outcome::Xfailed, None) => Some("xfail".to_string()),
                    (_, m) => m.clone(),
                };
                let el = w.create_element("skipped");
                match message {
                    Some(m) => el
                        .with_attribute(("message", xml_clean(&m).as_ref()))
                        .write_empty()?,
                    None => el.write_empty()?,
                };
            }
        }
        // Log records after stderr, where logging's own handler would have written them,
        // under the header pytest's junit_logging gives them.
        let err = match (t.stderr.is_empty(), t.log.is_empty()) {
            (_, true) => Cow::Borrowed(t.stderr.as_str()),
            (true, false) => Cow::Owned(format!("{}\n{}", log_header(), t.log)),
            (false, false) => Cow::Owned(format!(
                "{}\n{}\n{}",
                t.stderr.trim_end_matches('\n'),
                log_header(),
                t.log
            )),
        };
        for (tag, captured) in [("system-out", t.stdout.as_str()), ("system-err", &*err)] {
            if !captured.is_empty() {
                w.create_element(tag)
                    .write_text_content(text(&xml_clean(captured)))?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// pytest's line above captured log records in JUnit output (`junit_logging`).
fn log_header() -> String {
    format!("{:-^80}", " Captured Log ")
}

/// Element text escaped only where XML requires it, so tracebacks stay readable in the
/// raw file (quotes and apostrophes are frequent in them).
fn text(s: &str) -> BytesText<'_> {
    BytesText::from_escaped(quick_xml::escape::partial_escape(s))
}

fn default_message(outcome: Outcome) -> String {
    match outcome {
        Outcome::Timeout => "timed out",
        Outcome::Crashed => "the test process crashed",
        Outcome::Inconclusive => "no verdict could be reached",
        Outcome::Xpassed => "unexpectedly passed (marked xfail)",
        Outcome::Error => "error",
        _ => "failed",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{report, result, sample_report};
    use quick_xml::events::attributes::Attribute;
    use quick_xml::Reader;

    /// A parsed element: name, attributes, and its text (entities resolved).
    #[derive(Debug, Default, Clone)]
    struct El {
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
        children: Vec<El>,
    }

    impl El {
        fn attr(&self, key: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }
        fn child(&self, name: &str) -> Option<&El> {
            self.children.iter().find(|c| c.name == name)
        }
        fn count(&self, key: &str) -> u64 {
            self.attr(key).unwrap().parse().unwrap()
        }
    }

    fn element(start: &quick_xml::events::BytesStart<'_>) -> El {
        let attrs = start
            .attributes()
            .map(|a: Result<Attribute<'_>, _>| {
                let a = a.unwrap();
                let key = a.key.as_ref().to_string();
                let value = a
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
                    .into_owned();
                (key, value)
            })
            .collect();
        El {
            name: start.name().as_ref().to_string(),
            attrs,
            ..El::default()
        }
    }

    /// Parses the whole document strictly; any malformed XML panics the test.
    fn parse(xml: &str) -> El {
        let mut reader = Reader::from_str(xml);
        let mut stack = vec![El::default()];
        loop {
            match reader.read_event().unwrap() {
                Event::Start(s) => stack.push(element(&s)),
                Event::Empty(s) => stack.last_mut().unwrap().children.push(element(&s)),
                Event::End(_) => {
                    let done = stack.pop().unwrap();
                    stack.last_mut().unwrap().children.push(done);
                }
                Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().unwrap() {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                            .unwrap()
                            .to_string(),
                    };
                    stack.last_mut().unwrap().text.push_str(&c);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        let mut root = stack.pop().unwrap();
        assert_eq!(root.children.len(), 1);
        root.children.pop().unwrap()
    }

    #[test]
    fn counts_add_up_and_files_keep_their_order() {
        let xml = render(&sample_report());
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
        let root = parse(&xml);
        assert_eq!(root.name, "testsuites");
        assert_eq!(root.attr("name"), Some("dbtest"));
        assert_eq!(root.count("tests"), 11);
        // failed, timeout, crashed, inconclusive (an xpass passes)
        assert_eq!(root.count("failures"), 4);
        // the fixture error and the import error
        assert_eq!(root.count("errors"), 2);
        // skipped and xfailed
        assert_eq!(root.count("skipped"), 2);
        assert_eq!(root.attr("time"), Some("3.250"));
        assert_eq!(root.attr("timestamp"), Some("2025-01-02T03:04:05Z"));

        let names: Vec<_> = root
            .children
            .iter()
            .map(|s| s.attr("name").unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "tests/test_a.py",
                "tests/test_b.py",
                "tests/test_c.py",
                "tests/broken.py"
            ]
        );
        let mut sums = [0u64; 4];
        for suite in &root.children {
            assert_eq!(suite.count("tests"), suite.children.len() as u64);
            let failures = suite
                .children
                .iter()
                .filter(|c| c.child("failure").is_some())
                .count();
            let errors = suite
                .children
                .iter()
                .filter(|c| c.child("error").is_some())
                .count();
            let skipped = suite
                .children
                .iter()
                .filter(|c| c.child("skipped").is_some())
                .count();
            assert_eq!(suite.count("failures"), failures as u64);
            assert_eq!(suite.count("errors"), errors as u64);
            assert_eq!(suite.count("skipped"), skipped as u64);
            for (sum, key) in sums
                .iter_mut()
                .zip(["tests", "failures", "errors", "skipped"])
            {
                *sum += suite.count(key);
            }
        }
        assert_eq!(sums, [11, 4, 2, 2]);
    }

    #[test]
    fn testcases_carry_names_and_details() {
        let root = parse(&render(&sample_report()));
        let a = &root.children[0];
        let ok = &a.children[0];
        assert_eq!(ok.attr("classname"), Some("tests.test_a"));
        assert_eq!(ok.attr("name"), Some("test_ok"));
        assert_eq!(ok.attr("file"), Some("tests/test_a.py"));
        assert_eq!(ok.attr("line"), Some("10"));
        assert_eq!(ok.attr("time"), Some("0.012"));
        assert!(ok.children.is_empty());

        let flaky = &a.children[1];
        let prop = flaky
            .child("properties")
            .unwrap()
            .child("property")
            .unwrap();
        assert_eq!(prop.attr("name"), Some("attempts"));
        assert_eq!(prop.attr("value"), Some("3"));

        let failed = &a.children[2];
        assert_eq!(failed.attr("classname"), Some("tests.test_a.TestUsers"));
        assert_eq!(failed.attr("name"), Some("test_create[small]"));
        let failure = failed.child("failure").unwrap();
        assert_eq!(failure.attr("type"), Some("failed"));
        // Escaped markup survives, the NUL and the colour codes are gone, and the
        // line break inside the attribute is kept.
        assert_eq!(
            failure.attr("message"),
            Some("assert a < b & \"c\" red\nsecond line")
        );
        assert!(failure
            .text
            .starts_with("Traceback (most recent call last):"));
        assert!(failure.text.contains("assert a < b\nAssertionError"));
        assert_eq!(failed.child("system-out").unwrap().text, "hello bold\n");
        assert_eq!(failed.child("system-err").unwrap().text, "warn <x>\n");

        let b = &root.children[1];
        let error = b.children[0].child("error").unwrap();
        assert_eq!(error.attr("type"), Some("error"));
        assert_eq!(error.attr("message"), Some("fixture 'pool' failed"));
        assert_eq!(error.text, "fixture 'pool' failed");
        assert_eq!(
            b.children[1].child("skipped").unwrap().attr("message"),
            Some("no db")
        );
        assert_eq!(
            b.children[2].child("skipped").unwrap().attr("message"),
            Some("xfail: bug 12: boom")
        );

        let c = &root.children[2];
        assert!(
            c.children[0].child("failure").is_none(),
            "an xpass is not a failure"
        );
        assert_eq!(
            c.children[1].child("failure").unwrap().attr("type"),
            Some("timeout")
        );
        let crashed = c.children[2].child("failure").unwrap();
        assert_eq!(crashed.attr("type"), Some("crashed"));
        assert_eq!(crashed.attr("message"), Some("the test process crashed"));
        assert_eq!(
            c.children[3].child("failure").unwrap().attr("type"),
            Some("inconclusive")
        );

        let broken = &root.children[3].children[0];
        assert_eq!(broken.attr("classname"), Some("tests.broken"));
        assert_eq!(broken.attr("line"), None);
        assert!(broken.child("error").unwrap().text.contains("def ("));
    }

    #[test]
    fn escapes_everything_in_names_and_output() {
        let mut t = result("weird/test_x.py::test_q[<a&b>\"]", Outcome::Failed);
        t.message = Some("\x01\x02<tag attr=\"v\">&amp;</tag>\x1b[0m\x0b\x0c\x0e\x1f".to_string());
        t.stdout = "]]> <![CDATA[ x ]]>\x00".to_string();
        let xml = render(&report(0.1, vec![t]));
        for bad in [
            '\x00', '\x01', '\x02', '\x0b', '\x0c', '\x0e', '\x1b', '\x1f',
        ] {
            assert!(!xml.contains(bad), "{bad:?} in output");
        }
        let case = &parse(&xml).children[0].children[0];
        assert_eq!(case.attr("name"), Some("test_q[<a&b>\"]"));
        assert_eq!(case.attr("classname"), Some("weird.test_x"));
        let failure = case.child("failure").unwrap();
        assert_eq!(failure.attr("message"), Some("<tag attr=\"v\">&amp;</tag>"));
        assert_eq!(failure.text, "<tag attr=\"v\">&amp;</tag>");
        assert_eq!(
            case.child("system-out").unwrap().text,
            "]]> <![CDATA[ x ]]>"
        );
    }

    #[test]
    fn log_records_follow_stderr_under_pytests_header() {
        let mut t = result("t.py::test_logs", Outcome::Failed);
        t.stderr = "warned\n".to_string();
        t.log = "ERROR    app:app.py:9 boom\n".to_string();
        let mut quiet = result("t.py::test_only_logs", Outcome::Passed);
        quiet.log = "WARNING  app:app.py:3 low\n".to_string();
        let root = parse(&render(&report(0.1, vec![t, quiet])));
        let header = format!("{:-^80}", " Captured Log ");
        let cases = &root.children[0].children;
        assert_eq!(
            cases[0].child("system-err").unwrap().text.trim_end(),
            format!("warned\n{header}\nERROR    app:app.py:9 boom")
        );
        // A passing test that logged keeps its log too, as its output.
        assert_eq!(
            cases[1].child("system-err").unwrap().text.trim_end(),
            format!("{header}\nWARNING  app:app.py:3 low")
        );
        assert!(cases[1].child("system-out").is_none());
    }

    #[test]
    fn empty_report_is_valid() {
        let root = parse(&render(&report(0.0, vec![])));
        assert_eq!(root.count("tests"), 0);
        assert!(root.children.is_empty());
    }

    #[test]
    fn writes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports/junit.xml");
        write(&sample_report(), &path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render(&sample_report())
        );
    }
}
