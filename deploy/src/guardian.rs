//! The guardian of a Swarm run: a small `topolab` process, started before the
//! stack is deployed, in its own process group, with a pipe from the
//! launcher as its stdin. When the launcher ends normally it writes `done`
//! and the guardian exits; when the pipe closes without it (the launcher was
//! killed, even with SIGKILL or with its whole process group), the guardian
//! removes the stack and the load driver and waits until nothing of them is
//! left. So no stack outlives its run.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};

use anyhow::Context;

use crate::swarm;

/// The hidden subcommand that runs [`watch`] (`topolab __swarm-guard STACK`).
pub const COMMAND: &str = "__swarm-guard";
/// What the launcher writes when it removed the stack itself.
const DONE: &str = "done";

/// The launcher's end of a running guardian.
pub struct Guardian {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Guardian {
    /// Starts `binary __swarm-guard STACK`, out of the launcher's process
    /// group so that a signal to the group (a terminal's, a supervisor's)
    /// leaves it running to clean up.
    pub fn start(binary: &std::path::Path, stack: &str) -> anyhow::Result<Self> {
        let mut child = Command::new(binary)
            .args([COMMAND, stack])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting the stack's guardian")?;
        let stdin = child.stdin.take();
        Ok(Guardian { child, stdin })
    }

    /// The launcher removed the stack: tells the guardian to exit and reaps it.
    pub fn dismiss(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(DONE.as_bytes());
        }
        let _ = self.child.wait();
    }

    /// The launcher could not remove the stack: closes the pipe without
    /// `done`, so the guardian keeps trying after the launcher has exited.
    pub fn hand_over(mut self) {
        drop(self.stdin.take());
    }
}

/// The guardian's body: waits until the launcher's pipe closes; unless it
/// said `done`, removes `stack` and its driver and waits until they are gone.
pub fn watch(stack: &str) -> anyhow::Result<()> {
    // A terminal's Ctrl-C or hang-up must not stop the clean-up half way.
    // (libc: rustix does not wrap signal dispositions outside its `runtime`.)
    // SAFETY: setting a signal's disposition to "ignore" has no handler to race.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    let mut said = String::new();
    // A read error counts as a closed pipe: removing twice is harmless.
    let _ = std::io::stdin().take(64).read_to_string(&mut said);
    if said.trim() == DONE {
        return Ok(());
    }
    eprintln!("the launcher of stack {stack} ended without removing it; removing it");
    swarm::remove(stack)?;
    eprintln!("stack {stack} removed");
    Ok(())
}
