//! User events name a user, but contacts are synced per client: find the user's client.
//!
//! The `user` list names each row's client ([`BillingSource::user_client`]: `account_id`,
//! or the client's name where a panel gives only that), so one list call answers.

use crate::billing::{BillingError, BillingSource};

/// The id of the client user `user_id` belongs to; `NotFound` (entity `user`) when no
/// client has it (deleted since the event, or a wrong id).
pub fn client_of_user(billing: &dyn BillingSource, user_id: &str) -> Result<String, BillingError> {
    billing.user_client(user_id)
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
