//! What every /api/v4 handler receives: the parsed request plus the base URL
//! that links in responses must point at (taken from the Host header, so
//! `_links.next` leads back to this sandbox).

use crate::hal::{Origin, Paging};
use crate::query::Query;

pub struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Path segments after `/api/v4/`.
    pub segs: Vec<&'a str>,
    pub query: Query,
    pub raw_query: &'a str,
    pub body: &'a [u8],
    /// `http://host:port`.
    pub base: String,
}

impl Call<'_> {
    pub fn origin(&self) -> Origin<'_> {
        Origin {
            base: &self.base,
            path: self.path,
            raw_query: self.raw_query,
        }
    }

    /// Absolute URL of `/api/v4/{rest}`.
    pub fn href(&self, rest: &str) -> String {
        href(&self.base, rest)
    }

    pub fn paging(&self, default: usize, max: usize) -> Paging {
        Paging {
            page: self.query.page(),
            limit: self.query.limit(default, max),
        }
    }
}

pub fn href(base: &str, rest: &str) -> String {
    format!("{base}/api/v4/{rest}")
}
