//! The page, its script and its style, embedded in the binary: the lab
//! fetches nothing from the network. Opening `/?token=...` sets the
//! session cookie the page's own requests then carry.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::auth::COOKIE;
use crate::session::Session;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/lab.js");
const STYLE: &str = include_str!("page/lab.css");

/// The page, setting the session's cookie (it was opened with the token).
pub(crate) async fn index(State(session): State<Arc<Session>>) -> Response {
    let cookie = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        session.token
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        INDEX,
    )
        .into_response()
}

/// The page's script.
pub(crate) async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

/// The chain waterfall the report draws too (`TopolabChains`), with its
/// style, for a clicked dot.
pub(crate) async fn waterfall() -> Response {
    let script = format!(
        "{}\n(function () {{ var s = document.createElement('style'); s.textContent = {}; document.head.appendChild(s); }})();\n",
        topolab_results::report::chain_view::WATERFALL_JS,
        serde_json::Value::String(topolab_results::report::chain_view::STYLE.into())
    );
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        script,
    )
        .into_response()
}

/// The page's style.
pub(crate) async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}
