//! Paths shared by the billing tests.

use std::path::{Path, PathBuf};

/// The demo data set (`examples/billmanager`, ids documented in its README).
pub fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/billmanager")
}

/// An edge-case set under `tests/fixtures/billmanager/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/billmanager")
        .join(name)
}

/// `fake-mgrctl` built by `cargo build --workspace` (or `-p fakebill`) into the same
/// `target/<profile>/` as this test binary (`target/<profile>/deps/amocrm_bin-…`).
pub fn fake_mgrctl() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let name = format!("fake-mgrctl{}", std::env::consts::EXE_SUFFIX);
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

/// The fake binary, or `None` after saying why the test is skipped.
pub fn fake_mgrctl_or_skip(test: &str) -> Option<PathBuf> {
    let found = fake_mgrctl();
    // In CI a missing fake is a setup error, not a reason to pass silently.
    assert!(
        found.is_some() || std::env::var_os("CI").is_none(),
        "{test}: fake-mgrctl is not built; .ci/run builds the workspace before testing"
    );
    if found.is_none() {
        eprintln!(
            "SKIPPED {test}: fake-mgrctl is not built next to this test binary; run `cargo build --workspace` (or `cargo build -p fakebill`) with the same target dir first"
        );
    }
    found
}

/// A row or form from `(field, value)` pairs.
pub fn attrs(pairs: &[(&str, &str)]) -> crate::billing::Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
