//! The page shell every console page shares: language, landmarks, a skip link, the
//! navigation and the sign-out form; and the headers that keep pages to themselves.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use maud::{DOCTYPE, Markup, html};

use crate::session::Signed;

/// A whole page. `signed` adds the navigation and the sign-out form.
pub fn page(title: &str, signed: Option<&Signed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No inline styles from htmx: the content security policy allows none.
                meta name="htmx-config" content=r#"{"includeIndicatorStyles": false}"#;
                title { (title) " · Rolecall" }
                link rel="stylesheet" href="/console/assets/console.css";
                link rel="icon" href="data:,";
                script src="/console/assets/htmx.min.js" defer {}
                script src="/console/assets/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                @if let Some(signed) = signed {
                    header {
                        nav aria-label="Main" {
                            span class="brand" { "Rolecall" }
                            span class="workspace" { "Workspace " strong { (signed.session.workspace) } }
                            a href={ "/console/" (signed.session.workspace) "/users" } { "Users" }
                            a href={ "/console/" (signed.session.workspace) "/groups" } { "Groups" }
                            a href={ "/console/" (signed.session.workspace) "/resources" } { "Resources" }
                            a href={ "/console/" (signed.session.workspace) "/access" } { "Access explorer" }
                        }
                        form method="post" action="/console/sign-out" class="sign-out" {
                            input type="hidden" name="csrf" value=(signed.session.csrf);
                            span { "Signed in as " strong { (signed.session.user) } }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// What a page says above its content: nothing, that something was just done (a status
/// screen readers announce), or why something was refused (an alert).
#[derive(Clone, Copy, Default)]
pub enum Said<'a> {
    #[default]
    Nothing,
    Done(&'a str),
    Refused(&'a str),
}

impl maud::Render for Said<'_> {
    fn render(&self) -> Markup {
        html! {
            @match self {
                Said::Nothing => {},
                Said::Done(text) => p role="status" class="done" { (text) },
                Said::Refused(text) => p role="alert" class="error" { (text) },
            }
        }
    }
}

/// A search over a list that updates in place as you type (htmx swaps `#target`), and is
/// an ordinary GET form without scripts.
pub fn live_search(action: &str, label: &str, q: &str, target: &str) -> Markup {
    html! {
        form method="get" action=(action) role="search" {
            label for="q" { (label) }
            input id="q" name="q" type="search" value=(q) autocomplete="off"
                hx-get=(action) hx-trigger="input changed delay:250ms, search"
                hx-target={ "#" (target) } hx-swap="outerHTML";
            button type="submit" { "Search" }
        }
    }
}

/// A group's icon: an image (an https URL or a data URI) or text (an emoji), decorative
/// either way (the name beside it says what it is).
pub fn icon(icon: Option<&str>) -> Markup {
    html! {
        @match icon {
            None => {},
            Some(src) if src.starts_with("https://") || src.starts_with("data:image/") => {
                img class="icon" src=(src) alt="" width="24" height="24"; " "
            },
            Some(text) => { span class="icon" aria-hidden="true" { (text) } " " },
        }
    }
}

/// A page that says why something was refused, in the user's words.
pub fn refusal(title: &str, signed: Option<&Signed>, message: &str) -> Markup {
    page(
        title,
        signed,
        html! {
            h1 { (title) }
            p role="alert" class="error" { (message) }
        },
    )
}

/// Console pages run only their own scripts, are never framed, and keep their URLs to
/// themselves.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; \
             form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
