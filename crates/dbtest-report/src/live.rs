//! The one live display of every command (unit's progress line, bench's "measuring" line,
//! an experiment's line per configuration): lines on stderr, redrawn in place at most every
//! 50 ms, only on a terminal, and cleared before anything else prints.

use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::text::strip_ansi;

/// Redrawing more often than this costs terminal time and is not readable anyway.
pub const REDRAW_EVERY: Duration = Duration::from_millis(50);
/// When neither the terminal nor `COLUMNS` says: what nearly every terminal has at least.
const DEFAULT_WIDTH: usize = 80;

/// The width of the terminal on stderr (where the live lines go), else of stdout, else
/// `COLUMNS`, else 80.
pub fn terminal_width() -> usize {
    let from_terminal = terminal_size::terminal_size_of(io::stderr())
        .or_else(|| terminal_size::terminal_size_of(io::stdout()))
        .map(|(w, _)| w.0 as usize);
    from_terminal
        .or_else(|| {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse::<usize>().ok())
        })
        .filter(|&w| w >= 20)
        .unwrap_or(DEFAULT_WIDTH)
}

/// Whether live lines are drawn when the user did not say: stderr is a terminal that can
/// move its cursor.
pub fn live_by_default() -> bool {
    io::stderr().is_terminal() && std::env::var("TERM").as_deref() != Ok("dumb")
}

/// A handle of our own on stdout or stderr: a duplicate of the descriptor, taken when it is
/// made. While a test that runs alone has descriptors 1 and 2 pointed at its capture files
/// (as pytest's `--capture=fd`), the live lines and the console's lines still reach the
/// terminal instead of landing in that test's output.
#[cfg(unix)]
pub(crate) fn own_handle<S: Write + Send + std::os::fd::AsFd + 'static>(
    stream: S,
) -> Box<dyn Write + Send> {
    match stream.as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(stream),
    }
}

#[cfg(not(unix))]
pub(crate) fn own_handle<S: Write + Send + 'static>(stream: S) -> Box<dyn Write + Send> {
    Box::new(stream)
}

/// Who has the terminal: while a debugger talks on it (DESIGN section 4f) no live line is drawn
/// or erased. `on_screen`: how many live lines are shown now; `handovers`: how many times the terminal
/// was handed over, so that a line the handover erased is not erased again (the cursor is
/// no longer on it).
struct Terminal {
    held: bool,
    on_screen: usize,
    handovers: u64,
}

static TERMINAL: Mutex<Terminal> = Mutex::new(Terminal {
    held: false,
    on_screen: 0,
    handovers: 0,
});

fn terminal() -> std::sync::MutexGuard<'static, Terminal> {
    TERMINAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hands the terminal to a debugger: the live lines are erased and stay off until
/// [`release_terminal`]. The caller has given descriptor 2 back to the terminal.
pub fn hold_terminal() {
    let mut t = terminal();
    if t.held {
        return;
    }
    t.held = true;
    t.handovers += 1;
    if t.on_screen > 0 {
        let text = erase(t.on_screen);
        t.on_screen = 0;
        let mut err = io::stderr();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }
}

/// The debugger is done: live lines are drawn again.
pub fn release_terminal() {
    terminal().held = false;
}

/// The escape sequence that goes back to the first of `shown` lines and clears below.
fn erase(shown: usize) -> String {
    match shown {
        0 => String::from("\r"),
        1 => String::from("\r\x1b[J"),
        n => format!("\x1b[{}A\r\x1b[J", n - 1),
    }
}

pub struct LiveLines {
    enabled: bool,
    /// Only made when drawing is on (a descriptor is not duplicated for nothing).
    err: Option<Box<dyn Write + Send>>,
    width: usize,
    /// How many lines are on screen (0: nothing to clear).
    shown: usize,
    last: Option<Instant>,
    /// [`Terminal::handovers`] when the lines were last drawn.
    handovers: u64,
}

