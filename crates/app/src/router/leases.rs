//! The in-memory side of credit leasing: per service, the lease this process holds and how much of it
//! is free, and the queue of finished requests waiting to be written.
//!
//! Everything here is synchronous and takes one short mutex, so reserving and settling a request
//! touches memory only. The money moved into a lease was debited from the service's balance first
//! (`metering.rs`), so what this book hands out can never exceed what the customer has:
//!   lease amount in the database = free here + reserved by requests in flight + charged but unflushed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use agent_store_store::router::Settlement;
use agent_store_store::router_leases::SettledRequest;

use super::RouterPrincipal;

/// A finished request, waiting for the flusher.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub row: SettledRequest,
    pub agent_id: Option<String>,
    /// The lease the charge comes out of, if any.
    pub lease_id: Option<String>,
    /// Part of the cost taken from the lease.
    pub from_lease: i64,
    /// Part of the cost beyond what the lease had: charged from the service's balance at flush, as
    /// far as the balance goes.
    pub overflow: i64,
}

#[derive(Debug)]
struct ServiceLease {
    lease_id: Option<String>,
    free: i64,
    in_flight: i64,
    last_used: Instant,
    /// Serialises top-ups of this service's lease (one database transaction at a time).
    top_up: Arc<tokio::sync::Mutex<()>>,
}

