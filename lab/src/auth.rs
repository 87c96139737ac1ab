//! Nobody else drives your lab: every request must carry the session's
//! token (the page's cookie, `Authorization: Bearer TOKEN`, or `?token=`),
//! or it is refused with 401; a POST whose `Origin` is not this server's
//! is refused with 403 whatever it carries. Opening the page with
//! `?token=` sets the cookie, so the page's own requests carry it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::session::Session;

/// The cookie the page keeps the token in.
pub const COOKIE: &str = "topolab_lab";

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries, wherever it carries it.
fn carried(headers: &HeaderMap, query: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        out.push(t.trim().to_string());
    }
    for c in headers.get_all(header::COOKIE) {
        for part in c.to_str().unwrap_or("").split(';') {
            if let Some((k, v)) = part.trim().split_once('=')
                && k == COOKIE
            {
                out.push(v.to_string());
            }
        }
    }
    if let Some(q) = query {
        for pair in q.split('&') {
            if let Some(t) = pair.strip_prefix("token=") {
                out.push(t.to_string());
            }
        }
    }
    out
}

/// A POST's `Origin`, when it names another server than the one asked.
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or(origin);
    !same(bare, host)
}

/// The middleware in front of every route.
pub async fn check(State(session): State<Arc<Session>>, req: Request, next: Next) -> Response {
    if req.method() == Method::POST && foreign_origin(req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "refused: a POST from another origin cannot drive this lab\n",
        )
            .into_response();
    }
    let tokens = carried(req.headers(), req.uri().query());
    if !tokens.iter().any(|t| same(t, &session.token)) {
        return (
            StatusCode::UNAUTHORIZED,
            "refused: this lab needs its session token (open the URL `topolab lab` printed, or send `Authorization: Bearer TOKEN`)\n",
        )
            .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_token_is_found_in_each_place() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("x=1; topolab_lab=def"),
        );
        assert_eq!(carried(&h, Some("a=1&token=ghi")), ["abc", "def", "ghi"]);
    }

    #[test]
    fn only_another_origin_is_foreign() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!foreign_origin(&h), "no Origin: a script, not a page");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!foreign_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(foreign_origin(&h));
    }
}
