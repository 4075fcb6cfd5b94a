//! Semantic checks that serde cannot express; all problems are collected, not just the first.

use super::schema::{RuleFile, SourceKind};
use super::Problem;

/// Domains amoCRM and Kommo accounts live on.
const AMO_DOMAINS: &[&str] = &[".amocrm.ru", ".amocrm.com", ".kommo.com"];

/// Returns every problem in the file, in file order.
pub fn check(file: &RuleFile) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut bad = |key: &str, message: String| {
        problems.push(Problem {
            key: key.into(),
            message,
        })
    };

    let a = &file.amocrm;
    match reqwest::Url::parse(&a.base_url) {
        Err(e) => bad(
            "amocrm.base_url",
            format!(
                "`{}` is not a URL ({e}); expected e.g. `https://mycompany.amocrm.ru`",
                a.base_url
            ),
        ),
        Ok(url) => {
            let host = url.host_str().unwrap_or("").to_ascii_lowercase();
            let loopback = is_loopback(&host);
            if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
                bad(
                    "amocrm.base_url",
                    format!(
                        "`{}` must use https (plain http is allowed only for loopback addresses such as the sandbox)",
                        a.base_url
                    ),
                );
            }
            if !loopback && !a.allow_any_host && !AMO_DOMAINS.iter().any(|d| host.ends_with(d)) {
                bad(
                    "amocrm.base_url",
                    format!(
                        "host `{host}` is not an amoCRM/Kommo account (*.amocrm.ru, *.amocrm.com, *.kommo.com); \
                         set `allow_any_host = true` if this is intended"
                    ),
                );
            }
            if url.path() != "/" && !url.path().is_empty() {
                bad(
                    "amocrm.base_url",
                    format!("`{}` must be the account root without a path", a.base_url),
                );
            }
        }
    }
    if a.client_id.trim().is_empty() {
        bad(
            "amocrm.client_id",
            "must not be empty: copy the Integration ID".into(),
        );
    }
    let secret_sources = [
        a.client_secret.is_some(),
        a.client_secret_env.is_some(),
        a.client_secret_file.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if secret_sources > 1 {
        bad(
            "amocrm.client_secret",
            "set only one of `client_secret`, `client_secret_env`, `client_secret_file`".into(),
        );
    }
    if secret_sources == 0 && a.long_lived_token_env.is_none() {
        bad(
            "amocrm.client_secret_env",
            "set `client_secret_env` (recommended), `client_secret_file` or `client_secret`".into(),
        );
    }
    if reqwest::Url::parse(&a.redirect_uri).is_err() {
        bad(
            "amocrm.redirect_uri",
            format!(
                "`{}` is not a URL; copy it exactly from the integration settings",
                a.redirect_uri
            ),
        );
    }
    let ceiling = if sandbox_url(&a.base_url) {
        LOOPBACK_MAX_RPS
    } else {
        7
    };
    if a.rate_limit_rps == 0 || a.rate_limit_rps > ceiling {
        bad(
            "amocrm.rate_limit_rps",
            format!(
                "{} is out of range: amoCRM allows 1..=7 requests per second",
                a.rate_limit_rps
            ),
        );
    }
    let busy = file.store.busy_timeout_secs;
    if busy == 0 || busy > 3600 {
        bad(
            "store.busy_timeout_secs",
            format!(
                "{busy} is out of range: give 1..=3600 seconds (30 by default) to wait for \
                 another process's write before exiting 6"
            ),
        );
    }
    if a.batch_size == 0 || a.batch_size > 250 {
        bad(
            "amocrm.batch_size",
            format!(
                "{} is out of range: amoCRM accepts 1..=250 entities per request",
                a.batch_size
            ),
        );
    }
    if a.max_in_flight == 0 || a.max_in_flight > 32 {
        bad(
            "amocrm.max_in_flight",
            format!(
                "{} is out of range: 1..=32 requests open at once (the rate limit is paced anyway)",
                a.max_in_flight
            ),
        );
    }
    if a.timeout_secs == 0 {
        bad("amocrm.timeout_secs", "must be at least 1".into());
    }
    for (key, country) in [
        ("sync.default_country", Some(&file.sync.default_country)),
        ("calls.default_country", file.calls.default_country.as_ref()),
    ] {
        if let Some(c) = country.filter(|c| !crate::phone::known_country(c)) {
            bad(
                key,
                format!("`{c}` is not a country code the phone metadata knows: use ISO 3166 alpha-2, e.g. RU, KZ, UA, DE"),
            );
        }
    }

    let b = &file.billmanager;
    match b.source {
        SourceKind::Mgrctl => {}
        SourceKind::Api => {
            if b.url.is_none() {
                bad("billmanager.url", "required when source = \"api\"".into());
            }
            if b.user.is_none() {
                bad("billmanager.user", "required when source = \"api\"".into());
            }
            if b.password_env.is_none() {
                bad(
                    "billmanager.password_env",
                    "required when source = \"api\"".into(),
                );
            }
        }
        SourceKind::Files => {
            if b.dir.is_none() {
                bad("billmanager.dir", "required when source = \"files\"".into());
            }
        }
    }
    if let Some(u) = &b.url {
        match reqwest::Url::parse(u) {
            Err(_) => bad("billmanager.url", format!("`{u}` is not a URL")),
            // The panel password is sent there.
            Ok(url)
                if url.scheme() != "https"
                    && !(url.scheme() == "http" && is_loopback(url.host_str().unwrap_or(""))) =>
            {
                bad(
                    "billmanager.url",
                    format!(
                        "`{u}` must use https (plain http is allowed only for loopback addresses)"
                    ),
                )
            }
            Ok(_) => {}
        }
    }
    if let Some(u) = &b.panel_url {
        if reqwest::Url::parse(u).is_err() {
            bad("billmanager.panel_url", format!("`{u}` is not a URL"));
        }
    }
    if let Some(z) = &b.time_zone {
        if z.trim().parse::<chrono_tz::Tz>().is_err() {
            bad(
                "billmanager.time_zone",
                format!("`{z}` is not an IANA time zone name: expected e.g. `Europe/Moscow` or `Asia/Almaty`"),
            );
        }
    }
    check_rules(file, &mut problems);
    check_hook(file, &mut problems);
    super::lifecycle_check::check(file, &mut problems);
    problems
}

