//! Per-account sliding one-second window (§18.1): the (rps+1)-th admitted request
//! within 1000 ms is refused with 429; repeated refusals may block the account.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_millis(1000);

pub struct RateLimiter {
    pub rps: u32,
    admitted: VecDeque<Instant>,
    /// Refusals since the last admitted request.
    pub consecutive_429: u32,
}

impl RateLimiter {
    pub fn new(rps: u32) -> RateLimiter {
        RateLimiter {
            rps,
            admitted: VecDeque::new(),
            consecutive_429: 0,
        }
    }

    /// True when the request may proceed. `rps == 0` means unlimited.
    pub fn admit(&mut self, now: Instant) -> bool {
        while self
            .admitted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.admitted.pop_front();
        }
        if self.rps > 0 && self.admitted.len() >= self.rps as usize {
            self.consecutive_429 += 1;
            return false;
        }
        self.admitted.push_back(now);
        self.consecutive_429 = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimiter;
    use std::time::{Duration, Instant};

    #[test]
    fn window_slides() {
        let t0 = Instant::now();
        let mut rl = RateLimiter::new(2);
        assert!(rl.admit(t0));
        assert!(rl.admit(t0 + Duration::from_millis(10)));
        assert!(!rl.admit(t0 + Duration::from_millis(20)));
        assert_eq!(rl.consecutive_429, 1);
        assert!(rl.admit(t0 + Duration::from_millis(1001)));
    }
}
