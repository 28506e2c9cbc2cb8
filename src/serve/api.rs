//! The HTTP API (axum): health, metrics, alerts, device state, tickets, windows and rule
//! reload. Every `/api/` route needs the bearer token when one is configured.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::alert_query::AlertParams;
use super::api_error::{ApiError, ApiJson, ApiPath, ApiQuery, no_route, wrong_method};
use super::calendar_api::{CalendarEntries, EntryKind, file_owns, with_source};
use super::calendar_audit::{Action, CalendarAudit, Change};
use super::same_origin::same_origin;
use super::triage_api::{get_alert, post_triage};
use super::{Shared, device_view};

/// Largest request body accepted, in bytes.
pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/alerts", get(alerts))
        .route("/alerts/{id}", get(get_alert))
        .route("/alerts/{id}/triage", post(post_triage))
        .route("/devices", get(devices))
        .route("/coverage", get(coverage))
        .route("/devices/{id}", get(device))
        .route("/tickets", get(list_tickets).post(post_ticket))
        .route("/tickets/{id}", get(get_ticket).delete(delete_ticket))
        .route("/windows", get(list_windows).post(post_window))
        .route("/windows/{id}", get(get_window).delete(delete_window))
        .route("/calendar/audit", get(calendar_audit))
        .route("/reload", post(reload))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), auth));
    // With a token, the metrics (device counts, rates, sink state) are behind it too, unless
    // the operator says they are public.
    let metrics_route = Router::new().route("/metrics", get(metrics));
    let metrics_route = if shared.config.metrics_public {
        metrics_route
    } else {
        metrics_route.layer(middleware::from_fn_with_state(Arc::clone(&shared), auth))
    };
    Router::new()
        .route("/healthz", get(health))
        .merge(metrics_route)
        .nest("/api/v1", api)
        .merge(crate::console::router(Arc::clone(&shared)))
        .layer(middleware::from_fn(same_origin))
        .layer(DefaultBodyLimit::max(shared.config.max_body))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            limit_body,
        ))
        .with_state(shared)
}

/// An error no single field is to blame for, in the API's one error shape.
fn error(status: StatusCode, reason: impl Into<String>) -> Response {
    ApiError::new(status, reason).into_response()
}

/// Compares the bearer token in constant time (`subtle`): the time taken depends on the
/// expected token's length only, not on where a guess differs nor on whether its length is
/// right, so timing tells an attacker nothing about the token.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    // Every byte of the expected token is compared whatever was sent; the length check joins
    // the verdict without a branch instead of returning early.
    let mut same = (given.len() as u64).ct_eq(&(expected.len() as u64));
    for (i, want) in expected.iter().enumerate() {
        same &= given.get(i).copied().unwrap_or(0).ct_eq(want);
    }
    bool::from(same)
}

/// The bearer-token check; the console's data routes take it too.
pub(crate) async fn auth(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    if let Some(token) = &shared.config.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(given.as_bytes(), token.expose().as_bytes()) {
            return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        }
    }
    next.run(req).await
}

/// Refuses a declared body over `max_body` before anything reads it, and counts every 413
/// (also those of extractors meeting a longer chunked body).
async fn limit_body(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max = shared.config.max_body;
    let response = if declared.is_some_and(|n| n > max as u64) {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body over {max} bytes"),
        )
    } else {
        next.run(req).await
    };
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        shared.metrics.api_body_too_large.inc();
    }
    response
}

/// `ok` while every sink delivers; 503 with the sinks that have failed for longer than
/// `sink_unhealthy_after_secs` (each with its target and the last reason), so a monitor sees
/// alerts that are not leaving the service.
async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let allowed = std::time::Duration::from_secs(shared.config.sink_unhealthy_after_secs);
    let failing = shared.outbox.failing_longer_than(allowed);
    if failing.is_empty() {
        return "ok\n".into_response();
    }
    let body = json!({"status": "failing", "sinks": failing});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    shared
        .metrics
        .state_bytes
        .set(shared.store.size_on_disk() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(),
    )
        .into_response()
}

