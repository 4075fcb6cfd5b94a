//! Every `amocrm-bin` command the guides in `docs/` show exists and parses: a renamed flag or
//! subcommand fails here instead of in an admin's terminal (README's own commands are run by
//! `operator::readme_quick_start_runs_as_written_against_a_fresh_account`).
//!
//! Each command runs with its placeholders filled in and a rule file that does not exist, so
//! nothing reaches a panel or amoCRM: a command that parses stops at the rule file (or prints,
//! for `--help`, `completions` and `man`); one that does not parse gets clap's usage error.

use std::path::Path;

use crate::support::{root, run};

/// The command lines of `text`: lines of fenced blocks that run `amocrm-bin`, and inline code
/// spans that are a whole concrete command (no `[optional]`, `a|b` or `…` summary).
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            if let Some(cmd) = invocation(line) {
                out.push(cmd);
            }
            continue;
        }
        for (i, span) in line.split('`').enumerate() {
            let concrete = !span.contains(['[', '|', '…']);
            if i % 2 == 1 && span.starts_with("amocrm-bin ") && concrete {
                out.extend(invocation(span));
            }
        }
    }
    out
}

/// The `amocrm-bin …` part of a shell line, up to a comment, pipe, `&&` or redirection.
fn invocation(line: &str) -> Option<String> {
    let at = line
        .match_indices("amocrm-bin ")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || line[..i].ends_with([' ', '/', '\t']))?;
    let rest = &line[at + "amocrm-bin ".len()..];
    let end = [" #", " |", " &&", " >", " ──", ";"]
        .iter()
        .filter_map(|s| rest.find(s))
        .min()
        .unwrap_or(rest.len());
    let cmd = rest[..end].trim();
    // A diagram or prose after the name, not an argument.
    let first = cmd.chars().next()?;
    (first == '-' || first.is_ascii_lowercase()).then(|| cmd.to_string())
}

/// The words of `cmd` with placeholders (`N`, `CODE`, `$SERVICE`, `<date>`, `…`) filled in.
fn words(cmd: &str) -> Vec<String> {
    // `<go-live date>` is one placeholder: its words are joined first.
    let mut joined = String::new();
    let mut inside = false;
    for c in cmd.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            ' ' if inside => {
                joined.push('_');
                continue;
            }
            _ => {}
        }
        joined.push(c);
    }
    joined
        .split_whitespace()
        .map(|w| w.trim_matches('"'))
        .filter(|w| *w != "…")
        .map(|w| {
            let placeholder = !w.is_empty()
                && (w.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    || w.starts_with('$')
                    || w.starts_with('<'));
            if !placeholder {
                w.to_string()
            } else if w.to_ascii_lowercase().contains("date") {
                "2024-01-01".to_string()
            } else {
                "1".to_string()
            }
        })
        .collect()
}

#[test]
fn every_command_in_the_guides_exists_and_parses() {
    let dir = root().join("docs");
    let mut checked = 0;
    let mut bad = Vec::new();
    let mut guides: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    let nowhere = tempfile::tempdir().unwrap();
    for guide in guides {
        let text = std::fs::read_to_string(&guide).unwrap();
        for cmd in commands(&text) {
            let args = words(&cmd);
            let (rc, out, err) = run(assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!(
                "amocrm-bin"
            ))
            .args(&args)
            .env_clear()
            .env("AMOCRM_BIN_CONFIG", nowhere.path().join("rules.toml"))
            .current_dir(nowhere.path())
            .write_stdin(""));
            checked += 1;
            let name = guide.file_name().unwrap().to_string_lossy().to_string();
            let parsed = rc == 0 || err.contains("cannot read rule file");
            if !parsed || err.contains("try '--help'") {
                bad.push(format!(
                    "{name}: `amocrm-bin {cmd}` → exit {rc}: {out}{err}"
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "commands in docs/ that do not parse:\n{}",
        bad.join("\n")
    );
    assert!(checked >= 30, "only {checked} commands found in docs/");
    assert!(Path::new(&dir).join("hook.md").exists());
}

#[test]
fn commands_are_found_in_blocks_and_whole_code_spans_only() {
    let text = "```sh\n/usr/local/mgr5/addon/amocrm-bin status   # queued?\n```\n\
                Run `amocrm-bin drain --all`, not `amocrm-bin outbox list|drop` or \
                `amocrm-bin calls list [--days N]`.\n\
                ```\namocrm-bin  ──(one INSERT)──▶ outbox\n```\n\
                ```cron\n45 2 * * *  root  . /x.env && amocrm-bin -q replay-calls --days 3\n```\n";
    assert_eq!(
        commands(text),
        ["status", "drain --all", "-q replay-calls --days 3"]
    );
    assert_eq!(
        words("backfill --since <go-live date> --elid N --code \"$CODE\" …"),
        [
            "backfill",
            "--since",
            "2024-01-01",
            "--elid",
            "1",
            "--code",
            "1"
        ]
    );
}
