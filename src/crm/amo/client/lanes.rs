//! The lane pool: up to `lanes` requests open at once, each going through the client's own
//! steps (begin a try, send, judge the answer, retry or refresh). Lane threads only pace and
//! send; every decision is taken on the calling thread, which hands work over on one
//! channel and takes answers from another, and blocks when it has nothing else to do.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use serde_json::Value;

use super::{send_once, AmoClient, Answer, Job, Next, Try, Work};
use crate::crm::amo::oauth::CurrentToken;
use crate::crm::amo::pace::Pacer;
use crate::crm::CrmError;

/// The caller of [`AmoClient::run_fed`]: hands out jobs and takes their answers.
pub trait JobFeed {
    /// Jobs to start now, ideally at most `room`; `idle` when no request is open, and then
    /// an empty answer ends the run.
    fn more(&mut self, room: usize, idle: bool) -> Vec<Job>;
    /// Work to do while requests are open (reading, planning); true when some was done and
    /// there may be more.
    fn meanwhile(&mut self) -> bool;
    /// A job's final result, by its number.
    fn answered(&mut self, index: usize, result: Result<Option<Value>, CrmError>) -> Flow;
}

/// After an answer: go on (with more jobs), or start nothing new.
pub enum Flow {
    /// Keep going; send these too.
    Continue(Vec<Job>),
    /// Start nothing new; answers of open requests still arrive.
    Stop,
}

impl AmoClient<'_> {
    /// Runs the jobs `feed` hands out with up to `lanes` requests open at once (the pacer
    /// still allows at most `rps` *starts* per second, across processes). The feed is asked
    /// for more whenever a lane is free, and may read and plan while requests are open, so
    /// a long run keeps `lanes` requests open without pausing between rounds. Jobs are
    /// numbered in the order they are handed out (by `more` or by an answer). Retries, 429s
    /// and token refreshes are handled here: a 429 or a 5xx slows every lane, the 429
    /// through the shared penalty, the 5xx through a pause of this process's pacer.
    ///
    /// The feed may stop: then nothing new starts, and the answers of requests already
    /// open are still delivered, so no created entity goes unrecorded. The first job that
    /// ends unreachable after its retries stops the run for good ([`super::Outage`]): its
    /// error goes to the feed, nothing new starts, retries of the open jobs are not sent
    /// (each is answered "not sent"), and once the open requests are in, the error is
    /// returned. A later call fails at once, sending nothing.
    pub fn run_fed(&self, lanes: usize, feed: &mut dyn JobFeed) -> Result<(), CrmError> {
        let token = self.start_run()?;
        let lanes = lanes.clamp(1, 64);
        let (work_tx, work_rx) = channel::<Work>();
        let work_rx = Mutex::new(work_rx);
        let (done_tx, done_rx) = channel::<Sent>();
        // Set on a stop: requests not on the wire yet are not sent.
        let cancel = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..lanes {
                let done_tx = done_tx.clone();
                let (http, pacer) = (&self.http, &self.pacer);
                let (work_rx, cancel) = (&work_rx, &cancel);
                scope.spawn(move || lane(http, pacer, work_rx, &done_tx, cancel));
            }
            drop(done_tx);
            let mut pool = Pool {
                client: self,
                feed,
                token,
                lanes,
                tries: Vec::new(),
                queue: VecDeque::new(),
                open: 0,
                stopped: false,
                fatal: None,
                cancel: &cancel,
                work_tx,
            };
            pool.run(&done_rx);
            pool.finish()
        })
    }
}

/// One lane's thread: sends what it is handed until the pool hangs up.
fn lane(
    http: &Client,
    pacer: &Pacer,
    work: &Mutex<Receiver<Work>>,
    done: &Sender<Sent>,
    cancel: &AtomicBool,
) {
    loop {
        let next = work.lock().map(|rx| rx.recv());
        let Ok(Ok(w)) = next else { break };
        let started = Instant::now();
        let answer = send_once(http, pacer, &w, cancel);
        let sent = Sent {
            index: w.index,
            answer,
            took: started.elapsed(),
        };
        if done.send(sent).is_err() {
            break;
        }
    }
}

/// What a lane hands back: job `index`'s answer (`None`: the stop kept it off the wire).
struct Sent {
    index: usize,
    answer: Option<Answer>,
    took: Duration,
}

/// The calling thread's side of a run: the jobs, which wait, and how the run stands.
struct Pool<'p, 'c> {
    client: &'p AmoClient<'c>,
    feed: &'p mut dyn JobFeed,
    token: CurrentToken,
    lanes: usize,
    /// Every job handed out, by its number.
    tries: Vec<Try>,
    /// Jobs waiting for a lane (a retry goes first).
    queue: VecDeque<usize>,
    /// Requests on a lane.
    open: usize,
    stopped: bool,
    /// The error that stopped the run, returned at the end.
    fatal: Option<CrmError>,
    cancel: &'p AtomicBool,
    work_tx: Sender<Work>,
}

impl Pool<'_, '_> {
    /// Starts work while lanes are free, takes each answer as it comes, until nothing is
    /// open and nothing more is handed out.
    fn run(&mut self, done: &Receiver<Sent>) {
        loop {
            self.fill();
            if self.open == 0 {
                return;
            }
            let Some(sent) = self.next_answer(done) else {
                return;
            };
            self.open -= 1;
            self.take(sent);
        }
    }

