//! What the commands print on stdout goes through [`out!`] and [`outln!`]:
//! when the reader has gone away (`topolab trace RUN | head -1`), the command
//! stops there and exits 0, quietly, as `cat` or `rg` do, instead of
//! panicking on the closed pipe. A panic hook catches the same condition
//! anywhere else (a stray `println!`, stderr closed), so no command shows a
//! panic for it.

use std::io::{ErrorKind, Write};

/// Writes to stdout; a closed pipe ends the process with exit 0.
pub fn write(args: std::fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // Any other failure (a full disk) is worth a word on stderr.
        let _ = writeln!(std::io::stderr(), "error: cannot write to stdout: {e}");
        std::process::exit(2);
    }
}

/// `print!` for commands' output: see the module's doc.
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::write(format_args!($($arg)*)) };
}

/// `println!` for commands' output: see the module's doc.
macro_rules! outln {
    () => { $crate::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}

pub(crate) use {out, outln};

/// Makes a panic caused by a closed stdout or stderr (`println!` and
/// `eprintln!` panic on EPIPE, since Rust ignores SIGPIPE) a quiet exit 0;
/// every other panic is reported as before.
pub fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}
