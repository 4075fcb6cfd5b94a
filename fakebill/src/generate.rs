//! Synthetic BILLmanager data sets of any size, in the fixture layout, for backfill tests
//! and the benchmark. Deterministic: the same spec always writes the same files.
//!
//! Shape of the data: client `i` (ids from 100001) has one owner user plus an extra user on
//! every `extra_user_every`-th client; every `payer_every`-th client has a legal-entity payer,
//! and every `shared_inn_every`-th payer reuses the previous payer's INN (one organisation,
//! two clients); services are spread round-robin over clients.

use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

use crate::answer::Shapes;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Number of clients.
    pub clients: usize,
    /// Every n-th client gets a second user (0: never).
    pub extra_user_every: usize,
    /// Every n-th client gets a legal-entity payer (0: none).
    pub payer_every: usize,
    /// Every n-th payer shares the previous payer's INN (0: never).
    pub shared_inn_every: usize,
    /// Number of services.
    pub services: usize,
    /// Registration and order date of everything (YYYY-MM-DD).
    pub date: String,
}

impl Spec {
    /// The benchmark's default proportions for `clients` clients and `services` services:
    /// 1.2 users per client, 0.3 payers per client.
    pub fn proportional(clients: usize, services: usize) -> Spec {
        Spec {
            clients,
            extra_user_every: 5,
            payer_every: 3,
            shared_inn_every: 10,
            services,
            date: "2025-06-01".into(),
        }
    }

    /// Users this spec produces (clients 0, n, 2n, … get a second user).
    pub fn users(&self) -> usize {
        self.clients + every(self.clients, self.extra_user_every)
    }

    /// Payers this spec produces (clients 0, n, 2n, … get one).
    pub fn payers(&self) -> usize {
        every(self.clients, self.payer_every)
    }

    /// Distinct companies (payers sharing an INN count once).
    pub fn companies(&self) -> usize {
        let p = self.payers();
        p - if self.shared_inn_every > 1 {
            p.saturating_sub(1) / self.shared_inn_every
        } else {
            0
        }
    }
}

/// How many of `0..count` are multiples of `n` (none when `n` is 0).
fn every(count: usize, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        count.div_ceil(n)
    }
}

fn t(s: impl Into<String>) -> Value {
    json!({ "$": s.into() })
}

fn write_list(path: &Path, rows: impl Iterator<Item = Value>) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"{\"doc\": {\"elem\": [\n")?;
    for (i, row) in rows.enumerate() {
        if i > 0 {
            f.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut f, &row)?;
    }
    f.write_all(b"\n]}}\n")?;
    f.flush()
}

/// Client id of client number `i` (0-based).
pub fn client_id(i: usize) -> usize {
    100_001 + i
}

/// Writes the data set into `dir` (created if missing) in the project's earlier assumed
/// shapes: ids in `account`, `registration_date` in `account.edit`, `inn` in the payer
/// list (see [`crate::answer::Shapes`]).
pub fn write(dir: &Path, spec: &Spec) -> std::io::Result<()> {
    write_as(dir, spec, Shapes::Assumed)
}

/// Writes the data set in the given shapes. [`Shapes::Real`] as real panels answer: users
/// name their client in `account` and carry its id in `account_id`; payer rows name their
/// client only by name and keep `vatnum`, e-mail and phone in `profile.edit/<id>.json`;
/// `account.edit` has no registration date (the `account` list's `tz_registration_date`
/// has it).
pub fn write_as(dir: &Path, spec: &Spec, shapes: Shapes) -> std::io::Result<()> {
    let real = shapes == Shapes::Real;
    std::fs::create_dir_all(dir.join("account.edit"))?;
    let date = format!("{} 10:00:00", spec.date);
    write_list(
        &dir.join("account.json"),
        (0..spec.clients).map(|i| {
            json!({"id": t(client_id(i).to_string()), "name": t(format!("Client {i}")), "tz_registration_date": t(date.clone())})
        }),
    )?;
    for i in 0..spec.clients {
        let mut doc = json!({"doc": {"elid": t(client_id(i).to_string()), "name": t(format!("Client {i}")),
            "country": t("Россия"), "registration_date": t(date.clone())}});
        if real {
            doc["doc"]["registration_date"] = json!({});
        }
        std::fs::write(
            dir.join("account.edit")
                .join(format!("{}.json", client_id(i))),
            doc.to_string(),
        )?;
    }
    let mut users = Vec::new();
    let mut uid = 300_001;
    for i in 0..spec.clients {
        let extra = spec.extra_user_every > 0 && i % spec.extra_user_every == 0;
        for n in 0..(1 + extra as usize) {
            let account = if real {
                t(format!("Client {i}"))
            } else {
                t(client_id(i).to_string())
            };
            let mut user = json!({"id": t(uid.to_string()), "account": account,
                "realname": t(format!("User {uid}")), "email": t(format!("user{uid}@bench.example")),
                "phone": t(format!("+7 9{:02} {:03}-{:02}-{:02}", (uid / 10_000_000) % 100, (uid / 10_000) % 1000, (uid / 100) % 100, uid % 100)),
                "superuser": t(if n == 0 { "on" } else { "off" })});
            if real {
                user["account_id"] = t(client_id(i).to_string());
            }
            users.push(user);
            uid += 1;
        }
    }
    write_list(&dir.join("user.json"), users.into_iter())?;
    let mut payers = Vec::new();
    let mut inn = 7_700_000_000u64;
    if spec.payer_every > 0 {
        for (n, i) in (0..spec.clients)
            .filter(|i| i % spec.payer_every == 0)
            .enumerate()
        {
            if !(spec.shared_inn_every > 1 && n > 0 && n % spec.shared_inn_every == 0) {
                inn += 1;
            }
            let id = (500_001 + n).to_string();
            let name = format!("ООО Компания {inn}");
            if real {
                std::fs::create_dir_all(dir.join("profile.edit"))?;
                let form = json!({"doc": {"elid": t(id.clone()), "name": t(name.clone()), "profiletype": t("2"),
                    "vatnum": t(inn.to_string()), "email": t(format!("buh{n}@bench.example")), "phone": {}, "person": {}}});
                std::fs::write(
                    dir.join("profile.edit").join(format!("{id}.json")),
                    form.to_string(),
                )?;
                payers.push(json!({"id": t(id), "account": t(format!("Client {i}")),
                    "name": t(name), "profiletype": t("2"), "status": t("on")}));
            } else {
                payers.push(json!({"id": t(id), "account": t(client_id(i).to_string()),
                    "name": t(name), "profiletype": t("2"), "status": t("on"), "inn": t(inn.to_string())}));
            }
        }
    }
    write_list(&dir.join("profile.json"), payers.into_iter())?;
    let products = ["VPS-1", "VPS-2", "Hosting-Start", "Domain"];
    write_list(
        &dir.join("item.json"),
        (0..spec.services).map(|s| {
            let client = if spec.clients == 0 { 0 } else { s % spec.clients };
            json!({"id": t((700_001 + s).to_string()), "account": t(client_id(client).to_string()),
                "pricelist": t(products[(s / spec.clients.max(1)) % products.len()]), "itemtype": t("vds"),
                "status": t("2"), "period": t("1"), "createdate": t(date.clone()), "cost": t("590.00")})
        }),
    )
}
