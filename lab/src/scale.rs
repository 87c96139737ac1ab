//! A running service's replicas up and down (`set services.S.replicas`).
//!
//! Up: a replica parked by an earlier "down" is taken back first, else a
//! fresh process is started the way the run started the others (next
//! index); once it answers its health check, its telemetry is polled and
//! every replica is told the service's new address list over
//! `Control/SetPeers` (those that do not call it ignore it), and every
//! generator that calls it directly through the knobs' address book
//! (`topolab_load::knob::Book`), so balancers, callers and generators
//! spread their calls over it from then on.
//!
//! Down: the highest indexes leave every caller's list first; the calls
//! they hold then finish (drain), and they are parked: idle, still
//! running, so their figures reach the summary, and counted against the
//! process cap until the lab ends.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::transport::Endpoint;
use topolab_proto::v1::SetPeersRequest;
use topolab_proto::v1::control_client::ControlClient;

use crate::control::Refused;
use crate::session::Session;

/// Held while replicas change (see [`to`]).
static SCALING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a new replica may take to answer its health check.
const HEALTHY_WITHIN: Duration = Duration::from_secs(10);
/// How long removed replicas may take to finish the calls they hold.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Sets `service`'s replicas in use to `target` (already checked by the
/// topology's validator: at least 1, within the process cap it knows).
pub async fn to(session: Arc<Session>, service: String, target: u32) -> Result<String, Refused> {
    let service = service.as_str();
    // One change of replicas at a time: two at once would number their new
    // processes alike.
    let _one = SCALING.lock().await;
    let (fleet, mut peers, parked) = {
        let st = session.state.lock();
        // Cannot fail: the caller checked the lab is running.
        let a = st.attached.as_ref().expect("checked running");
        (
            a.fleet.upgrade(),
            a.peers.clone(),
            a.parked.get(service).cloned().unwrap_or_default(),
        )
    };
    let fleet = fleet.ok_or(Refused::NotRunning("the lab is stopping"))?;
    let in_use = peers.get(service).cloned().unwrap_or_default();
    let now = in_use.len() as u32;
    let used: u32 = peers.values().map(|v| v.len() as u32).sum();
    let idle: u32 = session
        .state
        .lock()
        .attached
        .as_ref()
        .map_or(0, |a| a.parked.values().map(|v| v.len() as u32).sum());
    let started = (target as usize).saturating_sub(in_use.len() + parked.len()) as u32;
    let cap = session.setup.limits.processes;
    if used + idle + started > cap {
        return Err(Refused::Invalid(format!(
            "{target} replica(s) of {service} need {started} more process(es): {used} in use and {idle} parked, the process cap is {cap} (--max-processes)"
        )));
    }
    if target == now {
        return Ok(format!("{service} keeps {now} replica(s)"));
    }
    let mut list = in_use.clone();
    let mut parked = parked;
    if target > now {
        // Every replica going into use is checked healthy (a parked one
        // too); each process started is polled for telemetry at once.
        let (mut joining, mut fresh) = (Vec::new(), Vec::new());
        let mut failed = None;
        while (list.len() as u32) < target {
            let index = list.len() as u32;
            let addr = if parked.is_empty() {
                let mut book = peers.clone();
                book.insert(service.to_string(), list.clone());
                let topology = session.state.lock().topology.clone();
                let started = topolab_fleet::grow::spawn_next(
                    &mut fleet.lock(),
                    service,
                    index,
                    &book,
                    &topology,
                );
                match started {
                    Ok(addr) => {
                        fresh.push((index, addr));
                        addr
                    }
                    Err(e) => {
                        failed = Some(format!("starting {service}#{index}: {e:#}"));
                        break;
                    }
                }
            } else {
                parked.remove(0)
            };
            joining.push((format!("{service}#{index}"), addr));
            list.push(addr);
        }
        let joiner = session
            .state
            .lock()
            .attached
            .as_ref()
            .map(|a| a.joiner.clone());
        for (index, addr) in &fresh {
            if let Some(j) = &joiner
                && let Err(e) = j.add(service, *index, *addr)
            {
                topolab_notice::say(format!("lab: {service}#{index} is not polled: {e:#}"));
            }
        }
        if failed.is_none()
            && let Err(e) =
                topolab_fleet::health::wait_addrs_healthy(&joining, HEALTHY_WITHIN).await
        {
            failed = Some(format!("{e:#}"));
        }
        if let Some(why) = failed {
            // No caller was told: what was started waits parked, keeping
            // the indexes contiguous, and counts against the cap.
            let mut back = list.split_off(now as usize);
            back.append(&mut parked);
            if let Some(a) = session.state.lock().attached.as_mut() {
                a.parked.insert(service.to_string(), back);
            }
            return Err(Refused::Invalid(why));
        }
        peers.insert(service.to_string(), list.clone());
        tell_callers(&peers, &parked_all(&session), service, &list).await;
        tell_generators(&session, service, &list);
    } else {
        let leaving = list.split_off(target as usize);
        peers.insert(service.to_string(), list.clone());
        tell_callers(&peers, &parked_all(&session), service, &list).await;
        tell_generators(&session, service, &list);
        drain(service, &leaving).await;
        let mut back = leaving;
        back.append(&mut parked);
        parked = back;
    }
    topolab_fleet::grow::remember(&mut fleet.lock(), service, &list);
    if let Some(a) = session.state.lock().attached.as_mut() {
        a.peers.insert(service.to_string(), list);
        a.parked.insert(service.to_string(), parked);
    }
    Ok(format!("{service}: {now} -> {target} replica(s)"))
}

