//! Access control: who the caller is ([`identity`]), what a policy lets
//! it call ([`policy`]), checked at the edge — the method as the call
//! arrives, the resources once its request is typed — and the limits the
//! policy declares for counters and quotas ([`limits`]).
//!
//! With no `--policy` the service is open, as before, and says so at
//! start. The policy in force is swapped whole on reload: a call is
//! checked against one policy from its start to its end.

mod access;
mod identity;
pub mod limits;
pub mod pattern;
mod policy;
mod resources;

pub use access::Access;
pub use limits::Declared;
pub use policy::Policy;

use std::sync::Arc;

use crate::error::Error;

/// A kind of resource a rule grants by name pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An InventoryService store.
    Store,
    /// A product of a store.
    Product,
    /// A LedgerService book.
    Book,
    /// An account of a book.
    Account,
    /// A ValuesService key.
    Value,
    /// A RecordsService key.
    Record,
    /// A RecordsService journal tag.
    Tag,
    /// A CountersService counter.
    Counter,
    /// A CountersService quota.
    Quota,
    /// A SequencesService sequence.
    Sequence,
    /// A LeasesService lease.
    Lease,
}

impl Kind {
    /// Every kind, in the order rules keep their patterns.
    pub const ALL: [Kind; 11] = [
        Kind::Store,
        Kind::Product,
        Kind::Book,
        Kind::Account,
        Kind::Value,
        Kind::Record,
        Kind::Tag,
        Kind::Counter,
        Kind::Quota,
        Kind::Sequence,
        Kind::Lease,
    ];

    /// The name of one, in errors and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Store => "store",
            Kind::Product => "product",
            Kind::Book => "book",
            Kind::Account => "account",
            Kind::Value => "value",
            Kind::Record => "record",
            Kind::Tag => "tag",
            Kind::Counter => "counter",
            Kind::Quota => "quota",
            Kind::Sequence => "sequence",
            Kind::Lease => "lease",
        }
    }

    /// The policy file's field for this kind.
    #[must_use]
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Store => "stores",
            Kind::Product => "products",
            Kind::Book => "books",
            Kind::Account => "accounts",
            Kind::Value => "values",
            Kind::Record => "records",
            Kind::Tag => "tags",
            Kind::Counter => "counters",
            Kind::Quota => "quotas",
            Kind::Sequence => "sequences",
            Kind::Lease => "leases",
        }
    }
}

/// A resource a call touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource<'a> {
    /// Its kind.
    pub kind: Kind,
    /// Its name, as the request gave it.
    pub name: &'a str,
}

impl<'a> Resource<'a> {
    /// A resource of `kind` named `name`.
    #[must_use]
    pub fn new(kind: Kind, name: &'a str) -> Self {
        Self { kind, name }
    }
}

/// Why a call was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No rule lets the caller call the method.
    Method,
    /// The rules that let it call the method do not grant this resource.
    Resource {
        /// Its kind.
        kind: Kind,
        /// Its name.
        name: String,
    },
}

impl Refusal {
    fn resource(resource: &Resource<'_>) -> Self {
        Self::Resource {
            kind: resource.kind,
            name: resource.name.to_owned(),
        }
    }

    /// The refused kind, as errors and metrics name it.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Method => "method",
            Self::Resource { kind, .. } => kind.as_str(),
        }
    }
}

/// What an operation touches, for the policy to grant; and the declared
/// limits it must keep. One impl per operation (`resources.rs`).
pub trait Guarded {
    /// Every resource the request names.
    fn resources(&self) -> Vec<Resource<'_>>;

    /// Applies the policy's declared limits: only counters and quotas
    /// have any.
    fn declare(&mut self, _declared: &Declared) -> Result<(), Error> {
        Ok(())
    }
}

/// Who called, and the grant its method was let through with: put on the
/// request by the per-RPC layer.
#[derive(Clone)]
pub struct Caller {
    /// The authenticated principal.
    pub principal: Arc<str>,
    method: &'static str,
    grant: Option<Grant>,
}

/// The policy a call was let in under, and the rules that let it.
#[derive(Clone)]
struct Grant {
    policy: Arc<Policy>,
    candidates: Vec<usize>,
    access: Arc<Access>,
}

impl Caller {
    /// Checks the resources of `op` against the rules that let the call
    /// in, then narrows its limits to the declared ones.
    pub fn admit<G: Guarded>(&self, op: &mut G) -> Result<(), Error> {
        let Some(grant) = &self.grant else {
            return Ok(());
        };
        self.check(&op.resources())?;
        op.declare(&grant.policy.limits)
    }

    /// Checks `resources` against the rules that let the call in.
    pub fn check(&self, resources: &[Resource<'_>]) -> Result<(), Error> {
        let Some(grant) = &self.grant else {
            return Ok(());
        };
        grant
            .policy
            .grants(&grant.candidates, resources)
            .map_err(|refusal| grant.access.deny(self.method, &self.principal, &refusal))
    }
}

/// [`Caller::admit`] where there is a caller.
pub fn admit<G: Guarded>(caller: Option<&Caller>, op: &mut G) -> Result<(), Error> {
    caller.map_or(Ok(()), |caller| caller.admit(op))
}

/// [`Caller::check`] where there is a caller.
pub fn check(caller: Option<&Caller>, resources: &[Resource<'_>]) -> Result<(), Error> {
    caller.map_or(Ok(()), |caller| caller.check(resources))
}
