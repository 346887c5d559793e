//! The html sink: one self-contained page (no network, no other file) to read a run on a
//! laptop screen: the security level at the top and bottom, the pass rates with their
//! intervals as a chart (a PNG inside the page), every configuration side by side with its
//! latency, tokens and cost, the comparisons with the best configuration, and spec verdicts.
//!
//! Text stays HTML (the browser's fonts, selectable, zoomable); only the bars and whiskers
//! are drawn, so the PNG needs no font. Chart rows and their HTML labels share one height.

use base64::Engine as _;

use crate::data::{ConfigSummary, RunData};
use crate::levels::SecurityLevel;

/// Escapes text for HTML content and quoted attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Chart geometry in CSS pixels; the PNG has `SCALE` pixels per CSS pixel so that it stays
/// sharp on high-density screens.
const CHART_W: u32 = 640;
const ROW_H: u32 = 34;
/// Room on either side so a whisker at 0 or 1 keeps its cap.
const PAD: u32 = 10;
const SCALE: u32 = 2;

type Rgb = [u8; 3];
const GRID: Rgb = [0xe3, 0xe6, 0xea];
const BAR: Rgb = [0x9d, 0xb8, 0xde];
const BAR_BEST: Rgb = [0x6f, 0xbf, 0x8f];
const WHISKER: Rgb = [0x1f, 0x2a, 0x37];

struct Canvas {
    w: u32,
    h: u32,
    rgb: Vec<u8>,
}

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        Canvas {
            w,
            h,
            rgb: vec![0xff; (w * h * 3) as usize],
        }
    }

    /// Fills `[x0, x1) x [y0, y1)`, in device pixels, clipped to the canvas.
    fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, color: Rgb) {
        let clip = |v: i64, max: u32| v.clamp(0, i64::from(max)) as u32;
        let (x0, x1, y0, y1) = (
            clip(x0, self.w),
            clip(x1, self.w),
            clip(y0, self.h),
            clip(y1, self.h),
        );
        for y in y0..y1 {
            for x in x0..x1 {
                let i = ((y * self.w + x) * 3) as usize;
                self.rgb[i..i + 3].copy_from_slice(&color);
            }
        }
    }

    fn png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.w, self.h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Writing to memory cannot fail for a well-formed image.
        let mut w = enc.write_header().expect("PNG header");
        w.write_image_data(&self.rgb).expect("PNG data");
        w.finish().expect("PNG end");
        out
    }
}

/// The x of a rate in device pixels.
fn x_of(rate: f64) -> i64 {
    let inner = f64::from((CHART_W - 2 * PAD) * SCALE);
    (f64::from(PAD * SCALE) + rate.clamp(0.0, 1.0) * inner).round() as i64
}

/// A row per configuration: a bar to the pass rate, a whisker across the interval, grid
/// lines at each quarter.
pub(crate) fn chart_png(configs: &[ConfigSummary]) -> Vec<u8> {
    let (w, row) = (CHART_W * SCALE, ROW_H * SCALE);
    let h = row * configs.len().max(1) as u32;
    let mut c = Canvas::new(w, h);
    let s = i64::from(SCALE);
    for q in 0..=4 {
        let x = x_of(f64::from(q) / 4.0);
        c.fill(x - s / 2, 0, x - s / 2 + s, i64::from(h), GRID);
    }
    for (i, cfg) in configs.iter().enumerate() {
        let top = i64::from(row) * i as i64;
        let mid = top + i64::from(row) / 2;
        if let Some(rate) = cfg.pass_rate {
            let color = if cfg.best { BAR_BEST } else { BAR };
            let half = i64::from(row) * 3 / 10;
            c.fill(x_of(0.0), mid - half, x_of(rate), mid + half, color);
            let (lo, hi) = (x_of(cfg.interval.low), x_of(cfg.interval.high));
            let cap = i64::from(row) / 5;
            c.fill(lo, mid - s, hi.max(lo + s), mid + s, WHISKER);
            c.fill(lo - s, mid - cap, lo + s, mid + cap, WHISKER);
            c.fill(hi - s, mid - cap, hi + s, mid + cap, WHISKER);
            // The observed rate: a short, thick mark on the whisker.
            let x = x_of(rate);
            c.fill(
                x - 2 * s,
                mid - cap * 3 / 2,
                x + 2 * s,
                mid + cap * 3 / 2,
                WHISKER,
            );
        }
    }
    c.png()
}

