//! The guard of a run's network: a small shell process started before any
//! namespace, out of the launcher's process group, reading a pipe from the
//! launcher. When the launcher removed the network it writes `done` and the
//! guard exits; when the pipe closes without it (the launcher was killed,
//! SIGKILL included) the guard deletes every namespace of the run, which
//! takes their veths, the bridge and every qdisc with them.
//!
//! A shell script rather than a topolab subcommand: it needs nothing but
//! `ip`, which the network needs anyway, and no command-line surface.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::NetworkError;

/// What the launcher writes when it removed the network itself.
const DONE: &str = "done";

/// The launcher's end of a running guard.
pub struct Guard {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// The script: ignore the terminal's signals, wait for the pipe, and
/// unless told `done`, remove what the run made.
fn script(prefix: &str) -> String {
    format!(
        "trap '' INT HUP TERM QUIT\n\
         read said\n\
         [ \"$said\" = {DONE} ] && exit 0\n\
         {}",
        remove_all(prefix)
    )
}

/// Shell that deletes every namespace named `PREFIX-*` (one `ip` for all)
/// and the launcher's TAP device if it outlived its descriptor: all a
/// run's network is.
pub fn remove_all(prefix: &str) -> String {
    format!(
        "ip netns list | cut -d' ' -f1 | grep '^{prefix}-' | sed 's/^/netns del /' | ip -force -batch -\n\
         ip link del {prefix}g 2>/dev/null\n\
         exit 0\n"
    )
}

impl Guard {
    /// Starts the guard of the namespaces named `PREFIX-*`.
    pub fn start(prefix: &str) -> Result<Guard, NetworkError> {
        let mut child = Command::new("sh")
            .args(["-c", &script(prefix)])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(NetworkError::io("starting the network's guard"))?;
        let stdin = child.stdin.take();
        Ok(Guard { child, stdin })
    }

    /// The launcher removed the network: the guard exits, and is reaped.
    pub fn dismiss(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "{DONE}");
        }
        let _ = self.child.wait();
    }
}
