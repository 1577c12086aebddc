//! A plain HTTP client of the service's Connect paths: what curl, a
//! browser's `fetch` or a gateway sends, over HTTP/1.1 or HTTP/2.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

/// Posts to one service.
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; panics (with the body) if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// TCP_NODELAY, as curl and browsers set it: without it, HTTP/2's headers
/// and body frames, written apart, wait out the peer's delayed ACK (40 ms
/// a call, measured).
fn connector() -> HttpConnector {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector
}

impl Http {
    /// HTTP/1.1 to `addr`.
    pub fn h1(addr: SocketAddr) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector()),
            base: format!("http://{addr}"),
        }
    }

    /// HTTP/2 without TLS (prior knowledge, as `curl --http2-prior-knowledge`).
    pub fn h2(addr: SocketAddr) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build(connector()),
            base: format!("http://{addr}"),
        }
    }

    /// `POST path` with `body` as `content_type` and extra `headers`.
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("connect-protocol-version", "1");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Full::new(body.into())).unwrap())
            .await
    }

    /// A Connect unary call with a JSON body.
    pub async fn json(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.post(path, "application/json", body.to_string(), &[])
            .await
    }

    /// Sends any request.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Reply {
        let response = self.client.request(request).await.expect("HTTP request");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("HTTP body")
            .to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }
}
