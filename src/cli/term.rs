//! The terminal the report is printed on: its width and whether to colour it.

use std::io::IsTerminal;

use crate::report::{TermStyle, DEFAULT_WIDTH, MIN_WIDTH};

/// `--color`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// When standard output is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Also into pipes and files
    Always,
    /// No colour
    Never,
}

impl ColorChoice {
    /// Whether to colour, given whether the output is a terminal and `NO_COLOR`'s value.
    pub fn resolve(self, to_terminal: bool, no_color: Option<&str>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => to_terminal && no_color.is_none_or(str::is_empty),
        }
    }
}

/// The width to lay the report out in: `COLUMNS` when it holds a number, else the size of
/// the terminal standard output is, else [`DEFAULT_WIDTH`].
pub fn width() -> usize {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&w| w > 0);
    from_env
        .or_else(tty_columns)
        .unwrap_or(DEFAULT_WIDTH)
        .max(MIN_WIDTH)
}

/// The style for output written to standard output (`to_file`: written to `--out` instead,
/// which is no terminal).
pub fn style(choice: ColorChoice, to_file: bool) -> TermStyle {
    let to_terminal = !to_file && std::io::stdout().is_terminal();
    let no_color = std::env::var("NO_COLOR").ok();
    TermStyle {
        width: width(),
        color: choice.resolve(to_terminal, no_color.as_deref()),
    }
}

#[cfg(unix)]
fn tty_columns() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct passed, which we own and which
    // lives across the call; on anything but a terminal the call fails and writes nothing.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(not(unix))]
fn tty_columns() -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use super::ColorChoice;

    #[test]
    fn no_color_and_the_choice() {
        assert!(ColorChoice::Auto.resolve(true, None));
        assert!(ColorChoice::Auto.resolve(true, Some("")));
        assert!(!ColorChoice::Auto.resolve(true, Some("1")));
        assert!(!ColorChoice::Auto.resolve(false, None));
        assert!(ColorChoice::Always.resolve(false, Some("1")));
        assert!(!ColorChoice::Never.resolve(true, None));
    }
}
