//! What operators see: a request id on every request and response (`x-request-id`, kept
//! when the client sends one), one structured log event per request, Prometheus metrics
//! at `/metrics`, and a panic turned into a JSON 500 instead of a dropped connection.
//!
//! Metric labels are route templates (`/v1/workspaces/{ws}/check`), never ids, so
//! `/metrics` reveals nothing about any workspace.

use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, Response, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The process's metrics recorder, installed on first use.
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder already installed (an embedding application's): use theirs.
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Makes sure the recorder exists before the first request is counted.
pub fn install() {
    prometheus();
}

/// `GET /metrics` in the Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", summary = "Prometheus metrics (labels are route templates, never ids)", responses((status = 200, description = "Done", body = String)))]
pub async fn metrics_text() -> impl IntoResponse {
    match prometheus() {
        Some(handle) => {
            (StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], handle.render()).into_response()
        }
        None => crate::ApiError::new(
            StatusCode::NOT_FOUND,
            "metrics_unavailable",
            "another metrics recorder is installed in this process",
        )
        .into_response(),
    }
}

/// Times, counts and logs each request (a middleware: it sees the matched route).
pub async fn track(request: Request, next: Next) -> Response<Body> {
    let started = Instant::now();
    let method = request.method().to_string();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    let labels = [("method", method.clone()), ("route", route.clone()), ("status", status.to_string())];
    metrics::counter!("rolecall_http_requests_total", &labels).increment(1);
    metrics::histogram!("rolecall_http_request_duration_seconds", &labels[..2]).record(seconds);
    if status >= 500 {
        tracing::error!(request_id, method, route, status, micros = (seconds * 1e6) as u64, "request failed");
    } else {
        tracing::info!(request_id, method, route, status, micros = (seconds * 1e6) as u64, "request");
    }
    response
}

/// A handler panicked: log it, answer a JSON 500. (A defect, never expected.)
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let what = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    tracing::error!(panic = what, "a request handler panicked");
    let body = json!({"error": {"code": "internal", "message": "the service failed on this request", "details": {}}});
    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}
