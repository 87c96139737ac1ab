//! `/metrics` of a replica: a registry holding the [`ReplicaCollector`] and a
//! small HTTP/1.1 server (axum, already under tonic) on a port of its own,
//! answering Prometheus scrapes with OpenMetrics text until shutdown.

pub mod collector;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

pub use collector::{Buckets, ReplicaCollector};

use crate::replica::Replica;
use crate::shutdown::Shutdown;

/// The content type of OpenMetrics text, which Prometheus asks for first.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry `/metrics` encodes: the replica's figures, read at scrape time.
pub fn registry(replica: Arc<Replica>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ReplicaCollector::new(replica)));
    registry
}

/// The metrics as OpenMetrics text (what a scrape receives).
pub fn render(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok(text)
}

/// Serves `GET /metrics` on `listener` until `shutdown`.
pub async fn serve(
    replica: Arc<Replica>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(scrape))
        .with_state(Arc::new(registry(replica)));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
}

async fn scrape(State(registry): State<Arc<Registry>>) -> impl IntoResponse {
    match render(&registry) {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("encoding metrics: {e}\n"),
        ),
    }
}
