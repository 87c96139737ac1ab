//! The dashboard's controls, for people on SSH without a browser: the
//! dashboard only reads keys and names what they are for; whatever steers
//! the run (the lab) says what each one does, through [`Keys`].
//!
//! `Tab` picks a generator, `+`/`-` raise or lower its rate or clients,
//! `p` pauses or resumes it; `r` picks a replica, `k` kills it, `s` starts
//! it again.

use ratatui::crossterm::event::KeyCode;

/// What steers a run from the dashboard's keys. Each call returns what was
/// done (or why not), for the notices pane.
pub trait Keys: Send + Sync {
    /// Raises (`up`) or lowers a generator's rate or clients one step.
    fn nudge(&self, generator: &str, up: bool) -> String;
    /// Pauses a generator, or resumes a paused one.
    fn toggle_pause(&self, generator: &str) -> String;
    /// Kills a replica (`service#index`).
    fn kill(&self, replica: &str) -> String;
    /// Starts a killed replica again.
    fn restart(&self, replica: &str) -> String;
}

/// What the dashboard has picked.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Picked {
    pub generator: usize,
    pub replica: usize,
}

/// Applies one key press; what it did, for the notices pane (`None`: not a
/// control key).
pub fn press(
    keys: &dyn Keys,
    code: KeyCode,
    picked: &mut Picked,
    generators: &[String],
    replicas: &[String],
) -> Option<String> {
    let generator = generators.get(picked.generator);
    let replica = replicas.get(picked.replica);
    match code {
        KeyCode::Tab if !generators.is_empty() => {
            picked.generator = (picked.generator + 1) % generators.len();
            None
        }
        KeyCode::Char('r') if !replicas.is_empty() => {
            picked.replica = (picked.replica + 1) % replicas.len();
            None
        }
        KeyCode::Char('+' | '=') | KeyCode::Up => generator.map(|g| keys.nudge(g, true)),
        KeyCode::Char('-') | KeyCode::Down => generator.map(|g| keys.nudge(g, false)),
        KeyCode::Char('p') => generator.map(|g| keys.toggle_pause(g)),
        KeyCode::Char('k') => replica.map(|r| keys.kill(r)),
        KeyCode::Char('s') => replica.map(|r| keys.restart(r)),
        _ => None,
    }
}

/// The help line with controls.
pub const HELP: &str = " Tab: pick a generator  +/-: its rate or clients  p: pause  r: pick a replica  k: kill  s: restart  q: stop";

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Log(Mutex<Vec<String>>);

    impl Keys for Log {
        fn nudge(&self, g: &str, up: bool) -> String {
            self.0.lock().push(format!("nudge {g} {up}"));
            String::new()
        }
        fn toggle_pause(&self, g: &str) -> String {
            self.0.lock().push(format!("pause {g}"));
            String::new()
        }
        fn kill(&self, r: &str) -> String {
            self.0.lock().push(format!("kill {r}"));
            String::new()
        }
        fn restart(&self, r: &str) -> String {
            self.0.lock().push(format!("restart {r}"));
            String::new()
        }
    }

    #[test]
    fn keys_pick_then_act_on_what_is_picked() {
        let log = Log::default();
        let gens = ["a".to_string(), "b".to_string()];
        let reps = ["s#0".to_string(), "s#1".to_string()];
        let mut p = Picked::default();
        for code in [
            KeyCode::Char('+'),
            KeyCode::Tab,
            KeyCode::Char('-'),
            KeyCode::Char('p'),
            KeyCode::Char('r'),
            KeyCode::Char('k'),
            KeyCode::Char('s'),
            KeyCode::Tab,
            KeyCode::Up,
        ] {
            press(&log, code, &mut p, &gens, &reps);
        }
        assert_eq!(
            *log.0.lock(),
            [
                "nudge a true",
                "nudge b false",
                "pause b",
                "kill s#1",
                "restart s#1",
                "nudge a true"
            ]
        );
    }
}
