//! Leases: locks and semaphores by name, each grant with a fencing token
//! that the service's own writes check (`lua/lib/leases.lua`).
//!
//! The requests and outcomes and their script bindings are here; waiting
//! for a place (Acquire with `wait`) is in `wait`.

mod wait;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use wait::{Acquire, Waiters};

use super::{
    Context,
    binding::{Layout, Operation, Record},
    types::{Id, Key, RequestId, kind::Owner},
};
use crate::{
    error::{Error, Invalid, InvalidReason, Violation},
    redis::{Call, Reply, Script, slot::slot},
};

/// The most grants a semaphore may have at once (`limit`).
pub const MAX_LEASE_LIMIT: u32 = 1000;

/// A write's fence: the write applies only while `token` is a current
/// grant of `lease`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name.
    pub lease: Key,
    /// The writer's token.
    pub token: u64,
}

/// One current grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Who holds it.
    pub owner: String,
    /// Its fencing token.
    pub token: u64,
    /// When it expires, by Redis's clock.
    pub expires_at: SystemTime,
}

/// One try at a grant (Acquire without waiting).
#[derive(Clone, Debug)]
pub struct TryAcquire {
    /// The lease's name.
    pub name: Key,
    /// Who asks.
    pub owner: Id<Owner>,
    /// How long the grant lasts (whole milliseconds, at least one).
    pub ttl: Duration,
    /// How many grants may be current at once.
    pub limit: u32,
    /// The idempotency key.
    pub request_id: Option<RequestId>,
}

/// What a try at a grant did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcquireOutcome {
    /// Granted.
    Acquired(Grant),
    /// Every place is taken.
    Held(Holders),
}

/// The grants that fill a lease, and how to wait for a place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holders {
    /// The current grants, soonest to expire first.
    pub grants: Vec<Grant>,
    /// How long until the soonest expires, by Redis's clock.
    pub wait: Duration,
    /// The lease's releases stream's newest id: a doorbell rings after it.
    pub last_release: String,
}

/// Extends a current grant.
#[derive(Clone, Debug)]
pub struct Renew {
    /// The lease's name.
    pub name: Key,
    /// The grant's token.
    pub token: u64,
    /// The new time to live, from now.
    pub ttl: Duration,
}

/// Ends a grant.
#[derive(Clone, Debug)]
pub struct Release {
    /// The lease's name.
    pub name: Key,
    /// The grant's token.
    pub token: u64,
}

/// What a renewal or a release did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended<T> {
    /// Done.
    Done(T),
    /// The token is not a current grant.
    Lost,
}

/// Reads a lease.
#[derive(Clone, Debug)]
pub struct GetLease {
    /// The lease's name.
    pub name: Key,
}

/// A lease as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseState {
    /// The current grants, soonest to expire first.
    pub grants: Vec<Grant>,
    /// The highest token the name ever granted (0: never).
    pub last_token: u64,
}

impl Fence {
    /// Refuses, in cluster mode, a fence whose lease is not in the slot of
    /// `data_key` (the request's `data_field`): one script cannot reach
    /// two slots.
    pub(crate) fn check(
        fence: Option<&Self>,
        cx: &Context,
        data_key: &str,
        data_field: &str,
    ) -> Result<(), Error> {
        let Some(fence) = fence else {
            return Ok(());
        };
        let lease = cx.keys.lease(&fence.lease);
        if !cx.cluster || slot(&lease) == slot(data_key) {
            return Ok(());
        }
        Err(Error::InvalidArgument(Invalid {
            reason: InvalidReason::CrossSlot,
            violations: vec![Violation {
                field: "fence.lease".into(),
                description: format!(
                    "lease is in cluster slot {}, {data_field} in slot {}: a fence and the \
                     data it fences must share a {{tag}}",
                    slot(&lease),
                    slot(data_key)
                ),
            }],
        }))
    }

    /// The fence's lease key for a write of `data_key`; without a fence,
    /// `data_key` itself (a script's keys must all be in one slot, and a
    /// fence-less script does not read it as a lease).
    pub(crate) fn key(fence: Option<&Self>, cx: &Context, data_key: &str) -> String {
        fence.map_or_else(|| data_key.to_owned(), |f| cx.keys.lease(&f.lease))
    }

    /// The token as the scripts take it: `''` without a fence.
    pub(crate) fn token(fence: Option<&Self>) -> String {
        fence.map(|f| f.token.to_string()).unwrap_or_default()
    }

    /// A fenced write's reply, `{'fenced', current token}`, if it is one.
    pub(crate) fn refused(reply: &Reply) -> Result<Option<u64>, Error> {
        if reply.tag()? != "fenced" {
            return Ok(None);
        }
        token(reply, 1).map(Some)
    }
}