/// `[hook]`: function names are panel function names (`profile.edit`), each listed once.
fn check_hook(file: &RuleFile, problems: &mut Vec<Problem>) {
    let bad_name = |f: &str| f.is_empty() || f.chars().any(|c| c.is_whitespace() || c.is_control());
    for func in file.hook.events.keys() {
        if bad_name(func) {
            problems.push(Problem {
                key: format!("hook.events.\"{func}\""),
                message: "must be a panel function name such as `profile.edit` (no spaces)".into(),
            });
        }
    }
    for (i, func) in file.hook.ignore.iter().enumerate() {
        if bad_name(func) {
            problems.push(Problem {
                key: format!("hook.ignore[{i}]"),
                message: "must be a panel function name such as `profile.edit` (no spaces)".into(),
            });
        } else if file.hook.events.contains_key(func) {
            problems.push(Problem {
                key: format!("hook.ignore[{i}]"),
                message: format!(
                    "`{func}` is also mapped in `[hook.events]`; keep it in one of the two"
                ),
            });
        }
    }
}

fn check_rules(file: &RuleFile, problems: &mut Vec<Problem>) {
    use super::condition::{check as check_when, PREFIXES};
    for (i, r) in file.skip.iter().enumerate() {
        check_when(&r.when, &format!("skip[{i}]"), problems);
        if r.when.is_empty() {
            problems.push(Problem {
                key: format!("skip[{i}].when"),
                message: "an empty condition would skip every entity; give at least one attribute"
                    .into(),
            });
        }
    }
    for (i, r) in file.tags.iter().enumerate() {
        check_when(&r.when, &format!("tags[{i}]"), problems);
        if r.tag.trim().is_empty() {
            problems.push(Problem {
                key: format!("tags[{i}].tag"),
                message: "must not be empty".into(),
            });
        }
    }
    for (i, r) in file.pipelines.iter().enumerate() {
        check_when(&r.when, &format!("pipelines[{i}]"), problems);
    }
    for kind in ["contact", "company", "lead"] {
        let map = match kind {
            "contact" => &file.fields.contact,
            "company" => &file.fields.company,
            _ => &file.fields.lead,
        };
        for (field, source) in map {
            let key = format!("fields.{kind}.\"{field}\"");
            let from = match source {
                super::FieldSource::Attribute(a) => Some(a.as_str()),
                super::FieldSource::Detailed(d) => {
                    if d.from.is_some() == d.value.is_some() {
                        problems.push(Problem {
                            key: key.clone(),
                            message:
                                "give exactly one of `from` (an attribute) or `value` (a constant)"
                                    .into(),
                        });
                    }
                    if (!d.map.is_empty() || d.default.is_some()) && d.from.is_none() {
                        problems.push(Problem {
                            key: key.clone(),
                            message: "`map` and `default` translate an attribute's values: use \
                                      them with `from`"
                                .into(),
                        });
                    }
                    d.from.as_deref()
                }
            };
            if let Some(a) = from {
                let prefix = a.split('.').next().unwrap_or("");
                if !a.contains('.') || !PREFIXES.contains(&prefix) {
                    problems.push(Problem {
                        key,
                        message: format!(
                            "attribute `{a}` must start with one of {} followed by a dot",
                            PREFIXES.join(", ")
                        ),
                    });
                }
            }
        }
    }
    let lead_name = &file.sync.lead_name;
    if lead_name.trim().is_empty() {
        problems.push(Problem {
            key: "sync.lead_name".into(),
            message: "must not be empty".into(),
        });
    }
}

/// Loopback hosts may use plain http (the sandbox runs there).
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h == "localhost"
        || h == "::1"
        || h.parse::<std::net::Ipv4Addr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// The highest `rate_limit_rps` a plain-http loopback `base_url` (the sandbox) may use: the
/// tests that do not prove pacing run their sandboxes faster than amoCRM's 7 per second.
pub const LOOPBACK_MAX_RPS: u32 = 1000;

/// True for a plain-http loopback address: only the sandbox or a test double is reached
/// that way (amoCRM itself, and any proxy to it, is https).
fn sandbox_url(base_url: &str) -> bool {
    reqwest::Url::parse(base_url).is_ok_and(|u| {
        u.scheme() == "http" && is_loopback(&u.host_str().unwrap_or("").to_ascii_lowercase())
    })
}
