//! Injected failures, queued by tests and consumed in order by matching requests,
//! so a client's retry/idempotency logic can be exercised deterministically.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer `code` to the next `count` matching requests without applying them.
    Status {
        code: u16,
        count: u32,
        #[serde(default)]
        path_prefix: Option<String>,
    },
    /// Read the request, then close the socket without answering.
    Drop {
        count: u32,
        #[serde(default)]
        path_prefix: Option<String>,
    },
    /// Answer normally, `ms` later.
    Delay {
        ms: u64,
        count: u32,
        #[serde(default)]
        path_prefix: Option<String>,
    },
    /// Apply the request, then close the socket without answering.
    LostResponse {
        count: u32,
        #[serde(default)]
        path_prefix: Option<String>,
    },
}

impl Fault {
    fn count_mut(&mut self) -> &mut u32 {
        match self {
            Fault::Status { count, .. }
            | Fault::Drop { count, .. }
            | Fault::Delay { count, .. }
            | Fault::LostResponse { count, .. } => count,
        }
    }

    fn matches(&self, path: &str) -> bool {
        let prefix = match self {
            Fault::Status { path_prefix, .. }
            | Fault::Drop { path_prefix, .. }
            | Fault::Delay { path_prefix, .. }
            | Fault::LostResponse { path_prefix, .. } => path_prefix,
        };
        prefix.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

#[derive(Default)]
pub struct FaultQueue {
    queue: VecDeque<Fault>,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        let mut fault = fault;
        if *fault.count_mut() > 0 {
            self.queue.push_back(fault);
        }
    }

    pub fn clear(&mut self) {
        self.queue.clear();
    }

    /// Takes one use of the first fault matching `path`.
    pub fn take(&mut self, path: &str) -> Option<Fault> {
        let idx = self.queue.iter().position(|f| f.matches(path))?;
        let fault = &mut self.queue[idx];
        let taken = fault.clone();
        *fault.count_mut() -= 1;
        if *fault.count_mut() == 0 {
            self.queue.remove(idx);
        }
        Some(taken)
    }
}
