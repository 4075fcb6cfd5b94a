//! [`FakeBillmanagerApi`]: BILLmanager's HTTP API over a fixture directory.
//!
//! It answers `/billmgr?func=...&out=json` (GET query or POST form) like the panel
//! (`docs/billmanager.md` §2): errors come as HTTP 200 with an error document, `func=auth`
//! opens a session (`doc.auth.$id`), and every other call needs `authinfo=<user>:<password>`
//! or `auth=<session>`. Bad credentials get `$type` `auth` / `$object` `badpassword`.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::answer::{answer, error_doc};
use crate::http::{read_request, respond, Request};

struct State {
    dir: PathBuf,
    user: String,
    password: String,
    requests: AtomicUsize,
    targets: Mutex<Vec<String>>,
    sessions: Mutex<Vec<String>>,
    down: AtomicBool,
    stop: AtomicBool,
}

/// A running fake HTTP API on `127.0.0.1`; stops when dropped.
pub struct FakeBillmanagerApi {
    addr: SocketAddr,
    state: Arc<State>,
    thread: Option<JoinHandle<()>>,
}

impl FakeBillmanagerApi {
    /// Serves `dir` on a free port of 127.0.0.1, accepting `user`/`password`.
    pub fn start(dir: &Path, user: &str, password: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            dir: dir.to_path_buf(),
            user: user.to_string(),
            password: password.to_string(),
            requests: AtomicUsize::new(0),
            targets: Mutex::new(Vec::new()),
            sessions: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let shared = state.clone();
        let thread = thread::spawn(move || accept_loop(listener, shared));
        Ok(FakeBillmanagerApi {
            addr,
            state,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT/billmgr`, the value for `[billmanager] url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/billmgr", self.addr)
    }

    /// How many HTTP requests arrived (tests check caching with it).
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The request targets (path and query) as sent, oldest first; tests check that no
    /// secret travels in a URL.
    pub fn targets(&self) -> Vec<String> {
        lock(&self.state.targets).clone()
    }

    /// While `down`, every request gets `503 Service Unavailable` with an HTML page, like a
    /// panel behind a proxy that lost its backend.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }
}

impl Drop for FakeBillmanagerApi {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the loop sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn accept_loop(listener: TcpListener, state: Arc<State>) {
    for stream in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let state = state.clone();
        thread::spawn(move || serve(stream, &state));
    }
}

fn serve(stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(req) = read_request(&stream) else {
        respond(&stream, "400 Bad Request", "text/plain", "bad request\n");
        return;
    };
    state.requests.fetch_add(1, Ordering::SeqCst);
    lock(&state.targets).push(req.target.clone());
    if state.down.load(Ordering::SeqCst) {
        let page = "<html><body><h1>503 Service Unavailable</h1></body></html>";
        respond(&stream, "503 Service Unavailable", "text/html", page);
        return;
    }
    if req.method != "GET" && req.method != "POST" {
        respond(
            &stream,
            "405 Method Not Allowed",
            "text/plain",
            "GET or POST\n",
        );
        return;
    }
    if req.path() != "/billmgr" {
        respond(&stream, "404 Not Found", "text/plain", "not found\n");
        return;
    }
    let body = route(&req, state);
    respond(&stream, "200 OK", "application/json; charset=utf-8", &body);
}

/// The document for one request: authentication first, then the fixture answer.
fn route(req: &Request, state: &State) -> String {
    let params = req.params();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let bad_auth = || error_doc("auth", "badpassword", "Invalid username or password");
    let func = get("func").unwrap_or_default();
    if func == "auth" {
        if get("username") != Some(&state.user) || get("password") != Some(&state.password) {
            return bad_auth();
        }
        let mut sessions = lock(&state.sessions);
        let id = format!("fakesession{:04}", sessions.len() + 1);
        sessions.push(id.clone());
        return serde_json::json!({"doc": {"auth": {"$id": id, "$level": "29", "$": id}}})
            .to_string();
    }
    let by_authinfo = get("authinfo") == Some(&format!("{}:{}", state.user, state.password));
    let by_session = get("auth").is_some_and(|s| lock(&state.sessions).iter().any(|x| x == s));
    if !(by_authinfo || by_session) {
        return bad_auth();
    }
    answer(&state.dir, func, &params).body
}
