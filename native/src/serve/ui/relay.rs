//! The web UI's view of the HubSpot relay: the relay page (counts, records not done, "send
//! again") and the relay section of an email's page.

use super::i18n::Lang;
use super::{db_error, error_page, esc, guard, page, subject_text, St, Ui};
use crate::serve::db::{now_ms, RelayRow};
use crate::serve::relay::{self, TARGET};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::fmt::Write as _;

/// Records per page of the relay page.
const PAGE: i64 = 50;

/// A form posted from another site is refused even with the session cookie (which is
/// SameSite=Strict already): browsers say where a request comes from.
fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

/// The state of one relay row, for people: a label, and details (attempts, next try, error,
/// HubSpot's id).
pub fn describe(lang: Lang, tz: &super::tz::Tz, r: &RelayRow) -> (String, Vec<String>) {
    let now = now_ms();
    let in_flight = r.lease_until.is_some_and(|t| t > now);
    let label = if in_flight {
        lang.t("relay.state.sending").to_string()
    } else {
        lang.t(&format!("relay.state.{}", r.state)).to_string()
    };
    let mut details = Vec::new();
    if let Some(id) = &r.remote_id {
        details.push(esc(&lang.tf("relay.remoteId", &[("id", id)])));
    }
    if r.state != "done" && r.attempts > 0 {
        details.push(esc(
            &lang.tf("relay.attempts", &[("n", &r.attempts.to_string())])
        ));
    }
    if matches!(r.state.as_str(), "pending" | "retrying") && !in_flight && r.next_at > now {
        details.push(esc(
            &lang.tf("relay.nextTry", &[("time", &tz.format(r.next_at))])
        ));
    }
    if r.state != "done" {
        if let Some(e) = &r.last_error {
            details.push(format!("<span class=\"relay-error\">{}</span>", esc(e)));
        }
        if r.maybe_sent {
            details.push(esc(lang.t("relay.maybeSent")));
        }
    }
    (label, details)
}

fn state_badge(state: &str, label: &str) -> String {
    format!(
        "<span class=\"state relay-state relay-{s}\" data-relay-state=\"{s}\">{}</span>",
        esc(label),
        s = esc(state)
    )
}

/// The "HubSpot" section of an email's page: where the record is in the relay, with a button
/// to send it (again) when that makes sense.
pub async fn email_section(st: &crate::serve::AppState, ui: &Ui, record_id: i64) -> String {
    let lang = ui.lang;
    let rows = st
        .store
        .relay_rows(&[record_id])
        .await
        .unwrap_or_default()
        .remove(&record_id)
        .unwrap_or_default();
    let row = rows.iter().find(|r| r.target == TARGET);
    if row.is_none() && st.relay.is_none() {
        return String::new();
    }
    let mut out = format!(
        "<h2>{}</h2><div class=\"relay\">",
        esc(lang.t("relay.heading"))
    );
    match row {
        Some(r) => {
            let (label, details) = describe(lang, &ui.tz, r);
            let shown = if r.lease_until.is_some_and(|t| t > now_ms()) {
                "sending"
            } else {
                r.state.as_str()
            };
            let _ = write!(
                out,
                "<p>{} {}</p>",
                state_badge(shown, &label),
                details.join(" · ")
            );
            if st.relay.is_some() && matches!(r.state.as_str(), "dead" | "retrying") {
                let _ = write!(
                    out,
                    "<form method=\"post\" action=\"/emails/{record_id}/relay\"><button type=\"submit\">{}</button></form>",
                    esc(lang.t("relay.retry"))
                );
            }
        }
        None => {
            let _ = write!(
                out,
                "<p>{} {}</p><form method=\"post\" action=\"/emails/{record_id}/relay\"><button type=\"submit\">{}</button></form>",
                state_badge("none", lang.t("relay.state.none")),
                esc(lang.t("relay.notQueued")),
                esc(lang.t("relay.send"))
            );
        }
    }
    out.push_str("</div>");
    out
}

/// `POST /emails/{id}/relay`: send this email to HubSpot (again) now.
pub async fn email_retry(
    axum::extract::State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    if cross_site(&headers) {
        return error_page(&ui, StatusCode::FORBIDDEN, ui.lang.t("relay.crossSite"));
    }
    let Some(id) = id.parse::<i64>().ok() else {
        return error_page(&ui, StatusCode::NOT_FOUND, ui.lang.t("email.notFound"));
    };
    let record = match st.store.record_by_id(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(&ui, StatusCode::NOT_FOUND, ui.lang.t("email.notFound")),
        Err(e) => return db_error(&ui, e),
    };
    match relay::retry_key(&st, &record.idempotency_key).await {
        Ok(_) => Redirect::to(&format!("/emails/{id}")).into_response(),
        Err(e) => error_page(&ui, e.status, &e.message),
    }
}

/// `POST /relay/retry`: every dead or retrying record is due again now.
pub async fn retry_all(
    axum::extract::State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    if cross_site(&headers) {
        return error_page(&ui, StatusCode::FORBIDDEN, ui.lang.t("relay.crossSite"));
    }
    match relay::retry_all_failed(&st).await {
        Ok(_) => Redirect::to("/relay").into_response(),
        Err(e) => error_page(&ui, e.status, &e.message),
    }
}

#[derive(serde::Deserialize, Default)]
pub struct BackfillForm {
    since: Option<String>,
}

