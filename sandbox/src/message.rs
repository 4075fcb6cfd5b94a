//! The plain HTTP messages the handlers read and answer, apart from the transport that
//! carries them ([`crate::http`]): the handlers, the HAL helpers and the OAuth server use
//! them without depending on the server's shared state.

/// A parsed request; header names are lower-cased.
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response before serialisation. `content_type` None means no body (204).
pub struct Response {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status,
            content_type: Some(content_type),
            body,
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            content_type: None,
            body: Vec::new(),
            headers: Vec::new(),
        }
    }
}

pub fn reason(status: u16) -> &'static str {
    hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown")
}
