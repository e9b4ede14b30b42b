//! The timeline web UI: server-rendered HTML, no scripts at all (the pages' CSP forbids them).
//!
//! Sign-in takes the API token once and sets an HttpOnly, SameSite=Strict cookie derived from
//! it. Language: `?lang=` (remembered in a cookie), else `Accept-Language`, else English.

pub mod i18n;
pub mod relay;
pub mod sanitize;
pub mod tz;

use super::api::{
    attachment_response, contact_cursor, email_cursor, parse_contact_cursor, parse_email_cursor,
    parse_thread_cursor, summary_of, thread_cursor, watch_json,
};
use super::db::{now_ms, ContactSummary, TimelineRow};
use super::ingest::human_size;
use super::token::constant_time_eq;
use super::AppState;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use i18n::Lang;
use mailtrail::record::Participant;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

const SESSION_COOKIE: &str = "mt_session";
const LANG_COOKIE: &str = "mt_lang";
const TZ_COOKIE: &str = "mt_tz";
/// The pages' policy: our stylesheet, our frames, nothing else; no scripts at all.
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; \
                        form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/// The email body's policy (inside `<iframe sandbox>`): inline styles and inline images only.
const BODY_CSP: &str = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; \
                        base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox";
/// Inline images above this size are not embedded into the body.
const MAX_INLINE_IMAGE: i64 = 2 * 1024 * 1024;
/// Threads per contact page, and the newest emails shown of each.
const THREADS_PAGE: i64 = 20;
const EMAILS_PER_THREAD: i64 = 5;
/// Emails per page of one thread.
const THREAD_PAGE: i64 = 50;
const CONTACTS_PAGE: i64 = 50;

type St = State<Arc<AppState>>;

pub fn router() -> Router<Arc<AppState>> {
    let protected = Router::new()
        .route("/", get(|| async { Redirect::to("/contacts") }))
        .route("/contacts", get(contacts_page))
        .route("/contacts/{id}", get(contact_page))
        .route("/contacts/{id}/thread", get(thread_page))
        .route("/emails/{id}", get(email_page))
        .route("/emails/{id}/body", get(email_body))
        .route("/attachments/{sha256}", get(attachment))
        .route("/status", get(status_page))
        .route("/relay", get(relay::relay_page))
        .route("/relay/retry", post(relay::retry_all))
        .route("/relay/backfill", post(relay::backfill))
        .route("/emails/{id}/relay", post(relay::email_retry))
        .route("/settings/time-zone", get(time_zone_page));
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/static/app.css", get(stylesheet))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .merge(protected)
        .layer(axum::middleware::from_fn(security_headers))
}

// ---- request context

/// Language, time zone and sign-in state of a UI request.
pub struct Ui {
    pub lang: Lang,
    /// `?lang=` was given: remember it.
    remember_lang: bool,
    pub tz: tz::Tz,
    /// `?tz=` was given (and is a zone): remember it.
    remember_tz: bool,
    /// The request's query without `lang` and `tz`, kept by the language links (a thread's
    /// page needs its `key`), escaped for an attribute, `&amp;`-terminated when not empty.
    keep_query: String,
    pub signed_in: bool,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let q = query?;
    let uri: axum::http::Uri = format!("/?{q}").parse().ok()?;
    let Query(map) = Query::<HashMap<String, String>>::try_from_uri(&uri).ok()?;
    map.get(name).cloned()
}

impl FromRequestParts<Arc<AppState>> for Ui {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let from_query = query_param(parts.uri.query(), "lang").and_then(|l| Lang::from_code(&l));
        let lang = from_query
            .or_else(|| cookie(&parts.headers, LANG_COOKIE).and_then(Lang::from_code))
            .unwrap_or_else(|| {
                Lang::negotiate(
                    parts
                        .headers
                        .get(header::ACCEPT_LANGUAGE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                )
            });
        let tz_from_query = query_param(parts.uri.query(), "tz").and_then(|t| tz::Tz::named(&t));
        let remember_tz = tz_from_query.is_some();
        let tz = tz_from_query
            .or_else(|| cookie(&parts.headers, TZ_COOKIE).and_then(tz::Tz::named))
            .unwrap_or_else(tz::Tz::system);
        let keep_query: String = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("lang=") && !p.starts_with("tz="))
            .map(|p| format!("{}&amp;", esc(p)))
            .collect();
        Ok(Ui {
            lang,
            remember_lang: from_query.is_some(),
            tz,
            remember_tz,
            keep_query,
            signed_in: signed_in(&parts.headers, state),
        })
    }
}