    /// Starts jobs while a lane is free: the queue first (retries, chunks sent again),
    /// then whatever the feed hands out.
    fn fill(&mut self) {
        while self.open < self.lanes && !self.stopped {
            if self.queue.is_empty() {
                for job in self.feed.more(self.lanes - self.open, self.open == 0) {
                    let n = self.add(job);
                    self.queue.push_back(n);
                }
            }
            let Some(i) = self.queue.pop_front() else {
                return;
            };
            match self.client.begin_try(&mut self.tries[i], &self.token, i) {
                Ok(work) => {
                    if self.work_tx.send(work).is_err() {
                        return;
                    }
                    self.open += 1;
                }
                // Out of time before a retry: the request ends unreachable.
                Err(e) => self.settle(i, Err(e)),
            }
        }
    }

    /// The next answer. While requests are open the feed reads and plans; once it has
    /// nothing to do (or the run stopped), the pool blocks until a lane answers.
    fn next_answer(&mut self, done: &Receiver<Sent>) -> Option<Sent> {
        loop {
            match done.try_recv() {
                Ok(sent) => return Some(sent),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {
                    if self.stopped || !self.feed.meanwhile() {
                        return done.recv().ok();
                    }
                }
            }
        }
    }

    /// Acts on one answer.
    fn take(&mut self, sent: Sent) {
        let i = sent.index;
        let Some(answer) = sent.answer else {
            // Never on the wire: not counted, and answered "not sent" so its items are.
            let t = &self.tries[i];
            self.client.count(&t.job.method, t.attempt, -1);
            self.not_sent(i);
            return;
        };
        match self.client.judge(&mut self.tries[i], answer, sent.took) {
            Next::Done(r) => self.settle(i, r),
            Next::Retry(wait) => self.retry(i, wait),
            Next::Refresh => self.refresh(i),
        }
    }

    /// A job's final result goes to the feed. An unreachable one stops the run (the one
    /// stop decision), and so does a feed that says stop; jobs the feed adds after the
    /// stop (a chunk sent again without its rejected items) are answered at once.
    fn settle(&mut self, i: usize, result: Result<Option<Value>, CrmError>) {
        // A long fed run must not keep every body it sent.
        self.tries[i].job.body = None;
        let outage = match &result {
            Err(e) if self.client.outage.note(e) => Some(copy(e)),
            _ => None,
        };
        let flow = self.feed.answered(i, result);
        if let Some(e) = outage {
            self.fatal.get_or_insert(e);
            self.stop();
        }
        match flow {
            Flow::Stop => self.stop(),
            Flow::Continue(more) => {
                for job in more {
                    let n = self.add(job);
                    if self.stopped {
                        self.not_sent(n);
                    } else {
                        self.queue.push_back(n);
                    }
                }
            }
        }
    }

    /// Tries `i` again after `wait`, first in line: a failing request keeps its lane until
    /// it is answered or gives up, so an outage never starts the next job (each would pay
    /// the whole retry budget again; issue 22). After a stop it is answered "not sent".
    fn retry(&mut self, i: usize, wait: Option<Duration>) {
        if self.stopped {
            self.not_sent(i);
            return;
        }
        self.client.pause(wait);
        self.queue.push_front(i);
    }

    /// Refreshes the token after a 401 and tries `i` again with it; a failed refresh
    /// stops the run with its error.
    fn refresh(&mut self, i: usize) {
        match self.client.refresh(&mut self.tries[i]) {
            Ok(token) => {
                self.token = token;
                if self.stopped {
                    self.not_sent(i);
                } else {
                    self.queue.push_front(i);
                }
            }
            Err(e) => {
                self.fatal.get_or_insert(e);
                self.stop();
            }
        }
    }

    /// Answers job `i` "not sent (again)": the run stopped before it could go.
    fn not_sent(&mut self, i: usize) {
        let err = self.client.not_sent(&self.tries[i]);
        self.tries[i].job.body = None;
        self.feed.answered(i, Err(err));
    }

    /// Numbers a new job.
    fn add(&mut self, job: Job) -> usize {
        self.tries.push(Try::new(job));
        self.tries.len() - 1
    }

    /// Starts nothing new; requests waiting for the pacer give up their turn.
    fn stop(&mut self) {
        self.stopped = true;
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// Jobs handed out but never started (the run stopped first) are answered "not sent",
    /// so the caller counts and queues their items instead of losing track; then the
    /// error that stopped the run, if one did.
    fn finish(mut self) -> Result<(), CrmError> {
        while let Some(i) = self.queue.pop_front() {
            self.not_sent(i);
        }
        match self.fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A copy of an unreachable error (to hand one to the feed and return the other).
fn copy(e: &CrmError) -> CrmError {
    match e {
        CrmError::Unreachable { request, detail } => CrmError::Unreachable {
            request: request.clone(),
            detail: detail.clone(),
        },
        other => CrmError::Unreachable {
            request: String::new(),
            detail: other.to_string(),
        },
    }
}
