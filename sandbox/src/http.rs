//! The transport: HTTP/1.1 on hyper over tokio, with keep-alive, pipelining and any number
//! of connections at once, the way amoCRM's front end serves a client that keeps several
//! requests in flight. `reqwest` already brings hyper and tokio into the build.
//!
//! The request pipeline (`server::process`) stays synchronous and blocking (latency and
//! fault delays are plain sleeps, state sits behind mutexes), so each request runs on
//! tokio's blocking pool. A pipeline that answers "no response" makes the connection end
//! without a byte written: the fault "drop the connection" as a client sees it.

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};

pub use crate::message::{Request, Response};
use crate::shared::Shared;

const MAX_BODY: usize = 64 * 1024 * 1024;

/// The request pipeline: `None` drops the connection without answering.
pub type Handler = fn(&Shared, &Request) -> Option<Response>;

/// The connection ends without a response (a dropped-connection fault, an unreadable body).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped without a response")
    }
}

impl std::error::Error for Dropped {}

/// Serves `listener` until `sh.shutdown` is set (and one more connection wakes the loop).
pub fn serve(listener: TcpListener, sh: Arc<Shared>, handler: Handler) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("sandbox-http")
        .build()
    {
        Ok(rt) => rt,
        Err(_) => return,
    };
    runtime.block_on(async {
        if listener.set_nonblocking(true).is_err() {
            return;
        }
        let Ok(addr) = listener.local_addr() else {
            return;
        };
        let Ok(mut listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        loop {
            // Woken now and then to see a vanishing (`Shared::vanish_after`).
            let accepted = tokio::time::timeout(Duration::from_millis(20), listener.accept()).await;
            if sh.shutdown.load(Ordering::Relaxed) {
                break;
            }
            if sh.down.load(Ordering::SeqCst) {
                // Nothing listens any more: connecting is refused, as to a dead host. A
                // connection accepted at that moment is closed too, not held unanswered.
                drop(accepted);
                drop(listener);
                while sh.down.load(Ordering::SeqCst) && !sh.shutdown.load(Ordering::Relaxed) {
                    if sh.revive_due() {
                        sh.revive();
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                if sh.shutdown.load(Ordering::Relaxed) {
                    break;
                }
                let Some(l) = rebind(addr).await else {
                    return;
                };
                listener = l;
                continue;
            }
            let Ok(Ok((stream, _))) = accepted else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let sh = Arc::clone(&sh);
            tokio::spawn(async move {
                let watch = Arc::clone(&sh);
                let service = service_fn(move |req| answer(Arc::clone(&sh), handler, req));
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .pipeline_flush(true)
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), service);
                let mut conn = std::pin::pin!(conn);
                // A vanishing closes the connection (dropping it), answered or not.
                while tokio::time::timeout(Duration::from_millis(10), conn.as_mut())
                    .await
                    .is_err()
                {
                    if watch.down.load(Ordering::SeqCst) {
                        break;
                    }
                }
            });
        }
    });
    // Requests still in the pipeline finish on their own threads, as before the switch.
    runtime.shutdown_background();
}

/// The same port again after a vanishing (std's bind sets `SO_REUSEADDR`, so the closed
/// connections' `TIME_WAIT` does not hold it).
async fn rebind(addr: std::net::SocketAddr) -> Option<tokio::net::TcpListener> {
    for _ in 0..500 {
        if let Ok(l) = TcpListener::bind(addr) {
            if l.set_nonblocking(true).is_ok() {
                if let Ok(l) = tokio::net::TcpListener::from_std(l) {
                    return Some(l);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// One request: read the body, run the blocking pipeline, build hyper's response.
async fn answer(
    sh: Arc<Shared>,
    handler: Handler,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| Dropped)?
        .to_bytes();
    let request = Request {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).trim().to_string();
                (k.as_str().to_string(), value)
            })
            .collect(),
        body: body.to_vec(),
    };
    let outcome = tokio::task::spawn_blocking(move || handler(&sh, &request))
        .await
        .map_err(|_| Dropped)?;
    outcome.map(to_hyper).ok_or(Dropped)
}

fn to_hyper(resp: Response) -> hyper::Response<Full<Bytes>> {
    let body = match resp.status {
        204 => Bytes::new(),
        _ => Bytes::from(resp.body),
    };
    let mut out = hyper::Response::new(Full::new(body));
    *out.status_mut() = hyper::StatusCode::from_u16(resp.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.insert("server", HeaderValue::from_static("amocrm-sandbox"));
    if let Some(ct) = resp.content_type {
        headers.insert("content-type", HeaderValue::from_static(ct));
    }
    for (k, v) in resp.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            headers.append(k, v);
        }
    }
    out
}