fn signed_in(headers: &HeaderMap, state: &AppState) -> bool {
    if let Some(c) = cookie(headers, SESSION_COOKIE) {
        if constant_time_eq(c.as_bytes(), state.ui_session.as_bytes()) {
            return true;
        }
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    bearer.is_some_and(|t| constant_time_eq(t.as_bytes(), state.token.as_bytes()))
}

/// Every protected handler starts with this: redirects to the sign-in page when the request is not signed in.
fn guard(ui: &Ui, uri: &axum::http::Uri) -> Result<(), Response> {
    if ui.signed_in {
        return Ok(());
    }
    let next = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = format!("/login?next={}", urlencode(next));
    Err(Redirect::to(&target).into_response())
}

async fn security_headers(req: Request<Body>, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

// ---- HTML helpers

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `2026-03-03 10:15 UTC` for milliseconds since the epoch.
pub fn format_time(ms: i64) -> String {
    let t = mailtrail::time::utc_parts(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

fn person(p: &Participant) -> String {
    match p.name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => format!(
            "<span class=\"person\" title=\"{}\">{}</span>",
            esc(&p.address),
            esc(n)
        ),
        None => format!("<span class=\"person\">{}</span>", esc(&p.address)),
    }
}

fn people(list: &[Participant]) -> String {
    list.iter().map(person).collect::<Vec<_>>().join(", ")
}

fn direction_icon(lang: Lang, direction: &str) -> String {
    let (icon, key) = match direction {
        "incoming" => ("↙", "direction.incoming"),
        "forwarded" => ("↪", "direction.forwarded"),
        _ => ("↗", "direction.outgoing"),
    };
    let label = esc(lang.t(key));
    format!("<span class=\"dir dir-{d}\" title=\"{label}\" role=\"img\" aria-label=\"{label}\">{icon}</span>", d = esc(direction))
}

fn reasons_list(lang: Lang, codes: &[String]) -> String {
    if codes.is_empty() {
        return String::new();
    }
    let mut s = String::from("<ul class=\"reasons\">");
    for c in codes {
        let _ = write!(
            s,
            "<li class=\"reason\" data-code=\"{}\">{}</li>",
            esc(c),
            esc(&lang.reason(c))
        );
    }
    s.push_str("</ul>");
    s
}

fn attachments_list(
    lang: Lang,
    list: &[super::ingest::AttachmentSummary],
    dropped: bool,
) -> String {
    if list.is_empty() {
        return String::new();
    }
    let class = if dropped {
        "attachments dropped"
    } else {
        "attachments"
    };
    let mut s = format!("<ul class=\"{class}\">");
    for a in list {
        let name = a.name.clone().unwrap_or_else(|| a.content_type.clone());
        let label = format!(
            "📎 {} <span class=\"size\">({})</span>{}",
            esc(&name),
            esc(&human_size(a.size)),
            if a.inline {
                format!(
                    " <span class=\"tag\">{}</span>",
                    esc(lang.t("email.inline"))
                )
            } else {
                String::new()
            }
        );
        match (&a.sha256, a.stored && !dropped) {
            (Some(sha), true) => {
                let _ = write!(
                    s,
                    "<li><a href=\"/attachments/{}?name={}\" download title=\"{}\">{label}</a></li>",
                    esc(sha),
                    esc(&urlencode(&name)),
                    esc(lang.t("email.download"))
                );
            }
            _ => {
                let _ = write!(s, "<li>{label}</li>");
            }
        }
    }
    s.push_str("</ul>");
    s
}

fn subject_text(lang: Lang, subject: &str) -> String {
    if subject.trim().is_empty() {
        lang.t("email.noSubject").to_string()
    } else {
        subject.to_string()
    }
}

/// The whole page around `body`.
fn page(ui: &Ui, status: StatusCode, title: &str, body: &str) -> Response {
    let lang = ui.lang;
    let mut html = String::with_capacity(body.len() + 2048);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} · Mailtrail</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body>\
         <header class=\"top\"><a class=\"brand\" href=\"/contacts\">Mailtrail</a>",
        code = lang.code(),
        title = esc(title),
    );
    if ui.signed_in {
        let _ = write!(
            html,
            "<nav><a href=\"/contacts\">{}</a><a href=\"/status\">{}</a><a href=\"/relay\">{}</a></nav>\
             <form method=\"post\" action=\"/logout\" class=\"signout\"><button type=\"submit\">{}</button></form>",
            esc(lang.t("nav.contacts")),
            esc(lang.t("nav.inboxes")),
            esc(lang.t("nav.relay")),
            esc(lang.t("nav.signout")),
        );
    }
    html.push_str("</header><main>");
    html.push_str(body);
    let _ = write!(
        html,
        "</main><footer><span>{}:</span>",
        esc(lang.t("nav.language"))
    );
    for l in Lang::ALL {
        if l == lang {
            let _ = write!(
                html,
                " <strong lang=\"{}\">{}</strong>",
                l.code(),
                esc(l.t("lang.name"))
            );
        } else {
            let _ = write!(
                html,
                " <a href=\"?{2}lang={0}\" lang=\"{0}\" hreflang=\"{0}\">{1}</a>",
                l.code(),
                esc(l.t("lang.name")),
                ui.keep_query
            );
        }
    }
    if ui.signed_in {
        let _ = write!(
            html,
            " · <a class=\"tz\" href=\"/settings/time-zone\">{}</a>",
            esc(&lang.tf("nav.timeZone", &[("tz", ui.tz.name())]))
        );
    }
    let _ = write!(
        html,
        " <span class=\"version\">mailtrail {}</span></footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    if ui.remember_tz {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{TZ_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            ui.tz.name()
        )) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if ui.remember_lang {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            lang.code()
        )) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn error_page(ui: &Ui, status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"notice\">{}</p><p><a href=\"/contacts\">{}</a></p>",
        esc(ui.lang.t(if status == StatusCode::NOT_FOUND {
            "error.notFound"
        } else {
            "error.title"
        })),
        esc(message),
        esc(ui.lang.t("error.back"))
    );
    page(ui, status, ui.lang.t("error.title"), &body)
}

