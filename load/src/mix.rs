//! Who a generator's next request goes to and as whom: a weighted pick among
//! the targets of its `mix` (one target is a mix of one), and the session key
//! of one of its `sessions` client identities.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use rand::Rng;
use topolab_model::Generator;
use topolab_services::trace::Exporter;

use super::target::Target;

/// The targets of one generator with their cumulative shares.
pub struct Mix {
    targets: Vec<Arc<Target>>,
    /// Cumulative shares, one per target; the last is the total.
    cumulative: Vec<f64>,
    sessions: u32,
    /// The generator's name, which prefixes its session keys.
    name: String,
}

impl Mix {
    /// Opens channels to every target of `generator`; a `rate` share of
    /// requests is traced into `tracer` (`None`: no tracing).
    pub fn new(
        generator: &Generator,
        peers: &BTreeMap<String, Vec<SocketAddr>>,
        tracer: Option<Exporter>,
        rate: f64,
    ) -> anyhow::Result<Self> {
        Self::check(generator, peers)?;
        let mut targets = Vec::new();
        let mut cumulative = Vec::new();
        let mut sum = 0.0;
        for w in &generator.mix {
            let addrs = &peers[&w.target.service];
            sum += w.share;
            cumulative.push(sum);
            let target = Target::new(&w.target, generator, addrs)?;
            targets.push(Arc::new(target.traced(tracer.clone(), rate)));
        }
        Ok(Mix {
            targets,
            cumulative,
            sessions: generator.sessions,
            name: generator.name.clone(),
        })
    }

    /// Its targets call the replicas `book` lists once the lab changes them.
    pub(crate) fn follow(&self, book: Arc<super::knob::Book>) {
        for t in &self.targets {
            t.follow(book.clone());
        }
    }

    /// Why [`Mix::new`] would fail for `generator`, found without opening
    /// anything: a run checks every generator before it starts any.
    pub fn check(
        generator: &Generator,
        peers: &BTreeMap<String, Vec<SocketAddr>>,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            !generator.mix.is_empty(),
            "generator {} has no target",
            generator.name
        );
        for w in &generator.mix {
            let addrs = peers
                .get(&w.target.service)
                .with_context(|| format!("no replicas for {}", w.target))?;
            anyhow::ensure!(!addrs.is_empty(), "{} has no replicas", w.target);
        }
        Ok(())
    }

    /// The first target (a following generator has exactly one).
    pub fn first(&self) -> Arc<Target> {
        self.targets[0].clone()
    }

    /// One target, each with the probability of its share.
    pub fn pick(&self, rng: &mut impl Rng) -> Arc<Target> {
        if self.targets.len() == 1 {
            return self.targets[0].clone();
        }
        self.targets[index(&self.cumulative, rng.random::<f64>())].clone()
    }

    /// A random identity's session key, `users-17`, or "" without sessions.
    pub fn random_session(&self, rng: &mut impl Rng) -> String {
        match self.sessions {
            0 => String::new(),
            n => session_key(&self.name, rng.random_range(0..n)),
        }
    }

    /// The session key of closed-loop client `c`: each client is one user,
    /// so it keeps its identity (clients share identities past `sessions`).
    pub fn client_session(&self, c: u32) -> String {
        match self.sessions {
            0 => String::new(),
            n => session_key(&self.name, c % n),
        }
    }
}

/// Which entry of `cumulative` shares (ascending, the last is the total) a
/// uniform `x` in `[0, 1)` falls in.
fn index(cumulative: &[f64], x: f64) -> usize {
    let total = cumulative.last().copied().unwrap_or(1.0);
    let i = cumulative.partition_point(|c| *c <= x * total);
    i.min(cumulative.len().saturating_sub(1))
}

/// The key identity `i` of generator `name` carries in `CallRequest.session`
/// (named after the generator, so two generators never share a user).
pub fn session_key(name: &str, i: u32) -> String {
    format!("{name}-{i}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn picks_follow_the_shares() {
        let cumulative = [0.8, 1.0];
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            counts[index(&cumulative, rng.random::<f64>())] += 1;
        }
        assert!((7_700..8_300).contains(&counts[0]), "{counts:?}");
        assert_eq!(index(&cumulative, 0.0), 0);
        assert_eq!(index(&cumulative, 0.999_999), 1);
        assert_eq!(index(&[1.0], 0.5), 0);
    }

    #[test]
    fn session_keys_name_the_identity() {
        assert_eq!(session_key("users", 17), "users-17");
    }
}
