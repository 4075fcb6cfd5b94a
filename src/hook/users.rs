//! User events name a user, but contacts are synced per client: find the user's client.
//!
//! [`BillingSource`] has no lookup by user id, so this walks the clients, newest first (a
//! user is usually added or edited right after its client registered), until one of them
//! has the user. That costs one `account` list call plus two calls per client visited;
//! fine for a detached drain, slow on a panel with many thousands of clients. A
//! `BillingSource::user(id)` method (`user elid=<id>`, one call) would replace the walk.

use crate::billing::{BillingError, BillingSource};

/// The id of the client user `user_id` belongs to; `NotFound` (entity `user`) when no
/// client has it (deleted since the event, or a wrong id).
pub fn client_of_user(billing: &dyn BillingSource, user_id: &str) -> Result<String, BillingError> {
    let mut ids = billing.client_ids_since(chrono::NaiveDate::MIN)?;
    ids.reverse();
    for id in ids {
        let client = match billing.client(&id) {
            Ok(c) => c,
            // A client deleted between the list and the form is not this user's.
            Err(BillingError::NotFound { .. }) => continue,
            Err(e) => return Err(e),
        };
        if client.users.iter().any(|u| u.id == user_id) {
            return Ok(client.id);
        }
    }
    Err(BillingError::NotFound {
        entity: "user",
        id: user_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::FilesSource;

    fn demo() -> FilesSource {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/billmanager");
        FilesSource::open(&dir).unwrap()
    }

    #[test]
    fn finds_the_client_of_a_second_user() {
        let b = demo();
        assert_eq!(client_of_user(&b, "207").unwrap(), "105");
        assert_eq!(client_of_user(&b, "201").unwrap(), "101");
    }

    #[test]
    fn unknown_user_is_not_found() {
        let err = client_of_user(&demo(), "999").unwrap_err();
        assert!(
            matches!(err, BillingError::NotFound { entity: "user", .. }),
            "{err}"
        );
    }
}