fn db_error(ui: &Ui, e: super::db::StoreError) -> Response {
    tracing::error!(error = %e, "web UI query failed");
    error_page(ui, StatusCode::SERVICE_UNAVAILABLE, &e.to_string())
}

// ---- sign-in

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// Only local paths: never redirect elsewhere after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/contacts".to_string(),
    }
}

fn login_form(ui: &Ui, next: &str, wrong: bool) -> String {
    let lang = ui.lang;
    format!(
        "<h1>{title}</h1><p>{intro}</p>{wrong}<form method=\"post\" action=\"/login\" class=\"login\">\
         <label for=\"token\">{label}</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <button type=\"submit\">{submit}</button></form>",
        title = esc(lang.t("login.title")),
        intro = esc(lang.t("login.intro")),
        wrong = if wrong { format!("<p class=\"error\" role=\"alert\">{}</p>", esc(lang.t("login.wrong"))) } else { String::new() },
        label = esc(lang.t("login.token")),
        next = esc(next),
        submit = esc(lang.t("login.submit")),
    )
}

async fn login_page(ui: Ui, q: Result<Query<LoginQuery>, QueryRejection>) -> Response {
    let next = safe_next(q.as_ref().ok().and_then(|q| q.next.as_deref()));
    if ui.signed_in {
        return Redirect::to(&next).into_response();
    }
    page(
        &ui,
        StatusCode::OK,
        ui.lang.t("login.title"),
        &login_form(&ui, &next, false),
    )
}

