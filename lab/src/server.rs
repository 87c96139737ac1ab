//! The lab's HTTP server: the page and its assets, `GET /api/state`,
//! `GET /api/events` (Server-Sent Events, one frame five times a second),
//! `GET /api/chain/{trace id}` (a clicked dot's request chain) and
//! `POST /api/control`, all behind [`crate::auth::check`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::control::{self, Refused};
use crate::session::Session;

/// Serves the lab on `listener` until the process ends.
pub async fn serve(listener: TcpListener, session: Arc<Session>) -> std::io::Result<()> {
    let app = Router::new()
        .route("/", get(crate::page::index))
        .route("/lab.js", get(crate::page::script))
        .route("/lab.css", get(crate::page::style))
        .route("/waterfall.js", get(crate::page::waterfall))
        .route("/api/chain/{id}", get(chain))
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .route("/api/control", post(control))
        .layer(axum::middleware::from_fn_with_state(
            session.clone(),
            crate::auth::check,
        ))
        .with_state(session);
    axum::serve(listener, app).await
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// A request's chain, as the report embeds it (`trace::compact`), read from
/// the run folder's `traces.jsonl`: 404 while it is not there yet (the
/// collector writes about once a second, once a trace is complete) or if
/// its spans were not kept.
async fn chain(
    State(session): State<Arc<Session>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let folder = session
        .state
        .lock()
        .attached
        .as_ref()
        .map(|a| a.folder.clone());
    let Some(folder) = folder else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "the run has not started"}),
        );
    };
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "a trace id is 32 hex digits"}),
        );
    }
    // A scan of the file: off the server's threads.
    let found =
        tokio::task::spawn_blocking(move || topolab_results::trace::find(&folder, &id)).await;
    match found {
        Ok(Ok(t)) => json_response(
            StatusCode::OK,
            &json!({"chain": topolab_results::trace::compact::Chain::of(&t)}),
        ),
        Ok(Err(e)) => json_response(StatusCode::NOT_FOUND, &json!({"error": e.to_string()})),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": e.to_string()}),
        ),
    }
}

/// Settings and figures now.
async fn state(State(session): State<Arc<Session>>) -> Response {
    let st = session.state.lock();
    let settings: serde_json::Map<String, Value> = session
        .knobs
        .iter()
        .map(|(name, k)| {
            let s = k.get();
            (
                name.clone(),
                json!({"rate": s.rate, "clients": s.clients, "paused": s.paused}),
            )
        })
        .collect();
    let v = json!({
        "topology": crate::frames::shape(&st.topology),
        "running": st.attached.is_some() && !st.stopped,
        "sets": st.sets,
        "knobs": settings,
        "actions": st.actions,
        "now": st.latest,
    });
    json_response(StatusCode::OK, &v)
}

/// The stream of frames; a page that falls behind skips frames.
async fn events(
    State(session): State<Arc<Session>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = session.frames.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(frame) => return Some((Ok(Event::default().data(&*frame)), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// One command; 400 with the reason when refused, and nothing changed.
async fn control(State(session): State<Arc<Session>>, body: Bytes) -> Response {
    let command: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("not JSON: {e}")}),
            );
        }
    };
    match control::apply(&session, &command).await {
        Ok(done) => json_response(StatusCode::OK, &json!({"ok": done})),
        Err(e) => {
            let status = match e {
                Refused::NotRunning(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            json_response(status, &json!({"error": e.to_string()}))
        }
    }
}
