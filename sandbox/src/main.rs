//! `sandbox` binary: serves one emulated amoCRM account until killed, for the
//! demo and for manual runs. Arguments are parsed by hand to stay dependency-free.

use std::io::Write;
use std::process::ExitCode;

use sandbox::{Sandbox, SandboxConfig, Seed};

const HELP: &str = "sandbox — amoCRM API v4 emulator

USAGE:
    sandbox [OPTIONS]

OPTIONS:
    --port N               TCP port on 127.0.0.1 (default 8080; 0 = any free port)
    --rps N                requests per second before 429 (default 7; 0 = unlimited)
    --latency-ms N         latency added to every API response (default 0)
    --latency-per-entity-ms N  latency added per entity written or listed (default 0)
    --seed NAME|FILE       `demo` (default: the example account), `fresh` (a new amoCRM
                           account: pipeline \"Воронка\", two users, standard fields only)
                           or a JSON seed file (account, users, pipelines, custom_fields);
                           env SANDBOX_SEED sets the default
    --client-id X          OAuth client_id (default sandbox-client-id)
    --client-secret Y      OAuth client_secret (default sandbox-client-secret)
    --redirect-uri Z       OAuth redirect URI (default https://example.com/amocrm/callback)
    --code CODE            a one-time authorization code to accept (repeatable)
    --block-after-429s N   block the account (403 HTML) after N consecutive 429s
    --query-mode MODE      digits (default) or strict
    -h, --help             print this help

Control API (JSON, not rate-limited): GET /_sandbox/stats, POST /_sandbox/stats/reset,
POST|DELETE /_sandbox/faults, POST /_sandbox/codes, POST /_sandbox/tokens/{expire,
revoke-refresh,revoke-access,access}, POST /_sandbox/latency {\"ms\"}, POST
/_sandbox/rate-limit {\"rps\"}, POST /_sandbox/blocked {\"blocked\"}, POST
/_sandbox/vanish {\"after\": N, \"for_ms\": M} (answer N more requests, then refuse
connections for M ms), GET|POST /_sandbox/entities/{kind}.
";

fn parse_args(args: &[String]) -> Result<Option<SandboxConfig>, String> {
    let mut cfg = SandboxConfig {
        port: 8080,
        ..SandboxConfig::default()
    };
    if let Ok(name) = std::env::var("SANDBOX_SEED") {
        cfg.seed = Seed::named(&name).map_err(|e| format!("SANDBOX_SEED: {e}"))?;
    }
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        let num = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{arg}: not a number: {v}"))
        };
        match arg.as_str() {
            "--port" => cfg.port = num(value()?)? as u16,
            "--rps" => cfg.rate_limit_rps = num(value()?)? as u32,
            "--latency-ms" => cfg.latency_ms = num(value()?)?,
            "--latency-per-entity-ms" => cfg.latency_per_entity_ms = num(value()?)?,
            "--block-after-429s" => cfg.block_after_429s = Some(num(value()?)? as u32),
            "--client-id" => cfg.client_id = value()?,
            "--client-secret" => cfg.client_secret = value()?,
            "--redirect-uri" => cfg.redirect_uri = value()?,
            "--code" => cfg.preset_codes.push(value()?),
            "--query-mode" => {
                cfg.query_mode = match value()?.as_str() {
                    "digits" => sandbox::QueryMode::Digits,
                    "strict" => sandbox::QueryMode::Strict,
                    other => return Err(format!("--query-mode: unknown mode {other}")),
                }
            }
            "--seed" => cfg.seed = Seed::named(&value()?)?,
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    Ok(Some(cfg))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse_args(&args) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    let codes = cfg.preset_codes.clone();
    let sb = match Sandbox::start(cfg) {
        Ok(sb) => sb,
        Err(e) => {
            eprintln!("sandbox: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "sandbox listening on {}", sb.base_url());
    if codes.is_empty() {
        let _ = writeln!(out, "authorization code: {}", sb.issue_code());
    }
    for code in codes {
        let _ = writeln!(out, "authorization code: {code}");
    }
    let _ = out.flush();
    loop {
        std::thread::park();
    }
}
