//! What every way in shares: parse a body, store each item (an event, or the item's text
//! as `unparsed` with its error), and pick the stored calls to push.

use crate::calls::{parse_body, CallSetup, Format};
use crate::store::{CallRecord, CallState, Intake, Store};

/// One item of a body after intake.
pub struct Taken {
    /// 1-based position in the body.
    pub position: usize,
    /// The provider's call id (empty for an item that could not be parsed).
    pub call_id: String,
    /// What the store did with the event, or with the unparsed item.
    pub intake: Intake,
    /// Why the item could not be parsed.
    pub error: Option<String>,
    /// Why a stored call will not be sent (an internal call, an interim event), as `status`
    /// and `calls list` count it: the intake line says so instead of a bare "stored".
    pub skipped: Option<String>,
}

impl Taken {
    /// How intake went, in words, with the reason a stored call is not sent.
    pub fn words(&self) -> String {
        match (&self.skipped, self.intake) {
            (Some(why), Intake::New(_) | Intake::Replaced(_)) => {
                format!("{}, not sent: {why}", intake_word(self.intake))
            }
            _ => intake_word(self.intake).to_string(),
        }
    }
}

/// How intake went, in words.
pub fn intake_word(i: Intake) -> &'static str {
    match i {
        Intake::New(_) => "stored",
        Intake::Replaced(_) => "replaced a weaker report of the same call",
        Intake::Duplicate {
            by_fingerprint: false,
            ..
        } => "duplicate (same call id), ignored",
        Intake::Duplicate {
            by_fingerprint: true,
            ..
        } => "duplicate (another leg of a stored call), ignored",
    }
}

/// Keeps an item that could not be parsed, with the reason, for `calls reparse`.
fn keep_unparsed(store: &Store, raw: &str, error: &str) -> anyhow::Result<Intake> {
    let record = CallRecord::unparsed(raw, error, crate::store::now());
    let intake = store.call_intake(&record, 0)?;
    crate::log::record(&format!(
        "call item not parsed, kept as unparsed call {}: {error}",
        intake.id()
    ));
    Ok(intake)
}

/// Parses and stores a body. `Ok(Err(why))` when the body as a whole is unreadable (it is
/// then stored whole as one `unparsed` item); item-level problems are in the items.
pub fn take(
    store: &Store,
    setup: &CallSetup,
    body: &str,
    f: Format,
) -> anyhow::Result<Result<Vec<Taken>, String>> {
    let items = match parse_body(body, &setup.parse_options(f, setup.now())) {
        Ok(items) => items,
        Err(e) => {
            if !body.trim().is_empty() {
                keep_unparsed(store, body, &e)?;
            }
            return Ok(Err(e));
        }
    };
    let mut out = Vec::new();
    for item in items {
        match item.event {
            Ok(e) => {
                let intake = setup.store(store, &e)?;
                let skipped = match intake {
                    Intake::New(id) | Intake::Replaced(id) => store
                        .call(id)?
                        .filter(|c| c.call.state == CallState::Skipped)
                        .map(|c| c.call.detail.unwrap_or_default()),
                    Intake::Duplicate { .. } => None,
                };
                let taken = Taken {
                    position: item.position,
                    call_id: e.call_id,
                    intake,
                    error: None,
                    skipped,
                };
                crate::log::record(&format!(
                    "call {}:{} {}",
                    e.provider,
                    taken.call_id,
                    taken.words()
                ));
                out.push(taken)
            }
            Err(msg) => out.push(Taken {
                position: item.position,
                call_id: String::new(),
                intake: keep_unparsed(store, &item.raw, &msg)?,
                error: Some(msg),
                skipped: None,
            }),
        }
    }
    Ok(Ok(out))
}

/// The stored calls these intakes made pushable.
pub fn to_push(store: &Store, intakes: &[Intake]) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for i in intakes {
        if let Intake::New(id) | Intake::Replaced(id) = *i {
            if !ids.contains(&id)
                && store.call(id)?.map(|c| c.call.state) == Some(CallState::Pending)
            {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// The intakes of parsed items (what may be pushed).
pub fn parsed(taken: &[Taken]) -> Vec<Intake> {
    taken
        .iter()
        .filter(|t| t.error.is_none())
        .map(|t| t.intake)
        .collect()
}
