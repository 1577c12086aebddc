//! `rmw.v1.LeasesService`, and the fence every fenced write takes.

use super::{Fields, Rpc, lease_ttl, serve, timestamp};
use crate::{
    error::Error,
    ops::{
        Acquire, AcquireOutcome, Ended, Fence, GetLease, Grant, LeaseState, Limits,
        MAX_LEASE_LIMIT, Release, Renew, Replied, TryAcquire,
        types::{Id, Key},
    },
    proto::v1::{
        self as pb, acquire_response as acquire, leases_service_server::LeasesService,
        release_response as release, renew_response as renew,
    },
};

serve! {
  LeasesService {
    acquire(AcquireRequest);
    renew(RenewRequest);
    release(ReleaseRequest);
    get_lease(GetLeaseRequest);
  }
}

/// A lease's name: the key rules.
fn name(f: &mut Fields, field: &str, text: &str, limits: &Limits) -> Option<Key> {
    f.take(field, Key::parse_at_most(text, limits.max_key_bytes))
}

/// A grant's token: set (tokens start at 1).
fn token(f: &mut Fields, field: &str, token: u64) -> Option<u64> {
    f.take(
        field,
        if token == 0 {
            Err("must be set: the token Acquire granted".to_owned())
        } else {
            Ok(token)
        },
    )
}

/// A write's optional fence, its violations under `fence.`: `None`
/// without one, or when it broke a rule (then `f` holds the violation,
/// and the request is refused).
pub(super) fn fence(f: &mut Fields, fence: Option<pb::Fence>, limits: &Limits) -> Option<Fence> {
    let fence = fence?;
    let lease = name(f, "fence.lease", &fence.lease, limits);
    let token = token(f, "fence.token", fence.token);
    Some(Fence {
        lease: lease?,
        token: token?,
    })
}

fn grant(grant: Grant) -> pb::Grant {
    pb::Grant {
        owner: grant.owner,
        token: grant.token,
        expires_at: Some(timestamp(grant.expires_at)),
    }
}

impl Rpc for pb::AcquireRequest {
    type Op = Acquire;
    type Reply = pb::AcquireResponse;

    fn parse(self, limits: &Limits) -> Result<Acquire, Error> {
        let mut f = Fields::new();
        let name = name(&mut f, "name", &self.name, limits);
        let owner = f.take("owner", Id::parse(&self.owner));
        let ttl = f.take("ttl", lease_ttl(self.ttl.as_ref(), limits));
        let limit = f.take(
            "limit",
            if self.limit > MAX_LEASE_LIMIT {
                Err(format!("must be at most {MAX_LEASE_LIMIT}"))
            } else {
                Ok(self.limit.max(1))
            },
        );
        let request_id = f.take("request_id", Id::parse_optional(&self.request_id));
        f.finish(|| {
            Some(Acquire {
                attempt: TryAcquire {
                    name: name?,
                    owner: owner?,
                    ttl: ttl?,
                    limit: limit?,
                    request_id: request_id?,
                },
                wait: self.wait,
            })
        })
    }

    fn reply(replied: Replied<AcquireOutcome>) -> pb::AcquireResponse {
        let outcome = match replied.outcome {
            AcquireOutcome::Acquired(g) => acquire::Outcome::Acquired(grant(g)),
            AcquireOutcome::Held(holders) => acquire::Outcome::Held(acquire::Held {
                holders: holders.grants.into_iter().map(grant).collect(),
            }),
        };
        pb::AcquireResponse {
            replayed: replied.replayed,
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::RenewRequest {
    type Op = Renew;
    type Reply = pb::RenewResponse;

    fn parse(self, limits: &Limits) -> Result<Renew, Error> {
        let mut f = Fields::new();
        let name = name(&mut f, "name", &self.name, limits);
        let token = token(&mut f, "token", self.token);
        let ttl = f.take("ttl", lease_ttl(self.ttl.as_ref(), limits));
        f.finish(|| {
            Some(Renew {
                name: name?,
                token: token?,
                ttl: ttl?,
            })
        })
    }

    fn reply(replied: Replied<Ended<Grant>>) -> pb::RenewResponse {
        let outcome = match replied.outcome {
            Ended::Done(g) => renew::Outcome::Renewed(grant(g)),
            Ended::Lost => renew::Outcome::Lost(renew::Lost {}),
        };
        pb::RenewResponse {
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::ReleaseRequest {
    type Op = Release;
    type Reply = pb::ReleaseResponse;

    fn parse(self, limits: &Limits) -> Result<Release, Error> {
        let mut f = Fields::new();
        let name = name(&mut f, "name", &self.name, limits);
        let token = token(&mut f, "token", self.token);
        f.finish(|| {
            Some(Release {
                name: name?,
                token: token?,
            })
        })
    }

    fn reply(replied: Replied<Ended<()>>) -> pb::ReleaseResponse {
        let outcome = match replied.outcome {
            Ended::Done(()) => release::Outcome::Released(release::Released {}),
            Ended::Lost => release::Outcome::Lost(release::Lost {}),
        };
        pb::ReleaseResponse {
            outcome: Some(outcome),
        }
    }
}

impl Rpc for pb::GetLeaseRequest {
    type Op = GetLease;
    type Reply = pb::GetLeaseResponse;

    fn parse(self, limits: &Limits) -> Result<GetLease, Error> {
        let mut f = Fields::new();
        let name = name(&mut f, "name", &self.name, limits);
        f.finish(|| Some(GetLease { name: name? }))
    }

    fn reply(replied: Replied<LeaseState>) -> pb::GetLeaseResponse {
        pb::GetLeaseResponse {
            holders: replied.outcome.grants.into_iter().map(grant).collect(),
            last_token: replied.outcome.last_token,
        }
    }
}
