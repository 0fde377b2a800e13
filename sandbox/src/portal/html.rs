//! The portals' HTML: one layout with the SANDBOX banner on every page, and
//! the small pieces pages are built from. Every value that does not come
//! from this file passes through [`esc`].

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use dspconnect::model::ConfidentialityMode;
use time::OffsetDateTime;

use crate::server::{SANDBOX_NOTICE, escape_html};

/// Escapes text for element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    escape_html(text)
}

/// A whole page: banner, title, body. `body` is markup built by the caller
/// from escaped values.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="referrer" content="same-origin">
<title>SANDBOX — {title}</title>
<style>
body {{ font-family: sans-serif; margin: 0; }}
.banner {{ background: #b00020; color: #fff; padding: .6em; font-size: 2em; font-weight: bold; text-align: center; }}
.notice {{ background: #fde7ea; padding: .4em 2em; margin: 0; }}
main {{ padding: 1em 2em; }}
table {{ border-collapse: collapse; margin: .5em 0; }}
td, th {{ border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }}
form.inline {{ display: inline; }}
.flash {{ background: #e7f5e9; padding: .5em; }}
.refused {{ background: #fff3cd; padding: .5em; }}
.code {{ font-size: 2em; font-family: monospace; letter-spacing: .1em; }}
</style>
</head>
<body>
<div class="banner" id="sandbox-banner">SANDBOX</div>
<p class="notice">{notice}.</p>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = esc(title),
        notice = esc(SANDBOX_NOTICE),
    )
}

/// A page answered with `status`.
pub(crate) fn respond(status: StatusCode, title: &str, body: &str) -> Response {
    (status, Html(page(title, body))).into_response()
}

/// A hidden field carrying the form's CSRF token.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(token)
    )
}

/// A one-button POST form (remove, clear, log out…).
pub(crate) fn button_form(
    action: &str,
    csrf: &str,
    fields: &[(&str, &str)],
    label: &str,
) -> String {
    let hidden: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                esc(name),
                esc(value)
            )
        })
        .collect();
    format!(
        r#"<form class="inline" method="post" action="{}">{}{}<button type="submit">{}</button></form>"#,
        esc(action),
        csrf_field(csrf),
        hidden,
        esc(label)
    )
}

/// A date as a person reads it, in UTC.
pub(crate) fn date_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// The mode's meaning, from the charter, for a `title` attribute.
pub(crate) fn mode_meaning(mode: ConfidentialityMode) -> &'static str {
    match mode {
        ConfidentialityMode::Normal => {
            "accessible pour les professionnels authentifiés dans le cadre de la relation thérapeutique"
        }
        ConfidentialityMode::Restreint => {
            "accessible au médecin référent et aux professionnels du cercle médical de confiance"
        }
        ConfidentialityMode::Prive => "accessible uniquement au patient et à l'auteur",
        ConfidentialityMode::VisiteAnnonce => {
            "visible par les professionnels de santé et cachée temporairement du patient"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_carries_the_banner_and_escapes_its_title() {
        let html = page("<b>x</b>", "<p>body</p>");
        assert!(html.contains(r#"<div class="banner" id="sandbox-banner">SANDBOX</div>"#));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(!html.contains("<b>x</b>"));
        assert!(html.contains("<p>body</p>"));
    }

    #[test]
    fn forms_escape_their_values() {
        let form = button_form("/a?b=\"c\"", "t\"k", &[("n", "<v>")], "<go>");
        assert!(form.contains(r#"action="/a?b=&quot;c&quot;""#), "{form}");
        assert!(form.contains(r#"value="t&quot;k""#), "{form}");
        assert!(form.contains(r#"value="&lt;v&gt;""#), "{form}");
        assert!(form.contains("&lt;go&gt;"), "{form}");
    }

    #[test]
    fn dates_are_shown_in_utc() {
        let at = time::macros::datetime!(2024-03-05 07:08:09 +02:00);
        assert_eq!(date_time(at), "2024-03-05 05:08 UTC");
    }
}
