use std::time::Duration;

use fakebill::FakeBillmanagerApi;

use super::support::demo;
use crate::billing::{ApiSource, BillingError, BillingSource};
use crate::secret::Secret;

const PASSWORD: &str = "demo-password-8362";

fn started() -> FakeBillmanagerApi {
    FakeBillmanagerApi::start(&demo(), "admin", PASSWORD).unwrap()
}

fn source(api: &FakeBillmanagerApi, password: &str) -> ApiSource {
    ApiSource::api(
        &api.base_url(),
        "admin",
        Secret::new(password),
        Duration::from_secs(10),
    )
    .unwrap()
}

#[test]
fn reads_the_demo_over_http_with_the_password_outside_urls() {
    let api = started();
    let s = source(&api, PASSWORD);
    let c = s.client("101").unwrap();
    assert_eq!(c.users.len(), 2);
    assert_eq!(s.services_of("105").unwrap().len(), 2);
    assert_eq!(s.service("407").unwrap().attrs["source"], "site");
    s.client("101").unwrap();
    assert_eq!(
        api.requests(),
        4,
        "account, account.edit, user, item; the rest is cached"
    );
    assert!(
        api.targets().iter().all(|t| !t.contains(PASSWORD)),
        "{:?}",
        api.targets()
    );
}

#[test]
fn bad_password_unknown_id_and_panel_down() {
    let api = started();
    let wrong = source(&api, "not-the-password-123");
    let e = wrong.client("101").unwrap_err();
    assert!(matches!(e, BillingError::AccessDenied { .. }), "{e:?}");
    let s = source(&api, PASSWORD);
    assert!(matches!(
        s.client("999"),
        Err(BillingError::NotFound { .. })
    ));
    api.set_down(true);
    let e = s.services_of("101").unwrap_err();
    assert!(matches!(e, BillingError::Unreachable { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("503") && !text.contains(PASSWORD), "{text}");
}

#[test]
fn https_is_required_except_on_loopback() {
    let open = |url: &str| ApiSource::api(url, "u", Secret::new("p"), Duration::from_secs(1));
    let e = open("http://billing.example.com/billmgr").err().unwrap();
    assert!(e.to_string().contains("https"), "{e}");
    assert!(open("https://billing.example.com:1500/billmgr").is_ok());
    assert!(open("http://localhost:1500/billmgr").is_ok());
    assert!(open("http://[::1]:1500/billmgr").is_ok());
    assert!(open("not a url").is_err());
}

#[test]
fn connection_refused_is_unreachable_without_secrets() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://user:inline-secret-77@127.0.0.1:{port}/billmgr?x=1");
    let s = ApiSource::api(&url, "admin", Secret::new(PASSWORD), Duration::from_secs(2)).unwrap();
    let e = s.client("1").unwrap_err();
    assert!(matches!(e, BillingError::Unreachable { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains("inline-secret-77"),
        "{text}"
    );
}

#[test]
fn an_answer_that_breaks_off_mid_list_is_unreachable_not_malformed() {
    use crate::billing::envelope::Call;
    use std::io::Read;
    /// The HTTP body's reader failing after part of the list, as the API transport reports it.
    struct BrokenOff;
    impl Read for BrokenOff {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(crate::billing::transport::carry(BillingError::Unreachable {
                detail: "https://billing.example.com/billmgr `item`: the answer broke off (timed out)".into(),
            }))
        }
    }
    let body = std::io::Cursor::new(br#"{"doc":{"elem":[{"id":"1"},"#.to_vec()).chain(BrokenOff);
    let call = Call {
        func: "item",
        entity: "service",
        elid: None,
    };
    let mut rows = 0;
    let e = crate::billing::stream::each_row(body, &call, &mut |_| rows += 1).unwrap_err();
    assert!(matches!(e, BillingError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("broke off"), "{e}");
    assert_eq!(rows, 1);
}
