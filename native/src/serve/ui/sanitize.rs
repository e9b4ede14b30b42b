//! Logged email HTML is hostile input. Two independent layers keep it harmless:
//!
//! 1. this sanitiser (ammonia: an allow-list HTML5 parser) removes scripts, event handlers,
//!    forms, frames, `<style>` sheets, remote images and `url(…)` in inline styles;
//! 2. the page that shows it is served with `Content-Security-Policy: default-src 'none';
//!    img-src data: cid:; style-src 'unsafe-inline'; sandbox` inside an `<iframe sandbox>`,
//!    so even markup the sanitiser missed can neither run nor load anything.
//!
//! Inline images (`cid:`) whose content is stored here are turned into `data:` URIs.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// CSS properties kept in `style` attributes: layout and typography, nothing that loads.
const STYLE_PROPERTIES: &[&str] = &[
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "text-transform",
    "line-height",
    "letter-spacing",
    "white-space",
    "vertical-align",
    "width",
    "max-width",
    "min-width",
    "height",
    "max-height",
    "min-height",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "border-spacing",
    "border-radius",
    "display",
    "direction",
    "list-style-type",
    "table-layout",
    "word-break",
    "overflow-wrap",
];

/// Image types shown inline from stored attachments.
const INLINE_IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The result of sanitising: the HTML, and whether remote content was removed (so the page
/// can say images were blocked).
pub struct Clean {
    pub html: String,
    pub blocked_remote: bool,
}

/// `inline_images`: content-id (without `<>`) → `data:` URI.
pub fn clean_email_html(html: &str, inline_images: HashMap<String, String>) -> Clean {
    let images = Arc::new(inline_images);
    let blocked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let blocked_in_filter = blocked.clone();
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["font", "center", "big", "tfoot"])
        .add_generic_attributes([
            "style", "align", "valign", "width", "height", "bgcolor", "dir",
        ])
        .add_tag_attributes("font", ["color", "face", "size"])
        .add_tag_attributes(
            "table",
            ["border", "cellpadding", "cellspacing", "width", "bgcolor"],
        )
        .add_tag_attributes("td", ["bgcolor", "nowrap"])
        .add_tag_attributes("th", ["bgcolor", "nowrap"])
        .url_schemes(HashSet::from([
            "http", "https", "mailto", "tel", "cid", "data",
        ]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .filter_style_properties(STYLE_PROPERTIES.iter().copied().collect())
        .attribute_filter(move |element, attribute, value| {
            filter_attribute(element, attribute, value, &images, &blocked_in_filter)
        });
    let html = builder.clean(html).to_string();
    Clean {
        html,
        blocked_remote: blocked.load(std::sync::atomic::Ordering::Relaxed),
    }
}

fn filter_attribute<'u>(
    element: &str,
    attribute: &str,
    value: &'u str,
    images: &HashMap<String, String>,
    blocked: &std::sync::atomic::AtomicBool,
) -> Option<Cow<'u, str>> {
    let lower = value.trim().to_ascii_lowercase();
    match (element, attribute) {
        ("img", "src") => {
            if let Some(cid) = lower.strip_prefix("cid:") {
                let id = cid.trim_start_matches('<').trim_end_matches('>');
                return images
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(id))
                    .map(|(_, uri)| Cow::Owned(uri.clone()));
            }
            if INLINE_IMAGE_TYPES
                .iter()
                .any(|t| lower.starts_with(&format!("data:{t};base64,")))
            {
                return Some(Cow::Borrowed(value));
            }
            // No remote loads: the image would tell the sender the email was opened.
            blocked.store(true, std::sync::atomic::Ordering::Relaxed);
            None
        }
        (_, "href") if lower.starts_with("data:") || lower.starts_with("cid:") => None,
        (_, "style") => {
            // Belt and braces beside the property allow-list: nothing that can fetch.
            if lower.contains("url(")
                || lower.contains("expression(")
                || lower.contains("@import")
                || lower.contains('\\')
            {
                blocked.store(true, std::sync::atomic::Ordering::Relaxed);
                None
            } else {
                Some(Cow::Borrowed(value))
            }
        }
        (_, "background") => None,
        _ => Some(Cow::Borrowed(value)),
    }
}

/// `data:` URI for an inline image, when its type is one we show.
pub fn data_uri(content_type: &str, bytes: &[u8]) -> Option<String> {
    let t = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    INLINE_IMAGE_TYPES
        .contains(&t.as_str())
        .then(|| format!("data:{t};base64,{}", mailtrail::base64::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        clean_email_html(html, HashMap::new()).html
    }

    #[test]
    fn removes_scripts_handlers_and_remote_loads() {
        let out = clean(
            r#"<p onclick="x()">Hi<script>alert(1)</script></p><img src="https://t.example/p.gif" onerror="x()">
               <a href="javascript:alert(1)">j</a><iframe src="https://e.example"></iframe>
               <div style="background:url(https://e.example/c)">bg</div><style>body{background:url(https://e.example/s)}</style>
               <form action="https://e.example"><input name=a></form><svg onload="x()"></svg>
               <object data="https://e.example/o"></object><meta http-equiv="refresh" content="0;url=https://e.example">
               <link rel="stylesheet" href="https://e.example/l.css"><base href="https://e.example/">"#,
        );
        for bad in [
            "script",
            "onclick",
            "onerror",
            "javascript:",
            "iframe",
            "url(",
            "<style",
            "<form",
            "<input",
            "<svg",
            "onload",
            "<object",
            "<meta",
            "<link",
            "<base",
            "e.example",
            "t.example",
        ] {
            assert!(
                !out.to_ascii_lowercase().contains(bad),
                "{bad} survived: {out}"
            );
        }
        assert!(out.contains("Hi"));
        assert!(out.contains(">bg<"));
    }

    #[test]
    fn keeps_formatting_and_inlines_cid_images() {
        let mut images = HashMap::new();
        images.insert(
            "logo@x".to_string(),
            "data:image/png;base64,AAAA".to_string(),
        );
        let c = clean_email_html(
            r#"<table width="100%"><tr><td style="color: red; position: fixed">x</td></tr></table><img src="cid:logo@x"><img src="cid:missing@x">"#,
            images,
        );
        assert!(c.html.contains("color:red"), "{}", c.html);
        assert!(!c.html.contains("position"), "{}", c.html);
        assert!(
            c.html.contains(r#"src="data:image/png;base64,AAAA""#),
            "{}",
            c.html
        );
        assert!(!c.html.contains("cid:"), "{}", c.html);
        assert!(!c.blocked_remote);
        assert!(
            clean_email_html(r#"<img src="http://x.example/a.png">"#, HashMap::new())
                .blocked_remote
        );
    }

    #[test]
    fn data_uri_only_for_raster_images() {
        assert!(data_uri("image/png", b"x").is_some());
        assert!(data_uri("image/svg+xml", b"<svg/>").is_none());
        assert!(data_uri("text/html", b"<p>").is_none());
    }
}
