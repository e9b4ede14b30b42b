//! `fetch` (through gloo-net) as the engine's transport in the browser, and the flush loop.

use crate::delivery::{deliver, FlushReport};
use crate::engine::Engine as Core;
use crate::http::{HttpRequest, HttpResponse, Transport, TransportError};
use gloo_net::http::{Method, RequestBuilder};
use std::cell::RefCell;
use std::rc::Rc;

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
        let mut builder = RequestBuilder::new(&request.url)
            .method(method)
            .abort_signal(Some(&signal));
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
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
        for (key, record, maybe_sent) in due {
            // The clock is read for each request: a record is signed with the time it leaves,
            // and a round of 20 slow requests can outlast a receiver's five-minute window.
            let sent_at = super::now_or(now);
            let outcome = deliver(&endpoint, &record, maybe_sent, sent_at, &Fetch).await;
            report.count(&key, &outcome);
            inner
                .borrow_mut()
                .complete(&key, outcome, super::now_or(now), js_sys::Math::random());
        }
    }
    report
}