async fn login(State(st): St, ui: Ui, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    if !constant_time_eq(form.token.trim().as_bytes(), st.token.as_bytes()) {
        return page(
            &ui,
            StatusCode::UNAUTHORIZED,
            ui.lang.t("login.title"),
            &login_form(&ui, &next, true),
        );
    }
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000{secure}",
        st.ui_session
    );
    let mut resp = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn logout() -> Response {
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("mt_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    resp
}

async fn stylesheet() -> Response {
    let mut resp = include_str!("style.css").into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    resp
}

// ---- contacts

#[derive(Deserialize, Default)]
struct ContactsQuery {
    q: Option<String>,
    cursor: Option<String>,
}

async fn contacts_page(
    State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    q: Result<Query<ContactsQuery>, QueryRejection>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let lang = ui.lang;
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let search = q.q.unwrap_or_default();
    let after = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .and_then(|c| parse_contact_cursor(c).ok());
    let paged = after.is_some();
    let rows = match st.store.list_contacts(&search, CONTACTS_PAGE, after).await {
        Ok(r) => r,
        Err(e) => return db_error(&ui, e),
    };
    let mut body = String::with_capacity(8192);
    let _ = write!(
        body,
        "<h1>{}</h1><form method=\"get\" action=\"/contacts\" class=\"search\" role=\"search\">\
         <input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"{}\" aria-label=\"{}\">\
         <button type=\"submit\">{}</button></form>",
        esc(lang.t("contacts.title")),
        esc(&search),
        esc(lang.t("contacts.search")),
        esc(lang.t("contacts.search")),
        esc(lang.t("contacts.searchButton")),
    );
    if rows.is_empty() {
        let text = if search.trim().is_empty() {
            lang.t("contacts.empty").to_string()
        } else {
            lang.tf("contacts.noMatch", &[("q", search.trim())])
        };
        let _ = write!(body, "<p class=\"notice empty\">{}</p>", esc(&text));
    } else {
        let _ = write!(
            body,
            "<table class=\"contacts\"><thead><tr><th>{}</th><th>{}</th><th class=\"num\">{}</th><th>{}</th></tr></thead><tbody>",
            esc(lang.t("contacts.name")),
            esc(lang.t("contacts.address")),
            esc(lang.t("contacts.emails")),
            esc(lang.t("contacts.lastEmail")),
        );
        for c in &rows {
            contact_row(&mut body, &ui.tz, c);
        }
        body.push_str("</tbody></table>");
    }
    let mut nav = Vec::new();
    if paged {
        nav.push(format!(
            "<a href=\"/contacts?q={}\">{}</a>",
            esc(&urlencode(&search)),
            esc(lang.t("contacts.first"))
        ));
    }
    if rows.len() as i64 == CONTACTS_PAGE {
        if let Some(last) = rows.last() {
            nav.push(format!(
                "<a rel=\"next\" href=\"/contacts?q={}&amp;cursor={}\">{}</a>",
                esc(&urlencode(&search)),
                esc(&contact_cursor(&last.sort_key, last.contact.id)),
                esc(lang.t("contacts.next"))
            ));
        }
    }
    if !nav.is_empty() {
        let _ = write!(body, "<nav class=\"pager\">{}</nav>", nav.join(" "));
    }
    page(&ui, StatusCode::OK, lang.t("contacts.title"), &body)
}

fn contact_row(body: &mut String, tz: &tz::Tz, c: &ContactSummary) {
    let name = c.contact.name.clone().unwrap_or_default();
    let _ = write!(
        body,
        "<tr class=\"contact\" data-contact-id=\"{id}\"><td><a href=\"/contacts/{id}\">{name}</a></td>\
         <td><a href=\"/contacts/{id}\">{address}</a></td><td class=\"num\">{count}</td><td>{last}</td></tr>",
        id = c.contact.id,
        name = esc(&name),
        address = esc(&c.contact.address),
        count = c.email_count,
        last = c.last_email_at.map(|t| tz.tag(t)).unwrap_or_default(),
    );
}

#[derive(Deserialize, Default)]
struct TimelineQuery {
    cursor: Option<String>,
    key: Option<String>,
}

/// The heading of a contact's pages: crumbs, name, address, counts.
fn contact_header(body: &mut String, ui: &Ui, contact: &ContactSummary, display: &str) {
    let lang = ui.lang;
    let _ =
        write!(
        body,
        "<p class=\"crumbs\"><a href=\"/contacts\">{}</a></p><h1 class=\"contact-name\">{}</h1>\
         <p class=\"contact-meta\"><span class=\"address\">{}</span> · {} · {}</p>",
        esc(lang.t("nav.contacts")),
        esc(display),
        esc(&contact.contact.address),
        esc(&lang.plural("count.emails", contact.email_count)),
        esc(&lang.tf("contact.since", &[("date", &ui.tz.format(contact.contact.created_at))])),
    );
}

/// A contact's timeline, paged by thread: the threads with the newest emails first, each with
/// its few newest emails and a link to all of them, so a contact with thousands of emails (or
/// one endless thread) never renders at once.
/// The contact a page is about and the name to show for it (its address when it has none), or
/// the error page to answer instead.
async fn contact_with_name(
    st: &AppState,
    ui: &Ui,
    id: i64,
) -> Result<(ContactSummary, String), Response> {
    match st.store.contact(id).await {
        Ok(Some(c)) => {
            let display = c
                .contact
                .name
                .clone()
                .unwrap_or_else(|| c.contact.address.clone());
            Ok((c, display))
        }
        Ok(None) => Err(error_page(
            ui,
            StatusCode::NOT_FOUND,
            ui.lang.t("contact.notFound"),
        )),
        Err(e) => Err(db_error(ui, e)),
    }
}

async fn contact_page(
    State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    q: Result<Query<TimelineQuery>, QueryRejection>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let lang = ui.lang;
    let Some(id) = id.parse::<i64>().ok() else {
        return error_page(&ui, StatusCode::NOT_FOUND, lang.t("contact.notFound"));
    };
    let (contact, display) = match contact_with_name(&st, &ui, id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let after = q
        .ok()
        .and_then(|Query(q)| q.cursor)
        .and_then(|c| parse_thread_cursor(&c).ok());
    let threads = match st
        .store
        .timeline_threads(id, THREADS_PAGE, after, EMAILS_PER_THREAD)
        .await
    {
        Ok(t) => t,
        Err(e) => return db_error(&ui, e),
    };
    let mut body = String::with_capacity(16 * 1024);
    contact_header(&mut body, &ui, &contact, &display);
    let _ = write!(body, "<h2>{}</h2>", esc(lang.t("contact.timeline")));
    if threads.is_empty() {
        let _ = write!(
            body,
            "<p class=\"notice empty\">{}</p>",
            esc(lang.t("contact.noEmails"))
        );
    }
    for t in &threads {
        let _ = write!(
            body,
            "<section class=\"thread\" data-thread=\"{}\"><h3>{} <span class=\"count\">{}</span></h3><ol class=\"emails\">",
            esc(&t.thread_key),
            esc(&subject_text(lang, &t.subject)),
            esc(&lang.plural("count.emails", t.count)),
        );
        for e in &t.emails {
            timeline_item(&mut body, lang, &ui.tz, e);
        }
        body.push_str("</ol>");
        if t.count > t.emails.len() as i64 {
            let _ = write!(
                body,
                "<p class=\"more\"><a href=\"/contacts/{id}/thread?key={}\">{}</a></p>",
                esc(&urlencode(&t.thread_key)),
                esc(&lang.tf("thread.all", &[("count", &t.count.to_string())])),
            );
        }
        body.push_str("</section>");
    }
    if threads.len() as i64 == THREADS_PAGE {
        if let Some(last) = threads.last() {
            let _ = write!(
                body,
                "<nav class=\"pager\"><a rel=\"next\" href=\"/contacts/{id}?cursor={}\">{}</a></nav>",
                esc(&urlencode(&thread_cursor(last))),
                esc(lang.t("contact.olderThreads"))
            );
        }
    }
    page(&ui, StatusCode::OK, &display, &body)
}

/// All of one thread's emails with a contact, newest first, a page at a time.
async fn thread_page(
    State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    q: Result<Query<TimelineQuery>, QueryRejection>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let lang = ui.lang;
    let Some(id) = id.parse::<i64>().ok() else {
        return error_page(&ui, StatusCode::NOT_FOUND, lang.t("contact.notFound"));
    };
    let q = q.map(|Query(q)| q).unwrap_or(TimelineQuery {
        cursor: None,
        key: None,
    });
    let Some(key) = q.key.filter(|k| !k.is_empty()) else {
        return error_page(&ui, StatusCode::NOT_FOUND, lang.t("thread.notFound"));
    };
    let (contact, display) = match contact_with_name(&st, &ui, id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let before = q.cursor.and_then(|c| parse_email_cursor(&c).ok());
    let rows = match st.store.timeline(id, THREAD_PAGE, before, Some(&key)).await {
        Ok(r) => r,
        Err(e) => return db_error(&ui, e),
    };
    if rows.is_empty() && before.is_none() {
        return error_page(&ui, StatusCode::NOT_FOUND, lang.t("thread.notFound"));
    }
    let mut body = String::with_capacity(16 * 1024);
    contact_header(&mut body, &ui, &contact, &display);
    // The thread's first email names it, on every page (the oldest on this page would change
    // the heading from page to page).
    let first_subject = match st.store.thread_subject(id, &key).await {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return db_error(&ui, e),
    };
    let subject = subject_text(lang, &first_subject);
    let _ = write!(
        body,
        "<p class=\"crumbs\"><a href=\"/contacts/{id}\">{}</a></p>\
         <section class=\"thread\" data-thread=\"{}\"><h2>{}</h2><ol class=\"emails\">",
        esc(lang.t("contact.timeline")),
        esc(&key),
        esc(&subject),
    );
    for e in &rows {
        timeline_item(&mut body, lang, &ui.tz, e);
    }
    body.push_str("</ol></section>");
    if rows.len() as i64 == THREAD_PAGE {
        if let Some(last) = rows.last() {
            let _ = write!(
                body,
                "<nav class=\"pager\"><a rel=\"next\" href=\"/contacts/{id}/thread?key={}&amp;cursor={}\">{}</a></nav>",
                esc(&urlencode(&key)),
                esc(&urlencode(&email_cursor(last))),
                esc(lang.t("contact.older"))
            );
        }
    }
    page(&ui, StatusCode::OK, &display, &body)
}

fn timeline_item(body: &mut String, lang: Lang, tz: &tz::Tz, e: &TimelineRow) {
    let s = summary_of(e);
    let _ = write!(
        body,
        "<li class=\"email email-{dir}\" data-email-id=\"{id}\">{icon}<div class=\"email-main\">\
         <div class=\"email-head\"><a class=\"subject\" href=\"/emails/{id}\">{subject}</a> {time}</div>\
         <div class=\"people\">{from} → {to}</div>",
        dir = esc(&e.direction),
        id = e.id,
        icon = direction_icon(lang, &e.direction),
        subject = esc(&subject_text(lang, &e.subject)),
        time = tz.tag(e.sent_at),
        from = s.from.as_ref().map(person).unwrap_or_default(),
        to = people(&s.to),
    );
    if let Some(by) = &s.forwarded_by {
        let _ = write!(
            body,
            "<div class=\"forwarded\">{}</div>",
            esc(&lang.tf("email.forwardedBy", &[("who", &by.address)]))
        );
    }
    if !e.snippet.is_empty() {
        let _ = write!(body, "<p class=\"snippet\">{}</p>", esc(&e.snippet));
    }
    body.push_str(&attachments_list(lang, &s.attachments, false));
    body.push_str(&attachments_list(lang, &s.dropped_attachments, true));
    body.push_str(&reasons_list(lang, &s.reasons));
    body.push_str("</div></li>");
}

// ---- settings

/// Which time zone the pages show times in (a GET form: `?tz=` is remembered by `Ui`).
async fn time_zone_page(ui: Ui, uri: axum::http::Uri) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let lang = ui.lang;
    let mut body = String::with_capacity(32 * 1024);
    let _ = write!(
        body,
        "<h1>{}</h1><p>{}</p><form method=\"get\" action=\"/settings/time-zone\" class=\"tz-form\">\
         <select name=\"tz\" aria-label=\"{}\">",
        esc(lang.t("tz.title")),
        esc(&lang.tf("tz.intro", &[("system", tz::Tz::system().name())])),
        esc(lang.t("tz.title")),
    );
    for name in tz::Tz::all_names() {
        let selected = if name == ui.tz.name() {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            body,
            "<option value=\"{0}\"{selected}>{0}</option>",
            esc(&name)
        );
    }
    let _ = write!(
        body,
        "</select> <button type=\"submit\">{}</button></form>",
        esc(lang.t("tz.save"))
    );
    if ui.remember_tz {
        let _ = write!(
            body,
            "<p class=\"notice saved\">{}</p>",
            esc(&lang.tf("tz.saved", &[("tz", ui.tz.name())]))
        );
    }
    page(&ui, StatusCode::OK, lang.t("tz.title"), &body)
}

// ---- one email

async fn email_page(
    State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let lang = ui.lang;
    let Some(id) = id.parse::<i64>().ok() else {
        return error_page(&ui, StatusCode::NOT_FOUND, lang.t("email.notFound"));
    };
    let stored = match st.store.record_by_id(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(&ui, StatusCode::NOT_FOUND, lang.t("email.notFound")),
        Err(e) => return db_error(&ui, e),
    };
    let record: mailtrail::Record = match serde_json::from_str(&stored.body) {
        Ok(r) => r,
        Err(e) => {
            return error_page(
                &ui,
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("stored record unreadable: {e}"),
            )
        }
    };
    let stored_hashes: Vec<String> = record
        .attachments
        .iter()
        .filter_map(|a| a.sha256.clone())
        .collect();
    let direction = super::ingest::direction_str(record.direction);
    let subject = subject_text(lang, &record.subject);
    let mut body = String::with_capacity(16 * 1024);
    if let Some(c) = stored.contacts.first() {
        let _ = write!(body, "<p class=\"crumbs\"><a href=\"/contacts\">{}</a> › <a href=\"/contacts/{}\">{}</a></p>",
            esc(lang.t("nav.contacts")), c.id, esc(c.name.as_deref().unwrap_or(&c.address)));
    }
    let _ = write!(
        body,
        "<h1 class=\"email-subject\">{} {}</h1><table class=\"headers\">",
        direction_icon(lang, direction),
        esc(&subject)
    );
    let mut row = |label: &str, value: String| {
        if !value.is_empty() {
            let _ = write!(body, "<tr><th>{}</th><td>{}</td></tr>", esc(label), value);
        }
    };
    row(
        lang.t("email.from"),
        record.from.as_ref().map(person).unwrap_or_default(),
    );
    row(lang.t("email.to"), people(&record.to));
    row(lang.t("email.cc"), people(&record.cc));
    row(lang.t("email.date"), ui.tz.tag(record.timestamp));
    if let Some(f) = record.forwarded.as_ref().and_then(|f| f.by.as_ref()) {
        row(
            lang.t("direction.forwarded"),
            esc(&lang.tf("email.forwardedBy", &[("who", &f.address)])),
        );
    }
    row(
        lang.t("email.contacts"),
        stored
            .contacts
            .iter()
            .map(|c| {
                format!(
                    "<a href=\"/contacts/{}\">{}</a>",
                    c.id,
                    esc(c.name.as_deref().unwrap_or(&c.address))
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
    );
    row(
        lang.t("email.mailbox"),
        esc(record.mailbox.as_deref().unwrap_or("")),
    );
    row(
        lang.t("email.source"),
        esc(&format!("{:?}", record.source).to_lowercase()),
    );
    row(
        lang.t("email.messageId"),
        esc(record.message_id.as_deref().unwrap_or("")),
    );
    body.push_str("</table>");
    body.push_str(&relay::email_section(&st, &ui, id).await);

    let codes: Vec<String> = record
        .reasons
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    if !codes.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2>{}",
            esc(lang.t("email.reasons")),
            reasons_list(lang, &codes)
        );
    }
    let stored_set = st
        .store
        .blobs_present(&stored_hashes)
        .await
        .unwrap_or_default();
    let summarise = |a: &mailtrail::email::Attachment| super::ingest::AttachmentSummary {
        name: a.name.clone(),
        content_type: a.content_type.clone(),
        size: a.size,
        sha256: a.sha256.clone(),
        inline: a.inline,
        stored: a.sha256.as_ref().is_some_and(|h| stored_set.contains(h)),
    };
    let attachments: Vec<_> = record.attachments.iter().map(summarise).collect();
    if !attachments.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2>{}",
            esc(lang.t("email.attachments")),
            attachments_list(lang, &attachments, false)
        );
    }
    let dropped: Vec<_> = record.dropped_attachments.iter().map(summarise).collect();
    if !dropped.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2>{}",
            esc(lang.t("email.dropped")),
            attachments_list(lang, &dropped, true)
        );
    }
    if record.body_truncated {
        let _ = write!(
            body,
            "<p class=\"notice\">{}</p>",
            esc(lang.t("email.bodyTruncated"))
        );
    }
    let has_html = record.html.as_deref().is_some_and(|h| !h.trim().is_empty());
    if has_html {
        let _ = write!(
            body,
            "<p class=\"notice privacy\">{}</p><iframe class=\"email-body\" sandbox=\"\" referrerpolicy=\"no-referrer\" \
             src=\"/emails/{id}/body\" title=\"{}\"></iframe>",
            esc(lang.t("email.remoteBlocked")),
            esc(lang.t("email.body")),
        );
    } else if let Some(text) = record.text.as_deref().filter(|t| !t.trim().is_empty()) {
        let _ = write!(body, "<pre class=\"email-text\">{}</pre>", esc(text));
    } else {
        let _ = write!(
            body,
            "<p class=\"notice\">{}</p>",
            esc(lang.t("email.noBody"))
        );
    }
    page(&ui, StatusCode::OK, &subject, &body)
}

