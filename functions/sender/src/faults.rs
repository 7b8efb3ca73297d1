//! Fault injection for the local stack's tests (the `faults` feature, which only the local
//! stack enables: the deployed sender has none of this): a job that stops after N accepted
//! sends as a crash would, records written late so the providers' events arrive first, and a
//! shorter claim age after which a job is retaken.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Sender;

/// The faults injected into one sender.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hooks {
    /// Stop a job (nothing of its chunk recorded) right after this many more accepted sends.
    crash_after: Arc<Mutex<Option<u64>>>,
    /// How long a job waits between its provider calls and recording their outcome.
    pub(crate) record_delay: Duration,
}

impl Hooks {
    /// True (once) when an injected crash is due after an accepted send.
    pub(crate) fn crash_due(&self) -> bool {
        let Ok(mut c) = self.crash_after.lock() else {
            return false;
        };
        match *c {
            Some(0) | Some(1) => {
                *c = None;
                true
            }
            Some(n) => {
                *c = Some(n - 1);
                false
            }
            None => false,
        }
    }
}

impl Sender {
    /// How long a claim may stand before it counts as abandoned (shorter than
    /// [`crate::SETTLE_SECONDS`], so a test sees a crashed job retaken).
    pub fn with_settle_seconds(mut self, seconds: i64) -> Self {
        self.settle_seconds = seconds;
        self
    }

    /// Each chunk's records are written this long after its provider calls, so the providers'
    /// events arrive before the sender's records.
    pub fn with_record_delay(mut self, delay: Duration) -> Self {
        self.faults.record_delay = delay;
        self
    }

    /// The job in progress stops, as if the function had crashed, right after the provider
    /// accepts `sends` more messages; nothing of its current chunk is recorded.
    pub fn crash_after_sends(&self, sends: u64) {
        if let Ok(mut c) = self.faults.crash_after.lock() {
            *c = Some(sends);
        }
    }
}
