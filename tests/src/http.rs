//! The one HTTP GET the kits need: the operator's /readyz and /metrics on localhost.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

use crate::Result;

/// An HTTP endpoint on this machine, such as the operator's health and metrics server.
#[derive(Clone, Debug)]
pub struct Endpoint {
    client: reqwest::Client,
    address: SocketAddr,
}

impl Endpoint {
    pub fn new(address: SocketAddr) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            // A /metrics page of a busy operator can take a moment to render.
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .context("building the HTTP client")?;
        Ok(Self { client, address })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The body of `GET path`; an error unless the answer is 200.
    pub async fn get(&self, path: &str) -> Result<String> {
        let url = format!("http://{}{path}", self.address);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        anyhow::ensure!(status == reqwest::StatusCode::OK, "GET {url}: {status}");
        response
            .text()
            .await
            .with_context(|| format!("GET {url}: reading the body"))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// A server on a free port that answers each connection with the next canned response.
    fn serve(responses: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for response in responses {
                let (mut stream, _) = listener.accept().unwrap();
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                stream.write_all(response).unwrap();
            }
        });
        address
    }

    #[tokio::test]
    async fn get_returns_the_body_of_a_200_plain_or_chunked_and_refuses_others() {
        let endpoint = Endpoint::new(serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
        ]))
        .unwrap();
        assert_eq!(endpoint.get("/plain").await.unwrap(), "hello");
        assert_eq!(endpoint.get("/chunked").await.unwrap(), "hello world");
        let error = endpoint.get("/readyz").await.unwrap_err().to_string();
        assert!(error.ends_with("503 Service Unavailable"), "{error}");
    }
}
