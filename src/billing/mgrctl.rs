//! `source = "mgrctl"`: runs `<mgrctl> -m <manager> <func> key=value ... out=json` on the
//! panel host, the way ISPsystem's own scripts read BILLmanager (`docs/billmanager.md` §1).
//!
//! No shell is involved: every parameter is one argv word, so values need no quoting. Only
//! ids travel in argv; nothing secret is ever passed (mgrctl as root needs no password). A
//! call that outlives `timeout_secs` is killed and reported as unreachable. Because mgrctl
//! may exit 0 with an error document on stdout (UNCONFIRMED, §1.4), the body is always
//! parsed; a non-zero exit with no whole document on stdout is reported with mgrctl's
//! stderr.
//!
//! A list is parsed straight from the child's stdout pipe as mgrctl prints it ([`Answer`]),
//! so a 200 000-row answer is never held whole; a watchdog thread kills the child at the
//! timeout even while the parser waits for the next row.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::envelope::looks_like_doc;
use super::error::BillingError;
use super::reader::PanelReader;
use super::transport::{carried, carry, Params, Transport};

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

impl MgrctlTransport {
    /// Starts mgrctl for one call; its answer is read from the returned [`Answer`].
    fn start(&self, func: &str, params: &Params<'_>) -> Result<Answer, BillingError> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("-m").arg(&self.manager).arg(func);
        cmd.args(params.iter().map(|(k, v)| format!("{k}={v}")));
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.arg("out=json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| BillingError::Unreachable {
            detail: format!(
                "cannot run `{}` ({e}); set `[billmanager] mgrctl` to mgrctl's path",
                self.program.display()
            ),
        })?;
        let stdout = child.stdout.take();
        let stderr = drain(child.stderr.take());
        let child = Arc::new(Mutex::new(child));
        let timed_out = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let watchdog = {
            let (child, timed_out, timeout) = (child.clone(), timed_out.clone(), self.timeout);
            thread::spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(timeout) {
                    let mut c = child.lock().unwrap_or_else(|e| e.into_inner());
                    if matches!(c.try_wait(), Ok(None)) {
                        timed_out.store(true, Ordering::SeqCst);
                        let _ = c.kill();
                    }
                }
            })
        };
        Ok(Answer {
            shown: self.command_line(func, params),
            timeout: self.timeout,
            stdout,
            stderr: Some(stderr),
            child,
            timed_out,
            watchdog: Some((stop, watchdog)),
            printed: false,
            failed_exit: false,
            done: false,
        })
    }
}

impl Transport for MgrctlTransport {
    fn fetch(&self, func: &str, params: &Params<'_>) -> Result<Vec<u8>, BillingError> {
        let mut answer = self.start(func, params)?;
        let mut out = Vec::new();
        match answer.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            // A whole document next to a non-zero exit explains the failure itself.
            Err(_) if answer.failed_exit && is_whole_doc(&out) => Ok(out),
            Err(e) => Err(carried(e).unwrap_or_else(|e| BillingError::Unreachable {
                detail: format!("`{}` could not be read: {e}", answer.shown),
            })),
        }
    }

    fn open(
        &self,
        func: &str,
        params: &Params<'_>,
    ) -> Result<Box<dyn Read + Send + '_>, BillingError> {
        Ok(Box::new(self.start(func, params)?))
    }
}

/// A whole JSON document that reads like BILLmanager's (an error document, typically).
fn is_whole_doc(out: &[u8]) -> bool {
    looks_like_doc(out) && serde_json::from_slice::<serde::de::IgnoredAny>(out).is_ok()
}

/// One running mgrctl call: its stdout as a reader. At the end of the output it waits for
/// the exit: past the timeout, or on a non-zero exit, the read fails with the
/// [`BillingError`] to report (carried, see [`carry`]), naming the call and quoting
/// stderr. Dropped early (the parser gave up), it kills and reaps the child.
struct Answer {
    shown: String,
    timeout: Duration,
    stdout: Option<ChildStdout>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    child: Arc<Mutex<Child>>,
    timed_out: Arc<AtomicBool>,
    watchdog: Option<(Sender<()>, JoinHandle<()>)>,
    /// Something other than white space was printed.
    printed: bool,
    /// The child exited non-zero (after the timeout: killed).
    failed_exit: bool,
    done: bool,
}

impl Read for Answer {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = match self.stdout.as_mut() {
            Some(out) => out.read(buf)?,
            None => 0,
        };
        if n > 0 {
            self.printed |= buf[..n].iter().any(|b| !b.is_ascii_whitespace());
            return Ok(n);
        }
        self.done = true;
        self.stdout = None;
        self.finish().map(|_| 0).map_err(carry)
    }
}

impl Answer {
    /// Waits for the exit and judges it.
    fn finish(&mut self) -> Result<(), BillingError> {
        let status = self.wait();
        self.stop_watchdog();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if self.timed_out.load(Ordering::SeqCst) {
            self.failed_exit = true;
            return Err(BillingError::Unreachable {
                detail: format!(
                    "`{}` did not answer within {} s and was stopped; raise `[billmanager] timeout_secs` if the panel is just slow",
                    self.shown,
                    self.timeout.as_secs_f32()
                ),
            });
        }
        let status = status.map_err(|e| BillingError::Unreachable {
            detail: format!("`{}` could not be waited for: {e}", self.shown),
        })?;
        if status.success() {
            return Ok(());
        }
        self.failed_exit = true;
        let why = String::from_utf8_lossy(&stderr).trim().to_string();
        let why = if why.is_empty() {
            "no message on stderr".to_string()
        } else {
            why
        };
        let shape = if self.printed {
            "; its answer may be cut short"
        } else {
            ""
        };
        Err(BillingError::Unreachable {
            detail: format!("`{}` failed ({status}){shape}: {why}", self.shown),
        })
    }

    /// The exit status; the watchdog kills the child at the timeout meanwhile.
    fn wait(&self) -> std::io::Result<ExitStatus> {
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = self
                .child
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .try_wait()?
            {
                return Ok(status);
            }
            thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    fn stop_watchdog(&mut self) {
        if let Some((stop, handle)) = self.watchdog.take() {
            drop(stop);
            let _ = handle.join();
        }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !self.done {
            self.stdout = None;
            let mut c = self.child.lock().unwrap_or_else(|e| e.into_inner());
            if matches!(c.try_wait(), Ok(None)) {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
        self.stop_watchdog();
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
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
