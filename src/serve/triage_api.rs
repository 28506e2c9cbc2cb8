//! One alert with its triage (`GET /api/v1/alerts/{id}`) and an analyst's decision about it
//! (`POST /api/v1/alerts/{id}/triage`): stored beside the alert, never in it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::triage::{TriageEntry, TriageState};
use crate::time::{format_rfc3339, now_ms};

use super::Shared;
use super::alert_query::ListedAlert;
use super::api_error::{ApiError, ApiJson, ApiPath};

/// Longest note kept, in characters.
pub const MAX_NOTE: usize = 4000;

/// Who a decision is recorded as: requests through the token are the token's holder; without
/// a token the API answers loopback only, so the person is on this machine.
pub fn who(shared: &Shared) -> &'static str {
    if shared.config.token.is_some() {
        "token"
    } else {
        "local"
    }
}

fn internal(e: impl std::fmt::Display) -> Response {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
}

/// An alert (its latest revision) with its triage.
pub async fn get_alert(
    State(shared): State<Arc<Shared>>,
    ApiPath(id): ApiPath<String>,
) -> Response {
    let store = shared.store.clone();
    let found = tokio::task::spawn_blocking(move || {
        let alert = store.alert(&id)?;
        let triage = store.triage(&id)?;
        Ok::<_, crate::state::StateError>((id, alert, triage))
    })
    .await;
    match found {
        Ok(Ok((_, Some(alert), triage))) => Json(ListedAlert { alert, triage }).into_response(),
        Ok(Ok((id, None, _))) => {
            ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id:?}")).into_response()
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// Reads `{state, note}`: `state` one of acknowledged, confirmed, false_positive; `note` text
/// (optional). A 400 names the field at fault.
fn decision(body: &Value) -> Result<(TriageState, String), ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| *k != "state" && *k != "note") {
        return Err(ApiError::bad_field(
            unknown,
            "unknown field; expected state, note",
        ));
    }
    let state = obj
        .get("state")
        .and_then(Value::as_str)
        .and_then(TriageState::parse)
        .ok_or_else(|| {
            ApiError::bad_field("state", "one of acknowledged, confirmed, false_positive")
        })?;
    let note = match obj.get("note") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.chars().count() <= MAX_NOTE => s.trim().to_string(),
        Some(Value::String(_)) => {
            return Err(ApiError::bad_field(
                "note",
                format!("longer than {MAX_NOTE} characters"),
            ));
        }
        Some(_) => return Err(ApiError::bad_field("note", "must be text")),
    };
    Ok((state, note))
}

/// Records a decision; 201 with the alert's triage. The alert record is not touched.
pub async fn post_triage(
    State(shared): State<Arc<Shared>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> Response {
    let (state, note) = match decision(&body) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let entry = TriageEntry {
        state,
        note,
        by: who(&shared).to_string(),
        at: format_rfc3339(now_ms()),
    };
    let store = shared.store.clone();
    let stored = tokio::task::spawn_blocking(move || {
        if store.alert(&id)?.is_none() {
            return Ok((id, None));
        }
        let triage = store.add_triage(&id, entry)?;
        Ok::<_, crate::state::StateError>((id, Some(triage)))
    })
    .await;
    match stored {
        Ok(Ok((id, Some(triage)))) => {
            let current = triage.current().cloned();
            tracing::info!(
                alert = %id,
                state = current.as_ref().map_or("", |c| c.state.as_str()),
                by = current.as_ref().map_or("", |c| c.by.as_str()),
                "Alert triaged."
            );
            (
                StatusCode::CREATED,
                Json(json!({"id": id, "triage": triage})),
            )
                .into_response()
        }
        Ok(Ok((id, None))) => {
            ApiError::new(StatusCode::NOT_FOUND, format!("no alert {id:?}")).into_response()
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decision is read strictly: the state from a closed set, text notes only, no other
    /// fields; each refusal names its field.
    #[test]
    fn decisions_are_checked_and_name_the_field_at_fault() {
        let field = |v: Value| decision(&v).unwrap_err().field;
        assert_eq!(
            decision(&json!({"state": "confirmed", "note": " real "})).unwrap(),
            (TriageState::Confirmed, "real".to_string())
        );
        assert_eq!(
            decision(&json!({"state": "false_positive"})).unwrap().0,
            TriageState::FalsePositive
        );
        assert_eq!(field(json!({"state": "closed"})).as_deref(), Some("state"));
        assert_eq!(field(json!({"note": "x"})).as_deref(), Some("state"));
        assert_eq!(
            field(json!({"state": "confirmed", "note": 3})).as_deref(),
            Some("note")
        );
        let long = "x".repeat(MAX_NOTE + 1);
        assert_eq!(
            field(json!({"state": "confirmed", "note": long})).as_deref(),
            Some("note")
        );
        assert_eq!(
            field(json!({"state": "confirmed", "by": "mallory"})).as_deref(),
            Some("by")
        );
        assert_eq!(decision(&json!([1])).unwrap_err().field, None);
    }
}