/// A token of a reply: digits.
fn token(reply: &Reply, i: usize) -> Result<u64, Error> {
    reply.text(i)?.parse().map_err(|_| reply.unexpected())
}

/// Milliseconds by Redis's clock, as a time.
fn time(reply: &Reply, i: usize) -> Result<SystemTime, Error> {
    Ok(UNIX_EPOCH + Duration::from_millis(token(reply, i)?))
}

/// Grants flattened from item `from` on: token, expires at, owner, ...
fn grants(reply: &Reply, from: usize) -> Result<Vec<Grant>, Error> {
    let rest = reply.len().saturating_sub(from);
    if !rest.is_multiple_of(3) {
        return Err(reply.unexpected());
    }
    (0..rest / 3)
        .map(|g| {
            let at = from + 3 * g;
            Ok(Grant {
                token: token(reply, at)?,
                expires_at: time(reply, at + 1)?,
                owner: reply.text(at + 2)?,
            })
        })
        .collect()
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Operation for TryAcquire {
    const SCRIPT: Script = Script::LeasesAcquire;
    const LAYOUT: Layout = Layout::write(
        &["the lease,", "the lease's releases"],
        &["the owner", "time to live", "the limit"],
    );
    type Outcome = AcquireOutcome;

    fn record(&self, cx: &Context) -> Option<Record> {
        let lease = cx.keys.lease(&self.name);
        Some(Record::of_key(&cx.keys, &lease, self.request_id.as_ref()))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let lease = cx.keys.lease(&self.name);
        let releases = cx.keys.lease_releases(&lease);
        call.key(lease)
            .key(releases)
            .arg(self.owner.as_str())
            .arg(millis(self.ttl))
            .arg(self.limit)
    }

    fn decode(&self, reply: &Reply) -> Result<AcquireOutcome, Error> {
        match reply.tag()? {
            "acquired" => Ok(AcquireOutcome::Acquired(Grant {
                owner: self.owner.to_string(),
                token: token(reply, 1)?,
                expires_at: time(reply, 2)?,
            })),
            "held" => Ok(AcquireOutcome::Held(Holders {
                wait: Duration::from_millis(token(reply, 1)?),
                last_release: reply.text(2)?,
                grants: grants(reply, 3)?,
            })),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for Renew {
    const SCRIPT: Script = Script::LeasesRenew;
    const LAYOUT: Layout = Layout::write(
        &["the lease,"],
        &["the grant's token", "the new time to live"],
    );
    type Outcome = Ended<Grant>;

    fn record(&self, cx: &Context) -> Option<Record> {
        let lease = cx.keys.lease(&self.name);
        Some(Record::of_key::<()>(&cx.keys, &lease, None))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.lease(&self.name))
            .arg(self.token)
            .arg(millis(self.ttl))
    }

    fn decode(&self, reply: &Reply) -> Result<Ended<Grant>, Error> {
        match reply.tag()? {
            "renewed" => Ok(Ended::Done(Grant {
                token: self.token,
                expires_at: time(reply, 1)?,
                owner: reply.text(2)?,
            })),
            "lost" => Ok(Ended::Lost),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for Release {
    const SCRIPT: Script = Script::LeasesRelease;
    const LAYOUT: Layout = Layout::write(
        &["the lease,", "the lease's releases"],
        &["the grant's token"],
    );
    type Outcome = Ended<()>;

    fn record(&self, cx: &Context) -> Option<Record> {
        let lease = cx.keys.lease(&self.name);
        Some(Record::of_key::<()>(&cx.keys, &lease, None))
    }

    fn build(&self, cx: &Context, call: Call) -> Call {
        let lease = cx.keys.lease(&self.name);
        let releases = cx.keys.lease_releases(&lease);
        call.key(lease).key(releases).arg(self.token)
    }

    fn decode(&self, reply: &Reply) -> Result<Ended<()>, Error> {
        match reply.tag()? {
            "released" => Ok(Ended::Done(())),
            "lost" => Ok(Ended::Lost),
            _ => Err(reply.unexpected()),
        }
    }
}

impl Operation for GetLease {
    const SCRIPT: Script = Script::LeasesGet;
    const LAYOUT: Layout = Layout::read(&["the lease,"], &[]);
    type Outcome = LeaseState;

    fn build(&self, cx: &Context, call: Call) -> Call {
        call.key(cx.keys.lease(&self.name))
    }

    fn decode(&self, reply: &Reply) -> Result<LeaseState, Error> {
        match reply.tag()? {
            "lease" => Ok(LeaseState {
                last_token: token(reply, 1)?,
                grants: grants(reply, 2)?,
            }),
            _ => Err(reply.unexpected()),
        }
    }
}
