//! `fetch` (through gloo-net) as the engine's transport in the browser, and the flush loop.

use crate::delivery::{deliver, rejected_credentials, FlushReport};
use crate::engine::Engine as Core;
use crate::http::{HttpRequest, HttpResponse, Transport, TransportError};
use gloo_net::http::{Method, RequestBuilder};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;

/// How long one request may take before it counts as a network error.
const TIMEOUT_MS: u32 = 30_000;

pub struct Fetch;

impl Transport for Fetch {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = match request.method.as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            "OPTIONS" => Method::OPTIONS,
            other => {
                return Err(TransportError {
                    message: format!("unsupported method {other}"),
                    maybe_sent: false,
                })
            }
        };
        let signal = web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS);
        let builder = RequestBuilder::new(&request.url)
            .method(method)
            .abort_signal(Some(&signal))
            .headers(headers(&request.headers)?);
        let built = if request.method == "GET" || request.method == "OPTIONS" {
            builder.build()
        } else {
            builder.body(request.body)
        };
        let req = built.map_err(|e| TransportError {
            message: e.to_string(),
            maybe_sent: false,
        })?;
        // A failed fetch after the body left may still have reached the server (timeout).
        let response = req.send().await.map_err(|e| TransportError {
            message: e.to_string(),
            maybe_sent: true,
        })?;
        let status = response.status();
        let headers = response.headers().entries().collect();
        let body = response.text().await.unwrap_or_default();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// The request's headers, or why one cannot be sent. gloo-net's `RequestBuilder::header`
/// throws (`unwrap_throw`) when `fetch` refuses a value — a token pasted with a zero-width space
/// or a line break — and a throw inside the future leaves the JS promise unsettled for good, so
/// each value is checked first and set through `Headers.set`'s `Result`.
fn headers(list: &[(String, String)]) -> Result<gloo_net::http::Headers, TransportError> {
    let refused = |message: String| TransportError {
        message,
        maybe_sent: false,
    };
    let raw = gloo_net::http::Headers::new().into_raw();
    for (name, value) in list {
        if let Some(problem) = crate::http::header_problem(name, value) {
            return Err(refused(problem));
        }
        raw.set(name, value).map_err(|e| {
            refused(format!(
                "the {name} header cannot be sent: {}",
                e.as_string()
                    .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| e.message().into()))
                    .unwrap_or_else(|| "the browser refused it".into())
            ))
        })?;
    }
    Ok(gloo_net::http::Headers::from_raw(raw))
}

/// Flushes without holding the engine borrowed across an `await`.
pub async fn flush(inner: &Rc<RefCell<Core>>, now: Option<f64>) -> FlushReport {
    let mut report = FlushReport::default();
    let endpoint = inner.borrow().settings().endpoint_or_default();
    // A bounded number of rounds: a flush must end even if records keep becoming due.
    for _ in 0..50 {
        let due = inner.borrow_mut().take_due(super::now_or(now), 20);
        if due.is_empty() {
            break;
        }
        let mut due = due.into_iter();
        for (key, record, maybe_sent) in due.by_ref() {
            // The clock is read for each request: a record is signed with the time it leaves,
            // and a round of 20 slow requests can outlast a receiver's five-minute window.
            let sent_at = super::now_or(now);
            let outcome = deliver(&endpoint, &record, maybe_sent, sent_at, &Fetch).await;
            report.count(&key, &outcome);
            let rejected = rejected_credentials(&outcome);
            inner
                .borrow_mut()
                .complete(&key, outcome, super::now_or(now), js_sys::Math::random());
            if let Some(outcome) = rejected {
                // The endpoint refused the token: the rest of the round goes back unsent.
                let mut engine = inner.borrow_mut();
                for (key, ..) in due.by_ref() {
                    engine.complete(
                        &key,
                        outcome.clone(),
                        super::now_or(now),
                        js_sys::Math::random(),
                    );
                }
                return report;
            }
        }
    }
    report
}