impl ServiceLease {
    fn new() -> Self {
        Self {
            lease_id: None,
            free: 0,
            in_flight: 0,
            last_used: Instant::now(),
            top_up: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

#[derive(Debug, Default)]
struct BookState {
    services: HashMap<String, ServiceLease>,
    queue: Vec<Finished>,
    /// Leases dropped from memory whose closing failed; retried by the flusher.
    to_close: Vec<String>,
}

/// What [`LeaseBook::try_take`] found.
pub(crate) enum Take {
    /// Reserved out of this lease (`None`: nothing needed reserving).
    Taken(Option<String>),
    /// Not enough free: top the lease up under this lock, then try again.
    Short(Arc<tokio::sync::Mutex<()>>),
}

/// This process's leases.
#[derive(Debug)]
pub(crate) struct LeaseBook {
    /// Who holds the leases in the database: unique per process (and per app in tests).
    pub holder: String,
    state: Mutex<BookState>,
    /// One flush (or release) at a time.
    pub flush_lock: tokio::sync::Mutex<()>,
    pub flusher_started: AtomicBool,
    pub stopped: AtomicBool,
    /// When the leases were last marked alive (ms since the epoch).
    pub last_heartbeat: AtomicI64,
}

impl LeaseBook {
    pub fn new(holder: String) -> Self {
        Self {
            holder,
            state: Mutex::new(BookState::default()),
            flush_lock: tokio::sync::Mutex::new(()),
            flusher_started: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            last_heartbeat: AtomicI64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BookState> {
        // A panic while holding this lock leaves consistent numbers (every update is one statement).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserve `amount` out of the service's lease if it has that much free.
    pub fn try_take(&self, service_id: &str, amount: i64) -> Take {
        let mut st = self.lock();
        let lease = st
            .services
            .entry(service_id.to_owned())
            .or_insert_with(ServiceLease::new);
        if amount == 0 {
            lease.last_used = Instant::now();
            return Take::Taken(lease.lease_id.clone());
        }
        if lease.lease_id.is_some() && lease.free >= amount {
            lease.free -= amount;
            lease.in_flight += amount;
            lease.last_used = Instant::now();
            return Take::Taken(lease.lease_id.clone());
        }
        Take::Short(lease.top_up.clone())
    }

    /// The service's lease id and its free amount.
    pub fn current(&self, service_id: &str) -> (Option<String>, i64) {
        let st = self.lock();
        st.services
            .get(service_id)
            .map_or((None, 0), |l| (l.lease_id.clone(), l.free))
    }

    /// What this process's lease of the service has free (0 without one).
    pub fn free(&self, service_id: &str) -> i64 {
        self.current(service_id).1
    }

    /// Credit `amount` just moved into `lease_id`. A different id than the one held means the old
    /// lease is gone (closed by a sweeper, its money back in the balance): its free part is dropped.
    pub fn credit(&self, service_id: &str, lease_id: &str, amount: i64) {
        let mut st = self.lock();
        let lease = st
            .services
            .entry(service_id.to_owned())
            .or_insert_with(ServiceLease::new);
        if lease.lease_id.as_deref() == Some(lease_id) {
            lease.free += amount;
            return;
        }
        // A lease still open in the database must not be forgotten with money in it: close it
        // (closing a lease a sweeper already closed does nothing).
        let replaced = lease.lease_id.replace(lease_id.to_owned());
        lease.free = amount;
        if let Some(old) = replaced {
            st.to_close.push(old);
        }
    }

    /// Settle a reservation in memory and queue its row and charge for the flusher.
    pub fn finish(&self, r: &ReservationInfo, s: &Settlement) {
        let mut st = self.lock();
        let cost = s.cost_micro.max(0);
        let (from_lease, overflow) = match st.services.get_mut(&r.principal.service_id) {
            Some(lease) => {
                lease.in_flight -= r.amount;
                lease.last_used = Instant::now();
                if r.lease_id.is_some() && lease.lease_id == r.lease_id {
                    // Usage beyond the reservation also comes out of the lease while it has some.
                    let from = cost.min(r.amount + lease.free);
                    lease.free += r.amount - from;
                    (from, cost - from)
                } else {
                    (0, cost)
                }
            }
            None => (0, cost),
        };
        st.queue.push(Finished {
            row: SettledRequest {
                id: r.request_id.clone(),
                account_id: r.principal.account_id.clone(),
                service_id: r.principal.service_id.clone(),
                key_id: r.principal.key_id.clone(),
                model: r.model.clone(),
                upstream: s.upstream.clone(),
                prompt_tokens: s.prompt_tokens,
                completion_tokens: s.completion_tokens,
                reserved_micro: r.amount,
                cost_micro: cost,
                outcome: s.outcome.clone(),
                latency_ms: s.latency_ms,
                streamed: r.streamed,
                created_at: r.created_at,
                settled_at: s.settled_at,
            },
            agent_id: r.principal.agent_id.clone(),
            lease_id: r.lease_id.clone(),
            from_lease,
            overflow,
        });
    }

    /// Take the queued rows (the flusher writes them, or puts them back on failure).
    pub fn drain(&self) -> Vec<Finished> {
        std::mem::take(&mut self.lock().queue)
    }

    /// Put rows back at the front after a failed flush.
    pub fn requeue(&self, mut batch: Vec<Finished>) {
        let mut st = self.lock();
        batch.append(&mut st.queue);
        st.queue = batch;
    }

    /// Forget leases the database reports closed: their money is back in the balance, so what was free
    /// here is no longer ours; requests in flight on them will be charged from the balance.
    pub fn forget(&self, lease_ids: &[String]) {
        let mut st = self.lock();
        for lease in st.services.values_mut() {
            if lease
                .lease_id
                .as_ref()
                .is_some_and(|id| lease_ids.contains(id))
            {
                lease.lease_id = None;
                lease.free = 0;
            }
        }
    }

    /// Drop from memory the leases with nothing in flight that were unused for `idle` (all such leases
    /// when `idle` is zero), returning their ids to close in the database, plus earlier failures.
    pub fn take_idle(&self, idle: Duration) -> Vec<String> {
        let mut st = self.lock();
        let mut out = std::mem::take(&mut st.to_close);
        for lease in st.services.values_mut() {
            if lease.in_flight == 0
                && lease.last_used.elapsed() >= idle
                && let Some(id) = lease.lease_id.take()
            {
                lease.free = 0;
                out.push(id);
            }
        }
        st.services.retain(|_, l| {
            l.lease_id.is_some() || l.in_flight != 0 || Arc::strong_count(&l.top_up) > 1
        });
        out
    }

    /// Remember a lease whose closing failed.
    pub fn close_later(&self, lease_id: String) {
        self.lock().to_close.push(lease_id);
    }

    pub fn heartbeat_due(&self, now: i64, every_ms: i64) -> bool {
        now - self.last_heartbeat.load(Ordering::Relaxed) >= every_ms
    }

    pub fn has_leases(&self) -> bool {
        self.lock().services.values().any(|l| l.lease_id.is_some())
    }
}

/// What a reservation needs to be settled.
#[derive(Debug, Clone)]
pub(crate) struct ReservationInfo {
    pub principal: RouterPrincipal,
    pub request_id: String,
    pub model: String,
    pub streamed: bool,
    pub created_at: i64,
    pub lease_id: Option<String>,
    pub amount: i64,
}

/// A request's reservation. Settle it once with [`Reservation::settle`]; one dropped unsettled (a
/// panic, a cancelled task) settles itself at no charge, so its credit is never stranded.
#[derive(Debug)]
pub(crate) struct Reservation {
    book: Arc<LeaseBook>,
    info: ReservationInfo,
    done: bool,
}

impl Reservation {
    pub fn new(book: Arc<LeaseBook>, info: ReservationInfo) -> Self {
        Self {
            book,
            info,
            done: false,
        }
    }

    pub fn settle(mut self, s: &Settlement) {
        self.done = true;
        self.book.finish(&self.info, s);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.done {
            let s = Settlement {
                upstream: None,
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_micro: 0,
                outcome: "abandoned".to_owned(),
                latency_ms: 0,
                settled_at: agent_store_core::time::now_ms(),
            };
            self.book.finish(&self.info, &s);
        }
    }
}
