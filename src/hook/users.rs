//! User events name a user, but contacts are synced per client: find the user's client.
//!
//! The `user` list names each row's client ([`BillingSource::user_client`], one list call).
//! A source that cannot tell falls back to walking the clients, newest first (a user is
//! usually added or edited right after its client registered), until one has the user.

use crate::billing::{BillingError, BillingSource};

/// The id of the client user `user_id` belongs to; `NotFound` (entity `user`) when no
/// client has it (deleted since the event, or a wrong id).
pub fn client_of_user(billing: &dyn BillingSource, user_id: &str) -> Result<String, BillingError> {
    // The `user` list names the client of each row (`account_id`): one call.
    if let Some(client) = billing.user_client(user_id)? {
        return Ok(client);
    }
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
