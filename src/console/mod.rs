//! The analyst console: the alert queue, alert pages, device image timelines and the change
//! calendar's forms, served on the API's port by the same axum app.
//!
//! Pages (`/`, `/alerts/{id}`, `/devices/{id}`, `/changes`) are public shells that hold no
//! data; their script fetches server-rendered fragments (`/console/part/…`) and calls the JSON
//! API, both behind the API's bearer token, sent as an `Authorization` header. So the token is
//! never in a URL nor in a cookie, and pages need no state of their own. Templates (askama) and
//! assets are compiled into the binary: no CDN, no JavaScript build step.

mod alert_page;
mod changes_page;
mod device_page;
mod queue;
mod timeline;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::correlate::Severity;
use crate::serve::Shared;
use crate::serve::api::auth;
use crate::serve::api_error::{ApiError, no_route};
use crate::suppress::Alert;

const SCRIPT: &str = include_str!("static/console.js");
const STYLE: &str = include_str!("static/console.css");

/// The console's routes: shells and assets for anyone who can reach the port, fragments
/// behind the token like the API.
pub(crate) fn router(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    let parts = Router::new()
        .route("/console/part/queue", get(queue::part))
        .route("/console/part/alerts/{id}", get(alert_page::part))
        .route("/console/part/devices/{id}", get(device_page::part))
        .route("/console/part/changes", get(changes_page::part))
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), auth));
    Router::new()
        .route("/", get(queue::page))
        .route("/alerts/{id}", get(alert_page::page))
        .route("/devices/{id}", get(device_page::page))
        .route("/changes", get(changes_page::page))
        .route("/console/console.js", get(script))
        .route("/console/console.css", get(style))
        .merge(parts)
        .route("/console/{*rest}", get(no_route))
        .layer(middleware::map_response(page_headers))
}

/// Pages load only their own script and style, cannot be framed and send no referrer (a
/// device or alert id in the path stays here).
async fn page_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

/// A rendered template as HTML; a template that fails to render is a 500 in the API's shape.
fn html(template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => Html(body).into_response(),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// A page that is a heading and a fragment loaded into it.
#[derive(Template)]
#[template(path = "shell.html")]
struct Shell {
    title: String,
    nav: &'static str,
    heading: String,
    part: String,
}

/// A path segment percent-encoded, for a fragment's URL.
fn segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A shell for one item: `kind` is `alerts` or `devices`.
fn item_shell(kind: &str, heading: String, id: &str) -> Response {
    html(&Shell {
        title: heading.clone(),
        nav: "",
        heading,
        part: format!("/console/part/{kind}/{}", segment(id)),
    })
}

/// Severity as a word and a shape, so it does not rest on colour.
fn sev_icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "‼",
        Severity::High => "▲",
        Severity::Medium => "◆",
        Severity::Low => "▽",
        Severity::Info => "○",
    }
}

/// What the calendar did with an alert, in words and as a CSS class.
fn status(alert: &Alert) -> (String, &'static str) {
    match (&alert.suppressed_by, &alert.escalated_by) {
        (Some(by), _) => (format!("Suppressed by {by}"), "suppressed"),
        (None, Some(by)) => (format!("Escalated: outside {by}"), "escalated"),
        (None, None) => ("Not covered".to_string(), "open"),
    }
}

/// The 404 of a console fragment.
fn not_found(what: &str, id: &str) -> Response {
    ApiError::new(StatusCode::NOT_FOUND, format!("no {what} {id:?}")).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}
