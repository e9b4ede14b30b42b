//! The native HTTP transport (reqwest + rustls) behind the core's `Transport` trait.

use mailtrail::http::{HttpRequest, HttpResponse, Transport, TransportError};
use std::time::Duration;

pub struct Native {
    client: reqwest::Client,
}

impl Native {
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(mailtrail::record::client_string())
            .build()
            .map_err(|e| format!("cannot create the HTTP client: {e}"))?;
        Ok(Native { client })
    }
}

impl Transport for Native {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| TransportError {
                message: format!("bad method {}", request.method),
                maybe_sent: false,
            })?;
        let mut builder = self.client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        let response = builder.send().await.map_err(|e| TransportError {
            // A timeout may strike after the server got the request; a refused connection cannot.
            maybe_sent: e.is_timeout() || e.is_request(),
            message: describe(&e),
        })?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.text().await.unwrap_or_default();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}