/// Newest first; `severity` is a minimum; `since`/`until` bound `last_seen`/`first_seen`;
/// `escalated` and `triage` (a state, or `none`) filter too. Each alert carries its triage.
async fn alerts(State(shared): State<Arc<Shared>>, ApiQuery(q): ApiQuery<AlertParams>) -> Response {
    let inventory = Arc::clone(&shared.configured.load().inventory);
    let filter = match q.filter(|d| inventory.device_id(d)) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let store = shared.store.clone();
    let (limit, cursor) = (q.limit(), q.cursor);
    match tokio::task::spawn_blocking(move || filter.page(&store, limit, cursor)).await {
        Ok(Ok(page)) => Json(json!({"alerts": page.alerts, "next": page.next})).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
struct DeviceQuery {
    limit: Option<usize>,
    after: Option<String>,
}

/// A page of devices in id order, read from the state store: `?limit=` (default 100, at most
/// 1000) and `?after=` (the `next` of the previous page).
async fn devices(
    State(shared): State<Arc<Shared>>,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    // The workers write a busy machine once per interval: what they processed first.
    shared.sync().await;
    let store = shared.store.clone();
    let after = q.after;
    let page =
        tokio::task::spawn_blocking(move || store.devices_after(after.as_deref(), limit + 1)).await;
    let mut page = match page {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let next = (page.len() > limit).then(|| {
        page.truncate(limit);
        page.last().map(|m| m.device.clone())
    });
    let list: Vec<Value> = page.iter().map(|m| summary(&device_view(m))).collect();
    Json(json!({"devices": list, "next": next.flatten()})).into_response()
}

/// Every device and sender seen since start, and every inventory device: lines, signal kinds,
/// whether commands and boots arrive, what to enable (`imagewatch coverage`'s report). Only the
/// kinds sequences use reach the workers, and lines are counted per sender address.
async fn coverage(State(shared): State<Arc<Shared>>) -> Response {
    let inventory = Arc::clone(&shared.configured.load().inventory);
    let devices = shared.sightings.report(&inventory);
    Json(json!({ "devices": devices })).into_response()
}

fn summary(v: &Value) -> Value {
    json!({
        "device": v["device"],
        "vendor": v["vendor"],
        "baseline": v["baseline"],
        "running": v["running"],
        "pending": v["pending"].as_array().map_or(0, Vec::len),
        "open_alerts": v["open_alerts"],
        "last_signal": v["last_signal"],
    })
}

/// One device, read from the state store once the workers have written what they processed
/// (they write a busy machine once per interval otherwise).
async fn device(State(shared): State<Arc<Shared>>, ApiPath(id): ApiPath<String>) -> Response {
    shared.sync().await;
    let store = shared.store.clone();
    // An alias, an address or a domain-qualified name finds the device as a line would.
    let key = shared.configured.load().inventory.device_id(&id);
    let found = tokio::task::spawn_blocking(move || store.device(&key)).await;
    match found {
        Ok(Ok(Some(m))) => Json(device_view(&m)).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no device {id:?}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Every entry of `kind` in force, the file's and the API's, each with its `source`.
async fn list_entries(shared: &Shared, kind: EntryKind) -> Response {
    let file = Arc::clone(&shared.configured.load().file_calendar);
    match CalendarEntries::open(&shared.store).and_then(|c| c.in_force(kind, &file)) {
        Ok(list) => Json(json!({ kind.plural(): list })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The 409 for an id `changes.yaml` defines: the file's entry stays what the file says.
fn owned_by_file(shared: &Shared, kind: EntryKind, id: &str) -> Response {
    let file = shared
        .config
        .changes
        .as_ref()
        .map_or_else(|| "changes.yaml".to_owned(), |p| p.display().to_string());
    ApiError {
        status: StatusCode::CONFLICT,
        reason: format!(
            "id: {} {id:?} is defined in {file}; change it there, or use another id",
            kind.noun()
        ),
        field: Some("id".into()),
    }
    .into_response()
}

/// Records a calendar change in the audit trail and the log, then puts the new calendar in
/// force.
async fn apply_change(shared: &Shared, change: Change<'_>) -> Result<(), Response> {
    let recorded = CalendarAudit::open(&shared.store).and_then(|a| a.record(&change));
    tracing::info!(
        action = change.action.as_str(),
        kind = change.kind.noun(),
        id = change.id,
        from = %change.from,
        old = %change.old.map_or_else(|| "none".to_owned(), |v| v.to_string()),
        new = %change.new.map_or_else(|| "none".to_owned(), |v| v.to_string()),
        "Calendar changed through the API."
    );
    if let Err(e) = recorded {
        tracing::error!(error = %e, id = change.id, "Calendar change not recorded in the audit trail.");
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
    }
    shared
        .apply_calendar()
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

async fn post_entry(shared: &Shared, kind: EntryKind, body: Value, from: SocketAddr) -> Response {
    // The file's id first: whatever else the body says, that entry is not the API's to set.
    if let Some(id) = body["id"].as_str()
        && file_owns(kind, id, &shared.configured.load().file_calendar)
    {
        return owned_by_file(shared, kind, id);
    }
    let id = match CalendarEntries::validate(kind, &body) {
        Ok(id) => id,
        Err(e) => {
            let mut refused = ApiError::new(StatusCode::BAD_REQUEST, e.reason);
            refused.field = e.field;
            return refused.into_response();
        }
    };
    let stored = CalendarEntries::open(&shared.store).and_then(|c| c.put(kind, &id, &body));
    let old = match stored {
        Ok(old) => old,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let change = Change {
        action: if old.is_some() {
            Action::Replace
        } else {
            Action::Create
        },
        kind,
        id: &id,
        from,
        old: old.as_ref(),
        new: Some(&body),
    };
    if let Err(refused) = apply_change(shared, change).await {
        return refused;
    }
    (StatusCode::CREATED, Json(with_source(body, "api"))).into_response()
}

async fn get_entry(shared: &Shared, kind: EntryKind, id: &str) -> Response {
    let file = Arc::clone(&shared.configured.load().file_calendar);
    match CalendarEntries::open(&shared.store).and_then(|c| c.find(kind, id, &file)) {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no entry {id:?}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn delete_entry(shared: &Shared, kind: EntryKind, id: &str, from: SocketAddr) -> Response {
    match CalendarEntries::open(&shared.store).and_then(|c| c.delete(kind, id)) {
        Ok(Some(old)) => {
            let change = Change {
                action: Action::Delete,
                kind,
                id,
                from,
                old: Some(&old),
                new: None,
            };
            match apply_change(shared, change).await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(refused) => refused,
            }
        }
        Ok(None) if file_owns(kind, id, &shared.configured.load().file_calendar) => {
            owned_by_file(shared, kind, id)
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no entry {id:?}")),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The peer address of a request: the service serves the API with it (see `serve::start`).
type Peer = ConnectInfo<SocketAddr>;

async fn list_tickets(State(s): State<Arc<Shared>>) -> Response {
    list_entries(&s, EntryKind::Ticket).await
}
async fn post_ticket(
    State(s): State<Arc<Shared>>,
    ConnectInfo(from): Peer,
    ApiJson(body): ApiJson<Value>,
) -> Response {
    post_entry(&s, EntryKind::Ticket, body, from).await
}
async fn get_ticket(State(s): State<Arc<Shared>>, ApiPath(id): ApiPath<String>) -> Response {
    get_entry(&s, EntryKind::Ticket, &id).await
}
async fn delete_ticket(
    State(s): State<Arc<Shared>>,
    ConnectInfo(from): Peer,
    ApiPath(id): ApiPath<String>,
) -> Response {
    delete_entry(&s, EntryKind::Ticket, &id, from).await
}
async fn list_windows(State(s): State<Arc<Shared>>) -> Response {
    list_entries(&s, EntryKind::Window).await
}
async fn post_window(
    State(s): State<Arc<Shared>>,
    ConnectInfo(from): Peer,
    ApiJson(body): ApiJson<Value>,
) -> Response {
    post_entry(&s, EntryKind::Window, body, from).await
}
async fn get_window(State(s): State<Arc<Shared>>, ApiPath(id): ApiPath<String>) -> Response {
    get_entry(&s, EntryKind::Window, &id).await
}
async fn delete_window(
    State(s): State<Arc<Shared>>,
    ConnectInfo(from): Peer,
    ApiPath(id): ApiPath<String>,
) -> Response {
    delete_entry(&s, EntryKind::Window, &id, from).await
}

#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<usize>,
    before: Option<u64>,
}

/// The calendar's audit trail, newest first: `?limit=` (default 100, at most 1000) and
/// `?before=` (the `next` of the previous page).
async fn calendar_audit(
    State(shared): State<Arc<Shared>>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Response {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    match CalendarAudit::open(&shared.store).and_then(|a| a.page(q.before, limit)) {
        Ok((changes, next)) => Json(json!({"changes": changes, "next": next})).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn reload(State(shared): State<Arc<Shared>>) -> Response {
    match shared.reload().await {
        Ok(summary) => Json(json!({"reloaded": true, "summary": summary})).into_response(),
        Err(reason) => {
            tracing::error!(%reason, "Reload through the API failed; the previous rules stay in force.");
            (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(
                json!({"reloaded": false, "error": reason, "field": null, "kept": "previous rules and calendar"}),
            ),
        )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The constant-time comparison accepts exactly the token: a wrong byte anywhere, a prefix,
    /// an extension, an empty guess and a guess padded with NULs are all refused.
    #[test]
    fn same_secret_accepts_only_the_token() {
        let token = b"s3cret-token";
        assert!(same_secret(token, token));
        assert!(!same_secret(b"s3cret-tokeN", token));
        assert!(!same_secret(b"X3cret-token", token));
        assert!(!same_secret(b"s3cret", token));
        assert!(!same_secret(b"s3cret-token-and-more", token));
        assert!(!same_secret(b"", token));
        assert!(!same_secret(b"s3cret-token\0", token));
        assert!(!same_secret(b"s3cret\0\0\0\0\0\0", b"s3cret"));
        // A short guess is compared as if padded with NULs: only the length check refuses it.
        assert!(!same_secret(b"s3cret", b"s3cret\0\0"));
    }
}
