//! A transport that answers from a script (tests/engine.rs, tests/hubspot.rs), and the
//! executor for futures whose I/O is always ready.

use mailtrail::http::{HttpRequest, HttpResponse, Transport, TransportError};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// Runs a future whose I/O is always ready (the scripted transport never waits).
pub fn block_on<F: Future>(f: F) -> F::Output {
    fn noop(_: *const ()) {}
    fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable's functions ignore the data pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Answers requests from a script, and keeps every request it saw.
#[derive(Default)]
pub struct Scripted {
    answers: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
    seen: RefCell<Vec<HttpRequest>>,
}

#[allow(dead_code)] // each test file uses its own part of the script
impl Scripted {
    pub fn answer(&self, status: u16, body: &str) -> &Self {
        self.answer_with(status, &[], body)
    }
    pub fn answer_with(&self, status: u16, headers: &[(&str, &str)], body: &str) -> &Self {
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.answers.borrow_mut().push_back(Ok(HttpResponse {
            status,
            headers,
            body: body.into(),
        }));
        self
    }
    /// No answer: the connection failed (`maybe_sent`: after the request may have arrived).
    pub fn fail(&self, maybe_sent: bool) -> &Self {
        self.answers.borrow_mut().push_back(Err(TransportError {
            message: "connection refused".into(),
            maybe_sent,
        }));
        self
    }
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.seen.borrow().clone()
    }
    /// The request bodies as JSON (`null` for one that is not JSON).
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.requests()
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null))
            .collect()
    }
}

impl Transport for Scripted {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.seen.borrow_mut().push(request);
        self.answers.borrow_mut().pop_front().unwrap_or_else(|| {
            Err(TransportError {
                message: "no scripted answer".into(),
                maybe_sent: false,
            })
        })
    }
}
