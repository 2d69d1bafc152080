//! The OpenAPI document describes the server that serves it: every API.md endpoint is in
//! it, every documented operation is routed, and the docs page works with no network.

use serde_json::{Value, json};

use crate::app::{App, apps_schema};

/// API.md's endpoints (method, path template).
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/v1/workspaces"),
    ("get", "/v1/workspaces/{ws}"),
    ("delete", "/v1/workspaces/{ws}"),
    ("get", "/v1/workspaces/{ws}/schema"),
    ("put", "/v1/workspaces/{ws}/schema"),
    ("post", "/v1/workspaces/{ws}/api-keys"),
    ("post", "/v1/workspaces/{ws}/users"),
    ("get", "/v1/workspaces/{ws}/users"),
    ("get", "/v1/workspaces/{ws}/users/{id}"),
    ("patch", "/v1/workspaces/{ws}/users/{id}"),
    ("delete", "/v1/workspaces/{ws}/users/{id}"),
    ("post", "/v1/workspaces/{ws}/groups"),
    ("get", "/v1/workspaces/{ws}/groups"),
    ("get", "/v1/workspaces/{ws}/groups/{id}"),
    ("patch", "/v1/workspaces/{ws}/groups/{id}"),
    ("delete", "/v1/workspaces/{ws}/groups/{id}"),
    ("put", "/v1/workspaces/{ws}/groups/{g}/members/users/{u}"),
    ("delete", "/v1/workspaces/{ws}/groups/{g}/members/users/{u}"),
    ("put", "/v1/workspaces/{ws}/groups/{g}/members/groups/{child}"),
    ("delete", "/v1/workspaces/{ws}/groups/{g}/members/groups/{child}"),
    ("get", "/v1/workspaces/{ws}/groups/{g}/members"),
    ("get", "/v1/workspaces/{ws}/groups/{g}/permission-sets"),
    ("post", "/v1/workspaces/{ws}/groups/{g}/permission-sets"),
    ("patch", "/v1/workspaces/{ws}/groups/{g}/permission-sets/{set}"),
    ("delete", "/v1/workspaces/{ws}/groups/{g}/permission-sets/{set}"),
    ("put", "/v1/workspaces/{ws}/groups/{g}/permission-sets/{set}/assignees/{kind}/{id}"),
    ("delete", "/v1/workspaces/{ws}/groups/{g}/permission-sets/{set}/assignees/{kind}/{id}"),
    ("post", "/v1/workspaces/{ws}/groups/bulk"),
    ("post", "/v1/workspaces/{ws}/policies"),
    ("put", "/v1/workspaces/{ws}/groups/{g}/policies/{policy}"),
    ("delete", "/v1/workspaces/{ws}/groups/{g}/policies/{policy}"),
    ("put", "/v1/workspaces/{ws}/groups/{g}/data-scopes/{dataset}"),
    ("delete", "/v1/workspaces/{ws}/groups/{g}/data-scopes/{dataset}"),
    ("post", "/v1/workspaces/{ws}/resources"),
    ("get", "/v1/workspaces/{ws}/resources"),
    ("get", "/v1/workspaces/{ws}/resources/{type}/{id}"),
    ("patch", "/v1/workspaces/{ws}/resources/{type}/{id}"),
    ("delete", "/v1/workspaces/{ws}/resources/{type}/{id}"),
    ("put", "/v1/workspaces/{ws}/resources/{type}/{id}/grants"),
    ("delete", "/v1/workspaces/{ws}/resources/{type}/{id}/grants"),
    ("get", "/v1/workspaces/{ws}/resources/{type}/{id}/grants"),
    ("post", "/v1/workspaces/{ws}/check"),
    ("post", "/v1/workspaces/{ws}/check/batch"),
    ("post", "/v1/workspaces/{ws}/lookup/resources"),
    ("post", "/v1/workspaces/{ws}/lookup/subjects"),
    ("post", "/v1/workspaces/{ws}/explain"),
    ("post", "/v1/workspaces/{ws}/data-filter"),
    ("get", "/v1/workspaces/{ws}/changes"),
    ("get", "/v1/workspaces/{ws}/audit"),
];

#[tokio::test]
async fn the_document_covers_the_contract_and_every_operation_is_routed() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let doc: Value = client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in CONTRACT {
        assert!(paths.get(*path).and_then(|p| p.get(*method)).is_some(), "{method} {path} is not documented");
    }
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            // Every path parameter is declared.
            for name in path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))) {
                let declared =
                    op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == name && p["in"] == "path");
                assert!(declared, "{method} {path}: parameter {name} undeclared");
            }
            // Routed: our handlers answer JSON (or 204, or the metrics text); an unrouted
            // request would get axum's empty 404 or 405.
            let url = path.replace("{ws}", "acme").replace("{kind}", "users").replace(['{', '}'], "");
            let res = client
                .request(method.to_uppercase().parse().unwrap(), app.url(&url))
                .bearer_auth(crate::app::ROOT)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert!(status != 405 && (status == 204 || !body.is_empty()), "{method} {path}: {status} `{body}`");
            assert!(status < 500, "{method} {path}: {status} {body}");
        }
    }
    assert!(operations >= CONTRACT.len() + 5, "{operations} operations");
    assert!(doc["components"]["schemas"]["SchemaDoc"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn the_docs_page_is_served_with_its_assets() {
    let app = App::start().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let page = client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Its scripts and styles come from this server, not from a CDN.
    assert!(!html.contains("https://"), "{html}");
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-initializer.js"] {
        let res = client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{asset}");
        assert!(res.bytes().await.unwrap().len() > 100, "{asset}");
    }
    let init = client.get(app.url("/docs/swagger-initializer.js")).send().await.unwrap().text().await.unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
}
