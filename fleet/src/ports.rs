//! Listening sockets for every replica, bound by the launcher on loopback port 0
//! before any process starts. The kernel picks free ports, the launcher learns
//! every address up front, and each child inherits its own socket, so no port
//! is ever chosen twice or stolen between "find a free port" and "bind it".

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use anyhow::Context;
use topolab_model::Topology;

/// One bound listener per replica, by service name in index order.
pub struct Listeners {
    pub by_service: BTreeMap<String, Vec<TcpListener>>,
}

impl Listeners {
    /// Binds `127.0.0.1:0` once per replica of every service.
    pub fn bind(topology: &Topology) -> anyhow::Result<Self> {
        let mut by_service = BTreeMap::new();
        for service in &topology.services {
            let mut listeners = Vec::with_capacity(service.replicas as usize);
            for i in 0..service.replicas {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                    .with_context(|| format!("binding a loopback port for {}#{i}", service.name))?;
                listeners.push(listener);
            }
            by_service.insert(service.name.clone(), listeners);
        }
        Ok(Listeners { by_service })
    }

    /// Every replica's address, the address book given to each replica.
    pub fn addresses(&self) -> anyhow::Result<BTreeMap<String, Vec<SocketAddr>>> {
        self.by_service
            .iter()
            .map(|(name, ls)| {
                let addrs = ls
                    .iter()
                    .map(TcpListener::local_addr)
                    .collect::<std::io::Result<Vec<_>>>()?;
                Ok((name.clone(), addrs))
            })
            .collect()
    }
}