/// `POST /relay/backfill`: queue the emails stored before the relay was on (from a date, in
/// the page's time zone, when one is given), then back to the relay page saying how many.
pub async fn backfill(
    axum::extract::State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    headers: HeaderMap,
    form: Result<axum::extract::Form<BackfillForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    if cross_site(&headers) {
        return error_page(&ui, StatusCode::FORBIDDEN, ui.lang.t("relay.crossSite"));
    }
    let form = form.map(|f| f.0).unwrap_or_default();
    let since = match form
        .since
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => match relay::parse_since_text(s, ui.tz.zone()) {
            Ok(ms) => Some(ms),
            Err(_) => {
                return error_page(
                    &ui,
                    StatusCode::BAD_REQUEST,
                    &ui.lang.tf("relay.backfillBadDate", &[("date", s)]),
                )
            }
        },
    };
    match relay::backfill_records(&st, since).await {
        Ok(n) => Redirect::to(&format!("/relay?queued={n}")).into_response(),
        Err(e) => error_page(&ui, e.status, &e.message),
    }
}

#[derive(serde::Deserialize)]
pub struct RelayQuery {
    state: Option<String>,
    cursor: Option<String>,
    /// Set after a backfill: how many emails it queued.
    queued: Option<u64>,
}

/// `GET /relay`: is the relay on, how many records are in each state, and the records that
/// are not done yet (or those of one state).
pub async fn relay_page(
    axum::extract::State(st): St,
    ui: Ui,
    uri: axum::http::Uri,
    q: Result<Query<RelayQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(r) = guard(&ui, &uri) {
        return r;
    }
    let lang = ui.lang;
    let q = q.map(|Query(q)| q).unwrap_or(RelayQuery {
        state: None,
        cursor: None,
        queued: None,
    });
    let states = match relay::list_states(q.state.as_deref()) {
        Ok(s) => s,
        Err(e) => return error_page(&ui, StatusCode::BAD_REQUEST, &e.message),
    };
    let before = q
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .and_then(|c| relay::parse_list_cursor(c).ok());
    let o = match relay::overview(&st).await {
        Ok(o) => o,
        Err(e) => return db_error(&ui, e),
    };
    let rows = match st.store.relay_list(TARGET, &states, PAGE, before).await {
        Ok(r) => r,
        Err(e) => return db_error(&ui, e),
    };
    let mut body = format!("<h1>{}</h1>", esc(lang.t("relay.title")));
    let status = match (&st.relay, o.queuing_since) {
        (Some(r), _) => lang.tf("relay.on", &[("url", r.config.base_url())]),
        (None, Some(_)) => lang.t("relay.queuedNotRelayed").to_string(),
        (None, None) => lang.t("relay.off").to_string(),
    };
    let _ = write!(
        body,
        "<p class=\"notice relay-status\">{}</p>",
        esc(&status)
    );
    if let Some(n) = q.queued {
        let _ = write!(
            body,
            "<p class=\"notice saved relay-backfilled\" data-queued=\"{n}\">{}</p>",
            esc(&lang.tf("relay.backfilled", &[("n", &n.to_string())]))
        );
    }
    let _ = write!(body, "<p class=\"relay-counts\">");
    for (state, n) in [
        ("pending", o.counts.pending),
        ("retrying", o.counts.retrying),
        ("dead", o.counts.dead),
        ("done", o.counts.done),
    ] {
        let _ = write!(
            body,
            "<a href=\"/relay?state={state}\" data-count-state=\"{state}\" data-count=\"{n}\">{} {n}</a> ",
            state_badge(state, lang.t(&format!("relay.state.{state}")))
        );
    }
    body.push_str("</p>");
    if st.relay.is_some() && o.counts.dead + o.counts.retrying > 0 {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/relay/retry\"><button type=\"submit\">{}</button></form>",
            esc(lang.t("relay.retryAll"))
        );
    }
    if st.relay.is_some() {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/relay/backfill\" class=\"relay-backfill\"><p>{hint}</p>\
             <label>{label} <input type=\"date\" name=\"since\"></label> \
             <button type=\"submit\">{button}</button></form>",
            hint = esc(lang.t("relay.backfillHint")),
            label = esc(&lang.tf("relay.backfillSince", &[("tz", ui.tz.name())])),
            button = esc(lang.t("relay.backfill")),
        );
    }
    if rows.is_empty() {
        let _ = write!(
            body,
            "<p class=\"notice empty\">{}</p>",
            esc(lang.t("relay.empty"))
        );
        return page(&ui, StatusCode::OK, lang.t("relay.title"), &body);
    }
    let _ = write!(
        body,
        "<table class=\"relay-list\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(lang.t("email.subject")),
        esc(lang.t("email.date")),
        esc(lang.t("status.state")),
        esc(lang.t("status.details")),
    );
    for r in &rows {
        let (label, details) = describe(lang, &ui.tz, &r.relay);
        let shown = if r.relay.lease_until.is_some_and(|t| t > now_ms()) {
            "sending"
        } else {
            r.relay.state.as_str()
        };
        let _ = write!(
            body,
            "<tr class=\"relay-row\" data-key=\"{key}\"><td><a href=\"/emails/{id}\">{subject}</a></td><td>{time}</td><td>{badge}</td><td>{details}</td></tr>",
            key = esc(&r.idempotency_key),
            id = r.relay.record_id,
            subject = esc(&subject_text(lang, &r.subject)),
            time = ui.tz.tag(r.sent_at),
            badge = state_badge(shown, &label),
            details = details.join("<br>"),
        );
    }
    body.push_str("</tbody></table>");
    if rows.len() as i64 == PAGE {
        if let Some(last) = rows.last() {
            let state = q.state.as_deref().unwrap_or("");
            let _ = write!(
                body,
                "<p class=\"pager\"><a href=\"/relay?state={}&amp;cursor={}\">{}</a></p>",
                esc(state),
                esc(&relay::list_cursor(last)),
                esc(lang.t("contacts.next"))
            );
        }
    }
    page(&ui, StatusCode::OK, lang.t("relay.title"), &body)
}
