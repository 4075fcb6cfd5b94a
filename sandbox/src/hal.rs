//! Response shapes shared by every endpoint: HAL success bodies, problem+json errors,
//! 204 for "nothing found", and list envelopes whose `_links.next` appears only when
//! there is more (clients must stop on a missing `next`, §1).

use serde_json::{json, Value};

use crate::message::{reason, Response};

pub const HAL: &str = "application/hal+json";
pub const PROBLEM: &str = "application/problem+json";
pub const JSON: &str = "application/json";
pub const HTML: &str = "text/html";

pub fn hal(status: u16, body: &Value) -> Response {
    Response::new(status, HAL, body.to_string().into_bytes())
}

pub fn ok(body: &Value) -> Response {
    hal(200, body)
}

pub fn no_content() -> Response {
    Response::empty(204)
}

pub fn problem_body(status: u16, detail: &str) -> Value {
    json!({
        "title": reason(status),
        "type": format!("https://httpstatus.es/{status}"),
        "status": status,
        "detail": detail,
    })
}

pub fn problem(status: u16, detail: &str) -> Response {
    Response::new(
        status,
        PROBLEM,
        problem_body(status, detail).to_string().into_bytes(),
    )
}

pub fn bad_request(detail: &str) -> Response {
    problem(400, detail)
}

pub fn too_many(retry_after: u64) -> Response {
    let mut body = problem_body(429, "Too many requests per second");
    body["retry_after"] = json!(retry_after);
    let mut resp = Response::new(429, PROBLEM, body.to_string().into_bytes());
    resp.headers.push(("Retry-After", retry_after.to_string()));
    resp
}

/// The page nginx serves when the account/IP is blocked (§18.1).
pub fn blocked_html() -> Response {
    Response::new(
        403,
        HTML,
        b"<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center><hr><center>nginx</center></body></html>".to_vec(),
    )
}

pub fn link(href: String) -> Value {
    json!({"self": {"href": href}})
}

/// Paging parameters after clamping.
#[derive(Clone, Copy)]
pub struct Paging {
    pub page: usize,
    pub limit: usize,
}

impl Paging {
    /// The items of this page and whether more follow.
    pub fn slice<'a, T>(&self, all: &'a [T]) -> (&'a [T], bool) {
        let start = (self.page - 1).saturating_mul(self.limit).min(all.len());
        let end = start.saturating_add(self.limit).min(all.len());
        (&all[start..end], end < all.len())
    }

    pub fn page_count(&self, total: usize) -> usize {
        total.div_ceil(self.limit).max(1)
    }
}

/// `raw_query` with `page` replaced.
pub fn with_page(raw_query: &str, page: usize) -> String {
    let mut parts: Vec<&str> = raw_query
        .split('&')
        .filter(|p| !p.is_empty() && p.split('=').next() != Some("page"))
        .collect();
    let page = format!("page={page}");
    parts.push(&page);
    parts.join("&")
}

/// Where list links point: the URL this request came to.
pub struct Origin<'a> {
    pub base: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
}

impl Origin<'_> {
    pub fn self_href(&self) -> String {
        if self.raw_query.is_empty() {
            format!("{}{}", self.base, self.path)
        } else {
            format!("{}{}?{}", self.base, self.path, self.raw_query)
        }
    }

    /// `_links` with `next` only when `has_more`.
    pub fn links(&self, paging: &Paging, has_more: bool) -> Value {
        let mut links = json!({"self": {"href": self.self_href()}});
        if has_more {
            links["next"] = json!({"href": format!("{}{}?{}", self.base, self.path, with_page(self.raw_query, paging.page + 1))});
        }
        if paging.page > 1 {
            links["prev"] = json!({"href": format!("{}{}?{}", self.base, self.path, with_page(self.raw_query, paging.page - 1))});
        }
        links
    }
}

/// A HAL list page, or 204 when the page is empty.
pub fn list_page(
    origin: &Origin,
    paging: &Paging,
    has_more: bool,
    key: &str,
    items: Vec<Value>,
) -> Response {
    if items.is_empty() {
        return no_content();
    }
    ok(&json!({
        "_page": paging.page,
        "_links": origin.links(paging, has_more),
        "_embedded": {key: items},
    }))
}
