//! Cross-cutting request handling: a span and a log line per request, HTTP metrics, the
//! bearer-token check and CORS headers.
//!
//! Written as one `wrap_fn` closure so the order is explicit: CORS preflight, then auth, then
//! the handler, then logging and metrics of whatever answered.

use crate::error::{ApiError, ErrorCode};
use crate::telemetry::metrics as m;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// Settings the middleware needs, cloned into every worker thread of the server.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// Required bearer token, if any.
    pub api_token: Option<Arc<str>>,
    /// Allowed CORS origins (`*` allows any).
    pub cors_origins: Arc<Vec<String>>,
}

/// Routes that never need the token (probes, scrapes, the API description, and the web
/// page, which holds no data and sends the token the user gives it with its API calls).
fn is_public(path: &str) -> bool {
    matches!(path, "/health" | "/metrics" | "/openapi.json" | "/") || path.starts_with("/ui/")
}

impl Guard {
    fn allowed_origin(&self, req: &ServiceRequest) -> Option<HeaderValue> {
        let origin = req.headers().get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.cors_origins
            .iter()
            .any(|o| o == "*" || o == text)
            .then(|| origin.clone())
    }

    fn authorized(&self, req: &ServiceRequest) -> bool {
        let Some(token) = &self.api_token else {
            return true;
        };
        if is_public(req.path()) {
            return true;
        }
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme name is
/// case-insensitive (RFC 7235 §2.1: `bearer`, `BEARER` are the same scheme) and may be
/// followed by more than one space.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The `WWW-Authenticate` challenge of a 401 (RFC 7235 §3.1, RFC 6750 §3): the scheme, and
/// `invalid_token` when a token was sent but is not the server's.
fn challenge(req: &ServiceRequest) -> HeaderValue {
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .is_some();
    HeaderValue::from_static(if sent {
        "Bearer realm=\"provis\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"provis\""
    })
}

/// The body of an answer to `HEAD`: no bytes, but the size of the `GET` answer's body, so the
/// headers (`Content-Length`) are those `GET` would send (RFC 9110 §9.3.2). The `GET` body
/// (an SSE stream too) is dropped unread.
struct HeadBody(actix_web::body::BodySize);

impl MessageBody for HeadBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> actix_web::body::BodySize {
        self.0
    }

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        std::task::Poll::Ready(None)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The route pattern of a request (`/status/{job_id}`) for metric labels, so labels stay a
/// closed set: ids never appear, and paths no route matches share `unmatched`.
pub fn route_label(req: &actix_web::HttpRequest) -> String {
    req.match_pattern()
        .unwrap_or_else(|| "unmatched".to_string())
}

/// The span of one request: named `<METHOD> <route>` for OpenTelemetry (server kind), a child
/// of the caller's trace when the request carries a W3C `traceparent` header.
fn request_span(req: &ServiceRequest, method: &str, route: &str, path: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "http",
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.method = %req.method(),
        http.path = %path,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let traceparent = req
        .headers()
        .get(crate::telemetry::trace::TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    crate::telemetry::trace::set_parent(&span, traceparent);
    span
}

/// The middleware body, used as `App::new().wrap_fn(move |req, srv| handle(guard.clone(), req, srv))`.
///
/// The decision (preflight, auth) and the call into the service happen before the returned
/// future, which therefore borrows nothing from `srv`.
pub fn handle<S, B>(
    guard: Guard,
    req: ServiceRequest,
    srv: &S,
) -> LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error>>
where
    S: actix_web::dev::Service<
        ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    let started = Instant::now();
    let method = req.method().clone();
    let method_label = m::method_label(&method);
    let path = req.path().to_string();
    let route = route_label(req.request());
    let span = request_span(&req, method_label, &route, &path);
    let origin = guard.allowed_origin(&req);

    enum Next<F> {
        Ready(ServiceResponse<BoxBody>),
        Call(F),
    }
    let next = if method == Method::OPTIONS && origin.is_some() {
        Next::Ready(preflight(req))
    } else if !guard.authorized(&req) {
        Next::Ready(unauthorized(req))
    } else {
        let mut req = req;
        if method == Method::HEAD {
            // Every route answers HEAD as its GET; the body is dropped below.
            req.head_mut().method = Method::GET;
        }
        let _enter = span.enter();
        Next::Call(srv.call(req))
    };

    Box::pin(async move {
        let res = match next {
            Next::Ready(r) => r.map_into_right_body(),
            Next::Call(fut) => fut.instrument(span.clone()).await?.map_into_left_body(),
        };
        let res = dress(res, method == Method::HEAD, origin);
        let done = Answered {
            method: &method,
            method_label,
            route,
            path: &path,
            status: res.status().as_u16(),
            elapsed: started.elapsed().as_secs_f64(),
        };
        done.record(&span);
        Ok(res)
    })
}

/// What every answer gets on its way out: a HEAD request's body is dropped (its size kept for
/// `Content-Length`), and an allowed origin is named with `Vary: Origin`.
fn dress<B: MessageBody + 'static>(
    mut res: ServiceResponse<EitherBody<B, BoxBody>>,
    head: bool,
    origin: Option<HeaderValue>,
) -> ServiceResponse<EitherBody<B, BoxBody>> {
    if head {
        res = res.map_body(|_, body| EitherBody::right(BoxBody::new(HeadBody(body.size()))));
    }
    if let Some(origin) = origin {
        let headers = res.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// The answer to a CORS preflight from an allowed origin (the origin headers are added by
/// [`handle`] like on every answer).
fn preflight(req: ServiceRequest) -> ServiceResponse<BoxBody> {
    let resp = HttpResponse::NoContent()
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_METHODS,
            "GET, HEAD, POST, OPTIONS",
        ))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "authorization, content-type, last-event-id",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish();
    req.into_response(resp)
}

/// The 401 of a request without the API token, with its `WWW-Authenticate` challenge.
fn unauthorized(req: ServiceRequest) -> ServiceResponse<BoxBody> {
    let err = ApiError::new(
        ErrorCode::Unauthorized,
        "this route needs Authorization: Bearer <PROVIS_API_TOKEN>",
    );
    let mut resp = err.error_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, challenge(&req));
    req.into_response(resp)
}

/// A request once answered: what its metrics, span and log line say.
struct Answered<'a> {
    method: &'a Method,
    method_label: &'static str,
    route: String,
    path: &'a str,
    status: u16,
    elapsed: f64,
}

impl Answered<'_> {
    /// Counts the request, records its duration, closes its span's fields and logs one line.
    fn record(self, span: &tracing::Span) {
        let Answered {
            method,
            method_label,
            route,
            path,
            status,
            elapsed,
        } = self;
        ::metrics::counter!(m::HTTP_REQUESTS_TOTAL, "method" => method_label, "route" => route.clone(), "status" => status.to_string()).increment(1);
        ::metrics::histogram!(m::HTTP_REQUEST_DURATION_SECONDS, "method" => method_label, "route" => route).record(elapsed);
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
        span.in_scope(|| {
            tracing::info!(
                status,
                duration_ms = (elapsed * 1000.0) as u64,
                "{method} {path} -> {status}"
            );
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for v in [
            "Bearer t0k",
            "bearer t0k",
            "BEARER t0k",
            "bEaReR   t0k",
            " Bearer t0k ",
        ] {
            assert_eq!(bearer_token(v), Some("t0k"), "{v:?}");
        }
        for v in ["Basic t0k", "Bearer", "Bearer ", "Bearert0k", "t0k", ""] {
            assert_eq!(bearer_token(v), None, "{v:?}");
        }
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
