//! `report calls --days N [--svg FILE]`: per-manager call numbers and the hour-of-day chart,
//! from the store alone (works while amoCRM is unreachable).

use std::path::Path;

use serde::Serialize;

use crate::calls::report::{build, CallReport};
use crate::calls::{svg, CallSetup};
use crate::crm::Dictionaries;
use crate::exit::Failure;

use super::Context;

/// The calls report, as `report calls` prints it.
#[derive(Debug, Serialize)]
pub struct CallsReport {
    /// Always true.
    pub ok: bool,
    /// The numbers.
    pub report: CallReport,
    /// Where the chart was drawn, if asked.
    pub svg: Option<String>,
    /// Stored calls older than the window (see [`outside_window`]).
    pub older: u64,
}

/// The hint for calls a window of `days` leaves out, if any.
pub fn outside_window(older: u64, days: u32) -> Option<String> {
    (older > 0).then(|| {
        format!(
            "{older} stored call(s) fall outside the last {days} day(s); use `--days` to see them"
        )
    })
}

/// Builds the report of the last `days` days (and draws its chart into `svg`).
pub fn calls(ctx: &Context, days: u32, svg_path: Option<&Path>) -> anyhow::Result<CallsReport> {
    let (rules, store) = (&ctx.rules, &ctx.store);
    let setup = CallSetup::from_rules(rules)?;
    let to = crate::store::now() + 1;
    let from = to - 1 - i64::from(days) * 86_400;
    let calls = store.calls_between(from, to)?;
    // User names from the last dictionaries read, whatever their age: a name is a label.
    let dict: Option<Dictionaries> = store
        .cache_get(
            "dictionaries",
            &rules.file.amocrm.base_url,
            10 * 365 * 86_400,
        )?
        .and_then(|t| serde_json::from_str(&t).ok());
    let report = build(&calls, &setup, dict.as_ref(), days, from, to);
    if let Some(path) = svg_path {
        std::fs::write(path, svg::render(&report)).map_err(|e| {
            Failure::usage(
                format!("cannot write the SVG to `{}`: {e}", path.display()),
                "pass a writable path with --svg",
            )
        })?;
    }
    Ok(CallsReport {
        ok: true,
        report,
        svg: svg_path.map(|p| p.display().to_string()),
        older: store.calls_before(from)?,
    })
}
