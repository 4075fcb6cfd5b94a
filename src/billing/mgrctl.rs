//! `source = "mgrctl"`: runs `<mgrctl> -m <manager> <func> key=value ... out=json` on the
//! panel host, the way ISPsystem's own scripts read BILLmanager (`docs/billmanager.md` §1).
//!
//! No shell is involved: every parameter is one argv word, so values need no quoting. Only
//! ids travel in argv; nothing secret is ever passed (mgrctl as root needs no password). A
//! call that outlives `timeout_secs` is killed and reported as unreachable. Because mgrctl
//! may exit 0 with an error document on stdout (UNCONFIRMED, §1.4), the body is always
//! parsed; a non-zero exit with no document on stdout is reported with mgrctl's stderr.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::envelope::looks_like_doc;
use super::error::BillingError;
use super::reader::PanelReader;
use super::transport::{Params, Transport};

/// Runs mgrctl as a child process.
#[derive(Debug, Clone)]
pub struct MgrctlTransport {
    program: PathBuf,
    manager: String,
    timeout: Duration,
    env: Vec<(String, String)>,
}

/// The `mgrctl` source.
pub type MgrctlSource = PanelReader<MgrctlTransport>;

impl PanelReader<MgrctlTransport> {
    /// A source running `program -m manager ...`, each call limited to `timeout`.
    pub fn mgrctl(program: &Path, manager: &str, timeout: Duration) -> MgrctlSource {
        PanelReader::new(MgrctlTransport::new(program, manager, timeout))
    }
}

impl MgrctlTransport {
    /// Runs `program -m manager ...`, each call limited to `timeout`.
    pub fn new(program: &Path, manager: &str, timeout: Duration) -> Self {
        MgrctlTransport {
            program: program.to_path_buf(),
            manager: manager.to_string(),
            timeout,
            env: Vec::new(),
        }
    }

    /// Adds an environment variable for the child (tests point `fake-mgrctl` at fixtures
    /// this way without touching the test process's own environment). Never use it for
    /// secrets: mgrctl needs none.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    fn command_line(&self, func: &str, params: &Params<'_>) -> String {
        let mut words = vec![self.program.display().to_string(), "-m".into()];
        words.push(self.manager.clone());
        words.push(func.into());
        words.extend(params.iter().map(|(k, v)| format!("{k}={v}")));
        words.push("out=json".into());
        words.join(" ")
    }
}

impl Transport for MgrctlTransport {
    fn fetch(&self, func: &str, params: &Params<'_>) -> Result<Vec<u8>, BillingError> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("-m").arg(&self.manager).arg(func);
        cmd.args(params.iter().map(|(k, v)| format!("{k}={v}")));
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.arg("out=json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown = self.command_line(func, params);
        let mut child = cmd.spawn().map_err(|e| BillingError::Unreachable {
            detail: format!(
                "cannot run `{}` ({e}); set `[billmanager] mgrctl` to mgrctl's path",
                self.program.display()
            ),
        })?;
        let out = drain(child.stdout.take());
        let err = drain(child.stderr.take());
        let status =
            wait(&mut child, self.timeout).map_err(|detail| BillingError::Unreachable {
                detail: format!("`{shown}` {detail}"),
            })?;
        let stdout = out.join().unwrap_or_default();
        let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default())
            .trim()
            .to_string();
        if status.success() || looks_like_doc(&stdout) {
            return Ok(stdout);
        }
        let why = if stderr.is_empty() {
            "no message on stderr".to_string()
        } else {
            stderr
        };
        Err(BillingError::Unreachable {
            detail: format!("`{shown}` failed ({status}): {why}"),
        })
    }
}

/// Reads a pipe to the end on its own thread, so a full stderr never blocks the child.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// Waits for the child; past `timeout` kills it and says so.
fn wait(child: &mut Child, timeout: Duration) -> Result<std::process::ExitStatus, String> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(2);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "did not answer within {} s and was stopped; raise `[billmanager] timeout_secs` if the panel is just slow",
                    timeout.as_secs_f32()
                ));
            }
            Ok(None) => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    }
}