/// The generators that call `service` directly send to `list` from their
/// next request (every knob shares one address book).
fn tell_generators(session: &Session, service: &str, list: &[SocketAddr]) {
    if let Some(k) = session.knobs.values().next() {
        k.set_addrs(service, list.to_vec());
    }
}

/// Every parked replica, whose lists must stay current too (one may be
/// taken back later).
fn parked_all(session: &Session) -> BTreeMap<String, Vec<SocketAddr>> {
    session
        .state
        .lock()
        .attached
        .as_ref()
        .map(|a| a.parked.clone())
        .unwrap_or_default()
}

/// Tells every replica (in use or parked) that `service` is now at `list`.
async fn tell_callers(
    peers: &BTreeMap<String, Vec<SocketAddr>>,
    parked: &BTreeMap<String, Vec<SocketAddr>>,
    service: &str,
    list: &[SocketAddr],
) {
    let addrs: Vec<String> = list.iter().map(ToString::to_string).collect();
    // Owned before any await: the handler's future must be `Send` for any
    // lifetime, which borrowing closures in an iterator chain defeat.
    let everyone: Vec<SocketAddr> = peers
        .iter()
        .chain(parked)
        .filter(|(s, _)| s.as_str() != service)
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let mut sends = Vec::with_capacity(everyone.len());
    for at in everyone {
        let req = SetPeersRequest {
            callee: service.to_string(),
            addrs: addrs.clone(),
        };
        sends.push(tell(at, req));
    }
    futures::future::join_all(sends).await;
}

/// One `Control/SetPeers`. A killed replica cannot be told; a restarted one
/// starts from its configuration, which [`topolab_fleet::grow::remember`]
/// keeps current.
async fn tell(at: SocketAddr, req: SetPeersRequest) {
    let told = async {
        let channel = Endpoint::from_shared(format!("http://{at}"))?
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(1))
            .connect()
            .await?;
        ControlClient::new(channel).set_peers(req).await?;
        Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
    };
    let _ = told.await;
}

/// Waits until the replicas at `leaving` hold no call (or [`DRAIN_LIMIT`]).
async fn drain(service: &str, leaving: &[SocketAddr]) {
    let book = BTreeMap::from([(service.to_string(), leaving.to_vec())]);
    let until = Instant::now() + DRAIN_LIMIT;
    // Calls picked just before the lists changed may still be on their way.
    tokio::time::sleep(Duration::from_millis(100)).await;
    while topolab_telemetry::figures::held(&book).await > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