/// The sanitised HTML body, for the sandboxed iframe only.
async fn email_body(
    State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let Some(id) = id.parse::<i64>().ok() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let record: mailtrail::Record = match st.store.record_by_id(id).await {
        Ok(Some(r)) => match serde_json::from_str(&r.body) {
            Ok(rec) => rec,
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return db_error(&ui, e),
    };
    // Inline images that are stored here become data: URIs.
    let inline: Vec<(&str, &str, &str)> = record
        .attachments
        .iter()
        .filter_map(|a| {
            Some((
                a.content_id.as_deref()?,
                a.sha256.as_deref()?,
                a.content_type.as_str(),
            ))
        })
        .collect();
    let hashes: Vec<String> = inline.iter().map(|(_, h, _)| h.to_string()).collect();
    let blobs = st
        .store
        .small_blobs(&hashes, MAX_INLINE_IMAGE)
        .await
        .unwrap_or_default();
    let mut images = HashMap::new();
    for (cid, sha, ct) in inline {
        if let Some(uri) = blobs.get(sha).and_then(|b| sanitize::data_uri(ct, b)) {
            images.insert(
                cid.trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
                uri,
            );
        }
    }
    let html = record.html.unwrap_or_default();
    let clean =
        tokio::task::spawn_blocking(move || sanitize::clean_email_html(&html, images)).await;
    let Ok(clean) = clean else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let doc = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
         <style>body{{font-family:system-ui,sans-serif;margin:12px;color:#1d2433;overflow-wrap:anywhere}}\
         img{{max-width:100%;height:auto}}table{{max-width:100%}}</style></head><body>{}</body></html>",
        clean.html
    );
    let mut resp = doc.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(BODY_CSP),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    if clean.blocked_remote {
        h.insert(
            "x-mailtrail-blocked",
            HeaderValue::from_static("remote-content"),
        );
    }
    resp
}

#[derive(Deserialize, Default)]
struct AttachmentQuery {
    name: Option<String>,
}

async fn attachment(
    State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    Path(sha): Path<String>,
    q: Result<Query<AttachmentQuery>, QueryRejection>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let name = q.ok().and_then(|Query(q)| q.name);
    match attachment_response(&st, &sha, name.as_deref()).await {
        Ok(r) => r,
        Err(e) => error_page(&ui, e.status, &e.message),
    }
}

// ---- connected inboxes

async fn status_page(State(st): St, ui: Ui, uri: axum::http::Uri) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let lang = ui.lang;
    let rows = match st.store.watch_statuses().await {
        Ok(r) => r,
        Err(e) => return db_error(&ui, e),
    };
    let mut body = format!("<h1>{}</h1>", esc(lang.t("status.title")));
    if rows.is_empty() {
        let _ = write!(
            body,
            "<p class=\"notice empty\">{}</p>",
            esc(lang.t("status.empty"))
        );
        return page(&ui, StatusCode::OK, lang.t("status.title"), &body);
    }
    let _ = write!(
        body,
        "<table class=\"watch\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(lang.t("status.account")),
        esc(lang.t("status.state")),
        esc(lang.t("status.details")),
        esc(lang.t("status.lastSync")),
        esc(lang.t("status.updated")),
    );
    let now = now_ms();
    for r in rows {
        let v = watch_json(&r.account, &r.status, r.updated_at);
        let state = v
            .get("state")
            .and_then(|s| s.as_str())
            .unwrap_or("disconnected");
        let mut details: Vec<String> = Vec::new();
        if let Some(reason) = v.get("reason").and_then(|s| s.as_str()) {
            let key = format!("watch.reason.{reason}");
            let text = if Lang::En.has(&key) {
                lang.t(&key).to_string()
            } else {
                reason.to_string()
            };
            details.push(format!(
                "<span class=\"watch-reason\" data-reason=\"{}\">{}</span>",
                esc(reason),
                esc(&text)
            ));
        }
        if let Some(m) = v
            .get("message")
            .and_then(|s| s.as_str())
            .filter(|m| !m.is_empty())
        {
            details.push(format!("<span class=\"watch-message\">{}</span>", esc(m)));
        }
        if let Some(n) = v.get("attempt").and_then(|n| n.as_u64()) {
            details.push(esc(&lang.tf("status.attempt", &[("n", &n.to_string())])));
        }
        if let Some(t) = v.get("nextTryAt").and_then(|n| n.as_i64()) {
            details.push(esc(
                &lang.tf("status.nextTry", &[("time", &ui.tz.format(t))])
            ));
        }
        // Records the endpoint refused are not sent again by themselves: say how.
        if let Some(n) = v.get("dead").and_then(|n| n.as_u64()).filter(|n| *n > 0) {
            details.push(dead_records(lang, n));
        }
        // A watcher reports at least every few minutes; silence means it stopped.
        if state != "disconnected" && now - r.updated_at > 15 * 60 * 1000 {
            details.push(format!(
                "<span class=\"stale\">{}</span>",
                esc(&lang.tf("status.stale", &[("time", &ui.tz.format(r.updated_at))]))
            ));
        }
        let _ = write!(
            body,
            "<tr class=\"watch-row\" data-account=\"{acct}\"><td>{acct}</td><td><span class=\"state state-{state}\">{label}</span></td>\
             <td>{details}</td><td>{sync}</td><td>{updated}</td></tr>",
            acct = esc(&r.account),
            state = esc(state),
            label = esc(lang.t(&format!("watch.state.{state}"))),
            details = details.join("<br>"),
            sync = v.get("lastSyncAt").and_then(|n| n.as_i64()).map(|t| ui.tz.tag(t)).unwrap_or_default(),
            updated = ui.tz.tag(r.updated_at),
        );
    }
    body.push_str("</tbody></table>");
    page(&ui, StatusCode::OK, lang.t("status.title"), &body)
}

/// The command that sends refused records again: a running watcher is asked to do it (it is
/// not stopped); without one, the command sends them itself and syncs once.
const RETRY_FAILED: &str = "mailtrail watch --config \u{2026} --once --retry-failed";

/// "N records refused by the endpoint …", escaped, with the command as `<code>`.
fn dead_records(lang: Lang, n: u64) -> String {
    let count = i64::try_from(n).unwrap_or(i64::MAX);
    let text = esc(&lang.plural("status.dead", count));
    // `{command}` survives escaping (no special characters); the command is ours.
    format!(
        "<span class=\"watch-dead\" data-dead=\"{n}\">{}</span>",
        text.replace("{command}", &format!("<code>{}</code>", esc(RETRY_FAILED)))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_records_show_the_command() {
        let html = dead_records(Lang::En, 3);
        assert!(html.contains("data-dead=\"3\""), "{html}");
        assert!(html.contains("3 records"), "{html}");
        assert!(
            html.contains("<code>mailtrail watch --config \u{2026} --once --retry-failed</code>"),
            "{html}"
        );
        assert!(dead_records(Lang::En, 1).contains("1 record "));
        // The watcher need not be stopped any more: the texts must not say so.
        assert!(!html.contains("stop the watcher"), "{html}");
        assert!(html.contains("keeps running"), "{html}");
        for lang in Lang::ALL {
            let html = dead_records(lang, 22);
            assert!(
                !html.contains("{command}") && html.contains("<code>"),
                "{html}"
            );
        }
        assert!(dead_records(Lang::Pl, 22).contains("22 wpisy"));
        assert!(dead_records(Lang::Pl, 5).contains("5 wpisów"));
    }

    #[test]
    fn formats_times_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_772_500_500_000), "2026-03-03 01:15 UTC");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn only_local_redirects() {
        assert_eq!(safe_next(Some("/contacts/3")), "/contacts/3");
        assert_eq!(safe_next(Some("//evil.example/")), "/contacts");
        assert_eq!(safe_next(Some("https://evil.example/")), "/contacts");
        assert_eq!(safe_next(Some("/\\evil.example")), "/contacts");
        assert_eq!(safe_next(None), "/contacts");
    }
}
