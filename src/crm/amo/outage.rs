//! The run's one stop decision (issue 22): the first request that ends "unreachable" after
//! its retries ([`super::retry::may_retry`] said no more) stops every request of the
//! process that has not started yet, on every lane and in every later call. Requests on
//! the wire finish or fail; nothing new is sent into an outage, so a run reports it within
//! one retry budget instead of paying the budget again for each remaining item.

use std::sync::OnceLock;

use crate::crm::CrmError;

/// The latch one [`super::AmoClient`] shares between its lanes and its calls.
#[derive(Debug, Default)]
pub struct Outage {
    /// The first unreachable answer, as the user reads it.
    first: OnceLock<String>,
}

impl Outage {
    /// Whether `e` ends the run: amoCRM could not be reached after a request's retries
    /// (connections refused, reset or timed out; a 5xx or 429 storm past the budget). A
    /// refusal, a rejection or a lost answer concerns one request and does not.
    pub fn stops_the_run(e: &CrmError) -> bool {
        e.stops_the_run()
    }

    /// Records `e` when it stops the run (the first one is kept); true when it does.
    pub fn note(&self, e: &CrmError) -> bool {
        if !Self::stops_the_run(e) {
            return false;
        }
        let _ = self.first.set(e.to_string());
        true
    }

    /// The first unreachable answer, once there was one.
    pub fn first(&self) -> Option<&str> {
        self.first.get().map(String::as_str)
    }

    /// The error for `request`, not started because the run stopped; `None` while it runs.
    pub fn refuse(&self, request: &str) -> Option<CrmError> {
        self.first().map(|first| CrmError::Unreachable {
            request: request.to_string(),
            detail: format!("{NOT_SENT}: the run stopped after {first}"),
        })
    }
}

/// How an error for a request that was never sent starts.
pub const NOT_SENT: &str = "not sent";

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable(detail: &str) -> CrmError {
        CrmError::Unreachable {
            request: "POST /api/v4/leads".into(),
            detail: detail.into(),
        }
    }

    #[test]
    fn only_an_unreachable_answer_stops_the_run_and_the_first_one_is_kept() {
        let o = Outage::default();
        assert!(o.refuse("GET /api/v4/leads").is_none());
        for other in [
            CrmError::Blocked,
            CrmError::Ambiguous {
                request: "POST /api/v4/leads".into(),
                detail: "connection closed".into(),
            },
            CrmError::Http {
                request: "GET /api/v4/x".into(),
                status: 404,
                detail: String::new(),
            },
        ] {
            assert!(!o.note(&other), "{other}");
        }
        assert!(o.first().is_none());
        assert!(o.note(&unreachable(
            "gave up after 7 attempts; last: connection refused"
        )));
        assert!(o.note(&unreachable("a later one")));
        let first = o.first().unwrap();
        assert!(first.contains("connection refused"), "{first}");
        let refused = o.refuse("PATCH /api/v4/contacts").unwrap();
        let text = refused.to_string();
        assert!(
            text.contains("PATCH /api/v4/contacts") && text.contains(NOT_SENT),
            "{text}"
        );
        assert!(text.contains("connection refused"), "{text}");
        // The refusal stops the run too (every caller sees one kind of error).
        assert!(Outage::stops_the_run(&refused));
    }

    #[test]
    fn every_thread_sees_the_stop() {
        let o = Outage::default();
        std::thread::scope(|s| {
            s.spawn(|| o.note(&unreachable("refused")));
        });
        let seen: Vec<bool> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| o.refuse("GET /x").is_some()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(seen, vec![true; 4]);
    }
}
