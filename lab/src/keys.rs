//! The dashboard's keys, for the lab on a terminal without a browser: each
//! becomes the same command the page would send (`set`, `pause`, `kill`,
//! `restart`), checked and applied by [`crate::control`].

use std::sync::Arc;

use serde_json::{Value, json};
use topolab_live::keys::Keys;
use topolab_model::Pattern;

use crate::session::Session;

/// The session's controls, run on its runtime from the dashboard's thread.
pub struct LabKeys {
    pub session: Arc<Session>,
    pub runtime: tokio::runtime::Handle,
}

impl LabKeys {
    fn apply(&self, command: Value) -> String {
        let session = self.session.clone();
        match self
            .runtime
            .block_on(async move { crate::control::apply(&session, &command).await })
        {
            Ok(done) => done,
            Err(e) => format!("refused: {e}"),
        }
    }
}

impl Keys for LabKeys {
    fn nudge(&self, generator: &str, up: bool) -> String {
        let now_s = self.session.now_s();
        let (open, level) = {
            let st = self.session.state.lock();
            let Some(i) = st.topology.load.iter().position(|g| g.name == generator) else {
                return format!("no generator {generator}");
            };
            let levels = crate::ghost::levels(&self.session, &st.topology, now_s);
            let open = matches!(st.topology.load[i].pattern, Pattern::Open { .. });
            (open, levels[i])
        };
        let step = if up { 1.0 } else { -1.0 };
        let to = (level.round() + step).max(1.0);
        let (key, value) = if open {
            ("rate", format!("{to}/s"))
        } else {
            ("clients", format!("{to}"))
        };
        self.apply(json!({"set": format!("load.{generator}.{key}"), "value": value}))
    }

    fn toggle_pause(&self, generator: &str) -> String {
        let paused = self
            .session
            .knobs
            .get(generator)
            .is_some_and(|k| k.get().paused);
        let verb = if paused { "resume" } else { "pause" };
        self.apply(json!({ verb: generator }))
    }

    fn kill(&self, replica: &str) -> String {
        self.apply(json!({ "kill": replica }))
    }

    fn restart(&self, replica: &str) -> String {
        self.apply(json!({ "restart": replica }))
    }
}
