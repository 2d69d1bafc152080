//! Request ids, metrics and health, as an operator sees them.

use serde_json::json;

use crate::app::{App, apps_schema};

#[tokio::test]
async fn request_ids_metrics_and_health() {
    let app = App::start().await;
    app.workspace("secret-customer", apps_schema()).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    // Every response carries a request id; one the client sends is kept.
    let res = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let res = client.get(app.url("/healthz")).header("x-request-id", "trace-42").send().await.unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "trace-42");
    // Errors carry one too.
    let res = client.get(app.url("/v1/workspaces/secret-customer/users")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert!(res.headers().contains_key("x-request-id"));

    app.user("secret-customer", "ann", "member").await;
    let check = json!({"subject": {"user": "ann"}, "action": "create_group",
                       "resource": {"type": "workspace", "id": "secret-customer"}});
    for _ in 0..3 {
        app.ok("POST", "/v1/workspaces/secret-customer/check", check.clone(), 200).await;
    }
    let text = client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("rolecall_http_requests_total")
                && l.contains(r#"route="/v1/workspaces/{ws}/check""#)
                && l.contains(r#"status="200""#)
        })
        .unwrap_or_else(|| panic!("no check counter in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(text.contains("rolecall_http_request_duration_seconds_bucket"));
    // Labels are route templates: no workspace or user id leaks into the metrics.
    assert!(!text.contains("secret-customer") && !text.contains("ann"), "{text}");
}
