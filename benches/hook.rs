//! Hook benchmark: the local work the panel waits for, which must stay under 10 ms.
//!
//! Run: `cargo bench --bench hook -- [--runs N]`
//!
//! Two figures. First the document inspection alone (quick-xml, `hook::xml::inspect`) on a
//! panel document and on hostile ones (1 MiB of text, 100 000-deep nesting, entities), in
//! process. Then the whole hook as the panel runs it: the real binary, `PARAM_func` in the
//! environment, the document on stdin, echo, inspection, one outbox insert, no background
//! drain (`AMOCRM_BIN_HOOK_NO_DRAIN=1`, so only local work is timed); median and worst run.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use amocrm_bin::hook::xml;

/// A panel document as an `after` handler of `profile.edit` receives it.
const DOC: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<doc lang=\"ru\" \
                   func=\"profile.edit\" binary=\"/billmgr\"><elid>301</elid>\
                   <name>ООО «Ромашка» &amp; Co</name><ok/></doc>";

fn main() {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let form = list_document(200);
    let big_text = format!("<doc><name>{}</name></doc>", "x".repeat(1 << 20));
    let deep = format!(
        "<doc>{}{}</doc>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    let entities = format!("<doc><name>{}</name></doc>", "&amp;&#1055;".repeat(80_000));
    let lt_flood = "<".repeat(1 << 20);
    println!("hook::xml::inspect (quick-xml), in process:");
    for (name, doc, times) in [
        ("panel document", DOC.as_bytes(), 20_000),
        ("list of 200 rows", form.as_bytes(), 2_000),
        ("1 MiB of text", big_text.as_bytes(), 50),
        ("100 000-deep (refused)", deep.as_bytes(), 20),
        ("160 000 entities", entities.as_bytes(), 20),
        ("1 MiB of `<`", lt_flood.as_bytes(), 50),
    ] {
        let t = Instant::now();
        for _ in 0..times {
            std::hint::black_box(xml::inspect(std::hint::black_box(doc)).ok());
        }
        let per = t.elapsed() / times;
        println!(
            "  {name:<22} {:>9} bytes  {:>10.1} µs per document",
            doc.len(),
            per.as_secs_f64() * 1e6
        );
    }
    whole_hook(runs);
}

/// A BILLmanager list answer: many `<elem>` rows under the root.
fn list_document(rows: usize) -> String {
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc func=\"user\">");
    for i in 0..rows {
        s.push_str(&format!(
            "<elem><id>{i}</id><name>Клиент №{i} &amp; сын</name><email>c{i}@example.com</email>\
             <phone>+7 916 000-00-{:02}</phone></elem>",
            i % 100
        ));
    }
    s.push_str("</doc>");
    s
}

/// The real binary as the panel runs it, `runs` times; prints median and worst wall time.
fn whole_hook(runs: usize) {
    let work = tempfile::tempdir().expect("temp dir");
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rules.toml"))
            .expect("example rules");
    let rules_path = work.path().join("rules.toml");
    std::fs::write(&rules_path, rules).expect("rules written");
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for i in 0..runs {
        let t = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_amocrm-bin"))
            .env_clear()
            .env("AMOCRM_BIN_CONFIG", &rules_path)
            .env("AMOCRM_BIN_HOOK_NO_DRAIN", "1")
            .env("AUTH_USER", "admin")
            .env("EVENT_TYPE", "after")
            .env("PARAM_func", "profile.edit")
            .env("PARAM_elid", (300 + i % 50).to_string())
            .env("PARAM_sok", "ok")
            .current_dir(work.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("amocrm-bin runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(DOC.as_bytes())
            .expect("document written");
        let out = child.wait_with_output().expect("hook ends");
        times.push(t.elapsed());
        assert_eq!(out.status.code(), Some(0), "the hook exits 0");
        assert_eq!(out.stdout, DOC.as_bytes(), "the hook echoes byte for byte");
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "whole hook (process start, echo, inspect, queue; no drain), {runs} runs: median {:.2} ms, worst {:.2} ms",
        ms(times[runs / 2]),
        ms(times[runs - 1])
    );
}
