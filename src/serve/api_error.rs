//! The API's one error shape, `{"error": reason, "field": name or null}` as JSON, and the
//! extractors whose rejections take it: a client reads every failure the same way, and
//! `field` names the query parameter, path parameter or body field at fault when one is.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

/// An API failure: the status, a reason for a person, and the one field at fault, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: String,
    pub field: Option<String>,
}

impl ApiError {
    /// A failure no single field is to blame for.
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        ApiError {
            status,
            reason: reason.into(),
            field: None,
        }
    }

    /// A 400 for one field; the reason is prefixed with the field's name.
    pub fn bad_field(field: &str, reason: impl std::fmt::Display) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            reason: format!("{field}: {reason}"),
            field: Some(field.to_owned()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.reason, "field": self.field});
        (self.status, Json(body)).into_response()
    }
}

/// A JSON body that could not be read: 400 for bad JSON, 413 over the size limit, 415 without
/// a JSON content type. Bodies are read as any JSON value and checked afterwards, so no
/// single field is at fault here.
impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(e.status(), e.body_text())
    }
}

/// A path parameter that could not be decoded (e.g. percent-encoded bytes that are not UTF-8).
impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        let field = match &e {
            PathRejection::FailedToDeserializePathParams(p) => match p.kind() {
                ErrorKind::ParseErrorAtKey { key, .. }
                | ErrorKind::InvalidUtf8InPathParam { key }
                | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
                _ => None,
            },
            _ => None,
        };
        ApiError {
            status: e.status(),
            reason: e.body_text(),
            field,
        }
    }
}

/// Query parameters deserialised into `T`; a parameter that does not parse is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        match serde_path_to_error::deserialize(pairs) {
            Ok(value) => Ok(ApiQuery(value)),
            Err(e) => {
                let path = e.path().to_string();
                if path == "." {
                    // Not about one parameter (e.g. a parameter given twice).
                    Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        format!("query string: {}", e.inner()),
                    ))
                } else {
                    Err(ApiError::bad_field(&path, e.inner()))
                }
            }
        }
    }
}

/// A JSON body; any rejection becomes an [`ApiError`].
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(ApiError::from)
    }
}

/// Path parameters; any rejection becomes an [`ApiError`].
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(ApiError::from)
    }
}

/// The API's answer to a path it does not serve.
pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such API route")
}

/// The API's answer to a method a path does not take.
pub async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this route does not take that method",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error body is always both keys, `field` null when no one field is at fault.
    #[tokio::test]
    async fn errors_are_json_with_error_and_field() {
        let r = ApiError::bad_field("cursor", "invalid digit found in string").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"error": "cursor: invalid digit found in string", "field": "cursor"})
        );
        let r = ApiError::new(StatusCode::NOT_FOUND, "gone").into_response();
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, json!({"error": "gone", "field": null}));
    }
}