fn level_style(level: SecurityLevel) -> (&'static str, &'static str) {
    // (background, text): darker and warmer as the level rises.
    match level {
        SecurityLevel::Unofficial => ("#e8eaed", "#3c4043"),
        SecurityLevel::Official => ("#1a73e8", "#ffffff"),
        SecurityLevel::OfficialSensitive => ("#f9ab00", "#202124"),
        SecurityLevel::Protected => ("#e8710a", "#ffffff"),
        SecurityLevel::Secret => ("#c5221f", "#ffffff"),
    }
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
}

fn cost(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x < 0.01 {
        format!("{x:.6}")
    } else {
        format!("{x:.4}")
    }
}

fn percent(confidence: f64) -> String {
    let p = confidence * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p}%")
    }
}

fn signed(x: f64) -> String {
    // A true minus sign reads better than a hyphen in a table of numbers.
    if x < 0.0 {
        format!("−{:.3}", -x)
    } else {
        format!("+{x:.3}")
    }
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#202124;background:#f6f7f9}
.level{padding:6px 16px;text-align:center;font-weight:700;letter-spacing:.12em;text-transform:uppercase;font-size:13px}
main{max-width:1200px;margin:0 auto;padding:18px 24px 28px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:0 0 10px}
.meta{color:#5f6368;margin:0 0 16px}
.meta code{color:#202124}
section{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:14px 18px;margin:0 0 14px}
.chart{display:grid;grid-template-columns:minmax(120px,300px) 640px auto;column-gap:14px;align-items:start}
.chart .labels div,.chart .values div{height:34px;line-height:34px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.chart .labels div{text-align:right;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.chart .values div{font-variant-numeric:tabular-nums;color:#3c4043}
.chart img{display:block;width:640px;image-rendering:auto}
.axis{position:relative;height:18px;width:640px;color:#5f6368;font-size:12px}
.axis span{position:absolute;transform:translateX(-50%)}
.note{color:#5f6368;font-size:12.5px;margin:8px 0 0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;border-bottom:1px solid #eef0f2;text-align:right;white-space:nowrap}
th{font-weight:600;color:#5f6368;font-size:12.5px;border-bottom:1px solid #d0d4d9}
th.group{text-align:center;border-bottom:1px solid #e1e4e8}
td.text,th.text{text-align:left}
td.cfg{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;text-align:left;max-width:320px;overflow:hidden;text-overflow:ellipsis}
tr.best td{background:#eef8f1}
.star{color:#188038}
.verdict{font-weight:700}
.PASS{color:#188038}.FAIL{color:#c5221f}.INCONCLUSIVE{color:#b06000}
td.wrap{white-space:normal;text-align:left;min-width:320px}
table.compact{width:auto;min-width:60%}
footer{color:#5f6368;font-size:12px;text-align:center;margin-top:6px}
"#;

/// The whole page.
pub(crate) fn page(d: &RunData) -> String {
    let (bg, fg) = level_style(d.level);
    let level = format!(
        "<div class=\"level\" style=\"background:{bg};color:{fg}\">{}</div>",
        esc(d.level.as_str())
    );
    let mut h = String::with_capacity(16 * 1024);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No script, no request: the page works the same opened from a zip or an e-mail.
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n");
    h.push_str(&format!(
        "<title>[{}] Experiment {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&d.level.as_str().to_uppercase()),
        esc(&d.experiment)
    ));
    h.push_str(&level);
    h.push_str("\n<main>\n");
    h.push_str(&format!(
        "<h1>Experiment <code>{}</code></h1>\n",
        esc(&d.experiment)
    ));
    let trials_word = if d.configs.len() == 1 {
        "configuration"
    } else {
        "configurations"
    };
    let planned = d.configs.first().map_or(0, |c| c.samples_planned);
    h.push_str(&format!(
        "<p class=\"meta\">Use case <code>{}</code> · {} {trials_word} × {planned} samples · {} confidence{}<br>\
         Run <code>{}</code> · started {} · {:.1} s · {} · data level <b>{}</b></p>\n",
        esc(&d.use_case),
        d.configs.len(),
        percent(d.confidence),
        d.success
            .as_ref()
            .map(|s| format!(" · success: <code>{}</code>", esc(s)))
            .unwrap_or_default(),
        esc(&d.run_dir),
        esc(&d.started_at),
        d.duration_s,
        esc(&d.termination),
        esc(d.level.as_str()),
    ));
    chart_section(&mut h, d);
    table_section(&mut h, d);
    comparisons_section(&mut h, d);
    verdicts_section(&mut h, d);
    h.push_str("<footer>Written by dbtest. Pass rate = successes / (successes + failures); infrastructure errors are counted apart.</footer>\n</main>\n");
    h.push_str(&level);
    h.push_str("\n</body>\n</html>\n");
    h
}

fn chart_section(h: &mut String, d: &RunData) {
    h.push_str("<section>\n<h2>Pass rates</h2>\n");
    if d.configs.is_empty() {
        h.push_str("<p class=\"note\">No configuration ran.</p>\n</section>\n");
        return;
    }
    let png = base64::engine::general_purpose::STANDARD.encode(chart_png(&d.configs));
    h.push_str("<div class=\"chart\">\n<div class=\"labels\">");
    for c in &d.configs {
        h.push_str(&format!(
            "<div title=\"{0}\">{1}{0}</div>",
            esc(&c.label),
            if c.best {
                "<span class=\"star\">★ </span>"
            } else {
                ""
            }
        ));
    }
    h.push_str(&format!(
        "</div>\n<div><img alt=\"Pass rate of each configuration, with its {} interval\" width=\"{CHART_W}\" height=\"{}\" src=\"data:image/png;base64,{png}\">\n<div class=\"axis\">",
        percent(d.confidence),
        ROW_H as usize * d.configs.len()
    ));
    for q in 0..=4 {
        let left = f64::from(PAD) + f64::from(q) / 4.0 * f64::from(CHART_W - 2 * PAD);
        h.push_str(&format!(
            "<span style=\"left:{left}px\">{}</span>",
            ["0", "0.25", "0.5", "0.75", "1"][q as usize]
        ));
    }
    h.push_str("</div></div>\n<div class=\"values\">");
    for c in &d.configs {
        h.push_str(&format!(
            "<div>{} <span style=\"color:#80868b\">[{:.3}, {:.3}]</span></div>",
            num(c.pass_rate, 3),
            c.interval.low,
            c.interval.high
        ));
    }
    h.push_str(&format!(
        "</div>\n</div>\n<p class=\"note\">Bar: the observed pass rate. Whisker: Wilson's {} interval. ★ the best configuration (the highest pass rate).</p>\n</section>\n",
        percent(d.confidence)
    ));
}

fn table_section(h: &mut String, d: &RunData) {
    h.push_str("<section>\n<h2>Configurations</h2>\n<table>\n");
    h.push_str("<tr><th></th><th></th><th class=\"group\" colspan=\"5\">Outcome</th><th class=\"group\" colspan=\"4\">Latency, ms</th><th class=\"group\" colspan=\"2\">Usage</th><th></th></tr>\n");
    h.push_str("<tr><th></th><th class=\"text\">configuration</th><th>pass rate</th><th>interval</th><th>passed</th><th>failed</th><th>errors</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>tokens</th><th>cost $</th><th class=\"text\">stopped</th></tr>\n");
    for c in &d.configs {
        let l = &c.latency_ms;
        h.push_str(&format!(
            "<tr{}><td>{}</td><td class=\"cfg\" title=\"{}\">{}</td><td>{}</td><td>[{:.3}, {:.3}]</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>\n",
            if c.best { " class=\"best\"" } else { "" },
            if c.best { "<span class=\"star\">★</span>" } else { "" },
            esc(&c.config_id),
            esc(&c.label),
            num(c.pass_rate, 3),
            c.interval.low,
            c.interval.high,
            c.successes,
            c.successes + c.failures,
            c.failures,
            c.errors,
            num(l.p50, 1),
            num(l.p90, 1),
            num(l.p95, 1),
            num(l.p99, 1),
            c.tokens,
            cost(c.cost_usd),
            esc(&c.termination),
        ));
    }
    h.push_str("</table>\n</section>\n");
}

fn comparisons_section(h: &mut String, d: &RunData) {
    let Some(best) = d.configs.iter().find(|c| c.best) else {
        return;
    };
    h.push_str(&format!(
        "<section>\n<h2>Against the best: <code>{}</code></h2>\n",
        esc(&best.label)
    ));
    if d.comparisons.is_empty() {
        h.push_str("<p class=\"note\">No other configuration to compare.</p>\n</section>\n");
        return;
    }
    h.push_str("<table class=\"compact\">\n<tr><th class=\"text\">configuration</th><th>difference</th><th>interval</th><th class=\"text\">conclusion</th></tr>\n");
    for c in &d.comparisons {
        let label = d
            .configs
            .iter()
            .find(|x| x.config_id == c.config_id)
            .map_or(c.config_id.as_str(), |x| x.label.as_str());
        h.push_str(&format!(
            "<tr><td class=\"cfg\">{}</td><td>{}</td><td>[{}, {}]</td><td class=\"wrap\">{}</td></tr>\n",
            esc(label),
            signed(c.difference),
            signed(c.interval.low),
            signed(c.interval.high),
            esc(&c.conclusion)
        ));
    }
    h.push_str(&format!(
        "</table>\n<p class=\"note\">Difference = the configuration's pass rate minus the best's; the interval is Newcombe's at {}; the conclusion is the paired test of SUMMARY.md (McNemar on the same rows, Holm-corrected).</p>\n</section>\n",
        percent(d.confidence)
    ));
}

fn verdicts_section(h: &mut String, d: &RunData) {
    if d.verdicts.is_empty() {
        return;
    }
    h.push_str("<section>\n<h2>Spec verdicts</h2>\n<table>\n<tr><th class=\"text\">spec</th><th class=\"text\">verdict</th><th class=\"text\">why</th></tr>\n");
    for v in &d.verdicts {
        let class = match v.verdict.as_str() {
            "PASS" | "FAIL" | "INCONCLUSIVE" => v.verdict.as_str(),
            _ => "",
        };
        h.push_str(&format!(
            "<tr><td class=\"cfg\">{}</td><td class=\"text verdict {class}\">{}</td><td class=\"wrap\">{}</td></tr>\n",
            esc(&v.spec_id),
            esc(&v.verdict),
            esc(&v.message)
        ));
    }
    h.push_str("</table>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{example, VerdictRow};

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let mut d = example();
        d.experiment = "<script>alert(1)</script>".into();
        d.configs[0].label = "model=<b>small</b>".into();
        d.comparisons[0].conclusion = "x < y & \"z\"".into();
        d.verdicts.push(VerdictRow {
            spec_id: "shop.search:v1".into(),
            verdict: "FAIL".into(),
            message: "<img src=x onerror=alert(1)>".into(),
        });
        let page = page(&d);
        assert!(!page.contains("<script"), "a tag from user text");
        assert!(!page.contains("<img src=x"));
        assert!(!page.contains("<b>small"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("x &lt; y &amp; &quot;z&quot;"));
        // Nothing is fetched: the only source is the chart's data URI.
        for needle in ["http://", "https://", "src=\"/", "href=", "@import", "url("] {
            assert!(!page.contains(needle), "{needle}");
        }
        assert_eq!(page.matches("src=\"data:image/png;base64,").count(), 1);
        // The level at the top and the bottom.
        assert_eq!(page.matches(">official-sensitive</div>").count(), 2);
        assert!(page.contains("<title>[OFFICIAL-SENSITIVE]"));
        assert!(page.contains("Spec verdicts") && page.contains("verdict FAIL"));
        assert!(page.contains("−0.250"));
    }

    #[test]
    fn the_chart_is_a_png_a_row_per_configuration() {
        let d = example();
        let bytes = chart_png(&d.configs);
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!(
            (info.width, info.height),
            (CHART_W * SCALE, 2 * ROW_H * SCALE)
        );
        // Empty runs still draw (an empty frame), and a config without trials has no bar.
        let mut none = d.configs[0].clone();
        none.pass_rate = None;
        assert!(!chart_png(&[]).is_empty());
        let blank = chart_png(&[none]);
        assert!(blank.len() < chart_png(&d.configs[..1]).len());
    }

    /// Writes a page to look at in a browser: `DBTEST_HTML_OUT=/tmp/r.html cargo test -p
    /// dbtest-artifacts -- --ignored write_a_page`.
    #[test]
    #[ignore]
    fn write_a_page() {
        let mut d = example();
        let mut extra = d.configs[0].clone();
        for (id, k, best) in [
            ("model=medium temperature=0.7", 17u64, false),
            ("model=tiny temperature=0.0", 6, false),
        ] {
            extra.config_id = id.replace(' ', ",");
            extra.label = id.into();
            extra.successes = k;
            extra.failures = 20 - k;
            extra.pass_rate = Some(k as f64 / 20.0);
            let w = (k as f64 / 20.0, 0.18);
            extra.interval = crate::data::Interval {
                low: (w.0 - w.1).max(0.0),
                high: (w.0 + w.1 * 0.7).min(1.0),
            };
            extra.best = best;
            d.configs.push(extra.clone());
        }
        d.verdicts.push(VerdictRow {
            spec_id: "shop.search:v1".into(),
            verdict: "PASS".into(),
            message: "19/20 passed (0.950); threshold 0.800 (empirical), confidence 95%".into(),
        });
        let out =
            std::env::var("DBTEST_HTML_OUT").unwrap_or_else(|_| "/tmp/dbtest-report.html".into());
        std::fs::write(out, page(&d)).unwrap();
    }
}
