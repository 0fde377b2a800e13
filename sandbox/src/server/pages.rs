//! The sandbox's own pages: an index that says SANDBOX and lists what is
//! served, and a health check.

use std::sync::Arc;

use axum::Json;
use axum::response::Html;
use serde::Serialize;

use super::mount::Endpoint;

/// The sentence every sandbox surface carries.
pub const SANDBOX_NOTICE: &str = "SANDBOX — nothing issued here is valid on the real platform";

pub(crate) fn builtin_endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            method: "GET",
            path: "/".to_owned(),
            description: "this page".to_owned(),
        },
        Endpoint {
            method: "GET",
            path: "/health".to_owned(),
            description: "health check (JSON)".to_owned(),
        },
    ]
}

pub(crate) fn index_html(endpoints: &[Endpoint], platform_ca_fingerprint: &str) -> String {
    let rows: String = endpoints
        .iter()
        .map(|endpoint| {
            format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
                escape(endpoint.method),
                escape(&endpoint.path),
                escape(&endpoint.description)
            )
        })
        .collect();
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SANDBOX — dspconnect eSanté platform stand-in</title>
<style>
body {{ font-family: sans-serif; margin: 0; }}
.banner {{ background: #b00020; color: #fff; padding: 1em; font-size: 2em; font-weight: bold; text-align: center; }}
main {{ padding: 1em 2em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: .3em .6em; text-align: left; }}
</style>
</head>
<body>
<div class="banner">SANDBOX</div>
<main>
<p><strong>{notice}.</strong> This is the dspconnect sandbox, a stand-in for the eSanté platform
for development and tests.</p>
<p>Platform CA (pin it in clients), SHA-256: <code>{fingerprint}</code></p>
<h2>Endpoints</h2>
<table>
<tr><th>method</th><th>path</th><th>what</th></tr>
{rows}</table>
</main>
</body>
</html>
"#,
        notice = escape(SANDBOX_NOTICE),
        fingerprint = escape(platform_ca_fingerprint),
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

pub(crate) async fn index(page: Arc<String>) -> Html<String> {
    Html(page.as_str().to_owned())
}

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    sandbox: bool,
    notice: &'static str,
}

pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        sandbox: true,
        notice: SANDBOX_NOTICE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn index_lists_every_endpoint_escaped() {
        let mut endpoints = builtin_endpoints();
        endpoints.push(Endpoint {
            method: "POST",
            path: "/x".to_owned(),
            description: "<b>bold</b>".to_owned(),
        });
        let page = index_html(&endpoints, "ab12");
        assert!(page.contains(r#"<div class="banner">SANDBOX</div>"#));
        assert!(page.contains("<code>/health</code>"));
        assert!(page.contains("&lt;b&gt;bold&lt;/b&gt;"));
        assert!(!page.contains("<b>bold</b>"));
    }
}