impl LiveLines {
    /// `enabled`: `None` decides by the terminal ([`live_by_default`]).
    pub fn new(enabled: Option<bool>) -> LiveLines {
        let enabled = enabled.unwrap_or_else(live_by_default);
        LiveLines {
            enabled,
            err: enabled.then(|| own_handle(io::stderr())),
            width: terminal_width(),
            shown: 0,
            last: None,
            handovers: 0,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Stops drawing for good (the run is over), clearing what is shown.
    pub fn disable(&mut self) {
        self.clear();
        self.enabled = false;
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether a redraw is due (enabled, and the last one is [`REDRAW_EVERY`] old).
    pub fn due(&self, now: Instant) -> bool {
        self.enabled
            && self
                .last
                .is_none_or(|t| now.duration_since(t) >= REDRAW_EVERY)
    }

    /// Whether lines are on screen (to put them back after printing something else).
    pub fn shown(&self) -> bool {
        self.shown > 0
    }

    /// Replaces what is shown with `lines`, each cut to the terminal's width (a line that
    /// wraps would leave its first rows behind when redrawn).
    pub fn draw(&mut self, lines: &[String]) {
        if !self.enabled {
            return;
        }
        let mut t = terminal();
        if t.held {
            return;
        }
        self.forget_erased(&t);
        let mut out = self.erase();
        let max = self.width.saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&fit(line, max));
        }
        self.write(&out);
        self.shown = lines.len();
        t.on_screen = self.shown;
        self.last = Some(Instant::now());
    }

    /// Removes the lines, leaving the cursor where they began.
    pub fn clear(&mut self) {
        let mut t = terminal();
        self.forget_erased(&t);
        if self.shown > 0 && !t.held {
            let out = self.erase();
            self.write(&out);
            self.shown = 0;
            t.on_screen = 0;
        }
    }

    /// Lines a handover erased are gone from the screen.
    fn forget_erased(&mut self, t: &Terminal) {
        if self.handovers != t.handovers {
            self.handovers = t.handovers;
            self.shown = 0;
        }
    }

    fn erase(&self) -> String {
        erase(self.shown)
    }

    fn write(&mut self, text: &str) {
        if let Some(err) = self.err.as_mut() {
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
        }
    }
}

impl Drop for LiveLines {
    /// A run that ends without clearing (an error, a panic) must not leave half lines.
    fn drop(&mut self) {
        self.clear();
    }
}

/// `line` as it fits in `max` columns: as is when it does, else its plain text cut (a cut
/// through an escape sequence would leave the terminal coloured).
fn fit(line: &str, max: usize) -> String {
    let plain = strip_ansi(line);
    if plain.chars().count() <= max {
        return line.to_owned();
    }
    plain.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_fits_keeps_its_colour_and_a_long_one_is_cut_plain() {
        assert_eq!(fit("\x1b[32mok\x1b[0m", 10), "\x1b[32mok\x1b[0m");
        assert_eq!(fit("\x1b[31mabcdefghij\x1b[0m", 4), "abcd");
        assert_eq!(fit("ééééé", 3), "ééé");
    }

    #[test]
    fn erasing_goes_back_to_the_first_line_shown() {
        let mut live = LiveLines {
            enabled: false,
            err: None,
            width: 80,
            shown: 0,
            last: None,
            handovers: 0,
        };
        assert_eq!(live.erase(), "\r");
        live.shown = 1;
        assert_eq!(live.erase(), "\r\x1b[J");
        live.shown = 3;
        assert_eq!(live.erase(), "\x1b[2A\r\x1b[J");
        live.shown = 0; // nothing to clear on drop
    }

    #[test]
    fn a_disabled_display_draws_nothing_and_is_never_due() {
        let mut live = LiveLines::new(Some(false));
        live.draw(&["x".into()]);
        assert!(!live.shown());
        assert!(!live.due(Instant::now()));
    }

    #[derive(Clone, Default)]
    struct Screen(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Screen {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn nothing_is_drawn_while_a_debugger_holds_the_terminal() {
        let screen = Screen::default();
        let mut live = LiveLines {
            enabled: true,
            err: Some(Box::new(screen.clone())),
            width: 80,
            shown: 0,
            last: None,
            handovers: 0,
        };
        let text = || String::from_utf8(std::mem::take(&mut *screen.0.lock().unwrap())).unwrap();
        live.draw(&["one".into()]);
        assert_eq!(text(), "\rone");
        hold_terminal();
        live.draw(&["two".into()]);
        live.clear();
        assert_eq!(text(), "");
        release_terminal();
        // The handover erased "one": the next line is drawn where the cursor is now.
        live.draw(&["three".into()]);
        assert_eq!(text(), "\rthree");
        live.enabled = false;
    }
}
