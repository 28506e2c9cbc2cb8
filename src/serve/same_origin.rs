//! Refuses state-changing requests that a page of another origin made the analyst's browser
//! send. Without a token the API trusts anything on loopback, and any web page the analyst
//! opens can post to `127.0.0.1:9514`; browsers say where a request comes from
//! (`Sec-Fetch-Site`, `Origin`), so a POST or DELETE from elsewhere is refused with 403.
//! Clients that are not browsers send neither header and are not affected. The API sends no
//! CORS headers, so a cross-origin script cannot read an answer nor send a JSON body either.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api_error::ApiError;

/// Why a request is refused, if it is.
pub fn cross_origin(method: &Method, headers: &HeaderMap) -> Option<&'static str> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // `same-origin`: the console itself; `none`: the user acted directly (typed, bookmark).
    // `same-site` is refused too: another port on 127.0.0.1 is the same site.
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return Some("request from another site or origin refused (Sec-Fetch-Site)");
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        let host = text(header::HOST.as_str());
        if authority.is_none() || host.is_none() || authority != host {
            return Some("request from another origin refused (Origin)");
        }
    }
    None
}

pub async fn same_origin(req: Request, next: Next) -> Response {
    if let Some(reason) = cross_origin(req.method(), req.headers()) {
        tracing::warn!(
            method = %req.method(),
            path = %req.uri().path(),
            origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or(""),
            "Cross-origin request refused."
        );
        return ApiError::new(StatusCode::FORBIDDEN, reason).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    /// The console's own requests and non-browser clients pass; another origin (another port
    /// of the same host included), an opaque `null` origin and cross-site fetch metadata are
    /// refused for POST and DELETE; reads are never refused.
    #[test]
    fn only_same_origin_browsers_and_plain_clients_may_change_state() {
        let post = Method::POST;
        let host = ("host", "127.0.0.1:9514");
        assert_eq!(cross_origin(&post, &headers(&[host])), None);
        assert_eq!(
            cross_origin(
                &post,
                &headers(&[
                    host,
                    ("origin", "http://127.0.0.1:9514"),
                    ("sec-fetch-site", "same-origin")
                ])
            ),
            None
        );
        for refused in [
            headers(&[host, ("origin", "http://127.0.0.1:8080")]),
            headers(&[host, ("origin", "null")]),
            headers(&[host, ("origin", "http://evil.example")]),
            headers(&[host, ("sec-fetch-site", "same-site")]),
            headers(&[host, ("sec-fetch-site", "cross-site")]),
            headers(&[("origin", "http://127.0.0.1:9514")]),
        ] {
            assert!(cross_origin(&post, &refused).is_some(), "{refused:?}");
            assert!(cross_origin(&Method::DELETE, &refused).is_some());
            assert_eq!(cross_origin(&Method::GET, &refused), None);
        }
    }
}
