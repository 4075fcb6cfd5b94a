//! One integration test binary (fewer link steps on a 2-core CI): every test drives the real
//! `amocrm-bin` binary against the in-process amoCRM sandbox and the fixture BILLmanager.

mod support;

mod auth;
mod backfill;
mod calls;
mod calls_source;
mod cli;
mod docs;
mod edges;
mod faults;
mod first_hour;
mod fuzz;
mod hook;
mod layers;
mod lifecycle;
mod operator;
mod outage;
mod panel;
mod reads;
mod rules_errors;
mod security;
mod shared_keys;
mod sync;
