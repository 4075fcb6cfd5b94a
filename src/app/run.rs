//! A sync run's result as commands hand it to the printer and the run journal: the engine's
//! report and the requests it took.

use serde::{Serialize, Serializer};
use serde_json::json;

use crate::crm::amo::RequestStats;
use crate::engine::{Action, Report};

/// What a `sync` or `backfill` did.
pub struct Ran {
    /// Every entity's outcome and the counts.
    pub report: Report,
    /// Requests sent to amoCRM.
    pub stats: RequestStats,
}

impl Ran {
    /// The JSON summary (also stored in the run journal).
    pub fn summary(&self) -> serde_json::Value {
        let (report, stats) = (&self.report, &self.stats);
        json!({
            "dry_run": report.dry_run,
            "counts": report.counts(),
            "unlinked": report.unlinked,
            "requests": stats,
            "panel": {"calls": report.panel.calls, "forms": report.panel.forms, "millis": report.panel.millis},
            "followups": report.followups,
            "exit_code": report.exit_status().code(),
        })
    }
}

/// The summary with every outcome: what `--json` prints.
impl Serialize for Ran {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let report = &self.report;
        let mut v = self.summary();
        v["ok"] = json!(
            report.outcomes.iter().all(|o| o.action != Action::Failed)
                && report.followups.queued_total() == 0
        );
        v["outcomes"] =
            serde_json::to_value(&report.outcomes).map_err(serde::ser::Error::custom)?;
        v.serialize(s)
    }
}
