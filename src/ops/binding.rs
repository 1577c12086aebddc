//! One typed binding per script, and the one path every call takes.
//!
//! A binding is a request type that says which script it runs, where its
//! keys and arguments go (its [`Layout`], declared once and checked against
//! the script's header by the tests below, without Redis), how it builds
//! them, and how the script's reply reads as the outcome of exactly that
//! operation. [`Context::run`] does the rest for every binding alike: the
//! idempotency record, the deadline, and `replayed`.

use super::{
    Context, Replied,
    keyspace::Keyspace,
    types::{Id, Tag},
};
use crate::{
    deadline::Deadline,
    error::Error,
    redis::{Call, Reply, Script},
};

/// The positional KEYS and ARGV of a script, as its header documents them.
///
/// Each entry is a phrase of the header's line for that position, so that a
/// script and its binding cannot drift apart unnoticed. A writing script's
/// idempotency record (`KEYS[1]`), fingerprint and TTL (`ARGV[1]`,
/// `ARGV[2]`) come first and are not listed: `writes` says they are there.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Whether the script writes (and so takes the prelude's positions).
    pub writes: bool,
    /// The fixed keys after the idempotency record.
    pub keys: &'static [&'static str],
    /// Lists of keys after the fixed ones, one per item: each a range in
    /// the header (`KEYS[4 .. 3+N]`).
    pub key_lists: &'static [&'static str],
    /// The fixed arguments after the fingerprint and TTL, settings first.
    pub argv: &'static [&'static str],
    /// Lists of arguments after the fixed ones (`ARGV[5 .. 4+2N]`).
    pub argv_lists: &'static [&'static str],
}

impl Layout {
    /// A reading script's positions: its fixed keys and arguments.
    #[must_use]
    pub const fn read(keys: &'static [&'static str], argv: &'static [&'static str]) -> Self {
        Self {
            writes: false,
            keys,
            key_lists: &[],
            argv,
            argv_lists: &[],
        }
    }

    /// A writing script's positions after the prelude's: its fixed keys
    /// and arguments.
    #[must_use]
    pub const fn write(keys: &'static [&'static str], argv: &'static [&'static str]) -> Self {
        Self {
            writes: true,
            ..Self::read(keys, argv)
        }
    }

    /// The same, followed by lists of keys and of arguments.
    #[must_use]
    pub const fn lists(
        self,
        key_lists: &'static [&'static str],
        argv_lists: &'static [&'static str],
    ) -> Self {
        Self {
            key_lists,
            argv_lists,
            ..self
        }
    }

    /// Whether `call` has the keys and arguments this layout declares:
    /// exactly the fixed ones, or at least them when lists follow.
    fn admits(&self, call: &Call) -> bool {
        let (keys, argv) = call.counts();
        let fits = |got: usize, fixed: usize, lists: bool| {
            if lists { got >= fixed } else { got == fixed }
        };
        fits(keys, self.keys.len(), !self.key_lists.is_empty())
            && fits(argv, self.argv.len(), !self.argv_lists.is_empty())
    }
}

/// Where a writing call keeps its idempotency record.
#[derive(Clone, Debug)]
pub struct Record {
    /// The record's key, in the slot of the data it guards.
    pub key: String,
    /// Whether the caller sent a request id: without one the record is
    /// declared but never read or written.
    pub requested: bool,
}

impl Record {
    /// The record of a request for the data under `tag` (a store, a book,
    /// a counter, a sequence).
    #[must_use]
    pub fn tagged<T: Tag, R>(keys: &Keyspace, tag: &Id<T>, request_id: Option<&Id<R>>) -> Self {
        Self {
            key: keys.tagged_idempotency(tag, request_id),
            requested: request_id.is_some(),
        }
    }

    /// The record of a request for the data at `data_key`.
    #[must_use]
    pub fn of_key<R>(keys: &Keyspace, data_key: &str, request_id: Option<&Id<R>>) -> Self {
        Self {
            key: keys.idempotency(data_key, request_id),
            requested: request_id.is_some(),
        }
    }
}

/// A typed script binding.
pub trait Operation: Sync {
    /// The script it runs.
    const SCRIPT: Script;
    /// The script's KEYS and ARGV.
    const LAYOUT: Layout;
    /// What the script's reply means for this operation.
    type Outcome: Send;

    /// Refuses a request this deployment cannot run (keys in several
    /// cluster slots), before anything is sent.
    fn check(&self, _cx: &Context) -> Result<(), Error> {
        Ok(())
    }

    /// The idempotency record, for a writing script; reads have none.
    fn record(&self, _cx: &Context) -> Option<Record> {
        None
    }

    /// Appends the keys and arguments after the idempotency positions.
    fn build(&self, cx: &Context, call: Call) -> Call;

    /// Reads the reply; anything the header does not promise is
    /// [`Reply::unexpected`].
    fn decode(&self, reply: &Reply) -> Result<Self::Outcome, Error>;
}

impl Context {
    /// Runs `operation`'s script by `deadline`.
    pub async fn run<O: Operation>(
        &self,
        operation: &O,
        deadline: Deadline,
    ) -> Result<Replied<O::Outcome>, Error> {
        operation.check(self)?;
        let call = match operation.record(self) {
            Some(record) => Call::write(
                O::SCRIPT,
                record.key,
                record.requested,
                self.idempotency_ttl,
            ),
            None => Call::read(O::SCRIPT),
        };
        let call = operation.build(self, call);
        debug_assert_eq!(O::LAYOUT.writes, call.writes(), "{}", O::SCRIPT.name());
        debug_assert!(O::LAYOUT.admits(&call), "{}: {call:?}", O::SCRIPT.name());
        let reply = self.redis.eval(&call, deadline).await?;
        Ok(Replied {
            outcome: operation.decode(&reply)?,
            replayed: reply.replayed,
        })
    }
}

/// What a request asks the service to do: one binding's run, or several
/// (a cancellation reads the order before it cancels it).
pub trait Execute: Sync {
    /// What it did.
    type Outcome: Send;

    /// Carries it out by `deadline`.
    fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> impl Future<Output = Result<Replied<Self::Outcome>, Error>> + Send;
}

impl<O: Operation> Execute for O {
    type Outcome = O::Outcome;

    fn execute(
        &self,
        cx: &Context,
        deadline: Deadline,
    ) -> impl Future<Output = Result<Replied<O::Outcome>, Error>> + Send {
        cx.run(self, deadline)
    }
}

/// Every script's layout, by script: what the header test checks.
#[cfg(test)]
pub(super) fn layouts() -> Vec<(Script, Layout)> {
    use super::{counters, inventory, leases, ledger, records, sequences, streams, sweep, values};
    fn of<O: Operation>() -> (Script, Layout) {
        (O::SCRIPT, O::LAYOUT)
    }
    vec![
        of::<counters::Adjust>(),
        of::<counters::Consume>(),
        of::<counters::GetCounter>(),
        of::<counters::GetQuota>(),
        of::<inventory::CancelLoaded>(),
        of::<inventory::CommitLoaded>(),
        of::<inventory::ExpireHolds>(),
        of::<inventory::GetHold>(),
        of::<inventory::Holding<'static>>(),
        of::<inventory::ListHolds>(),
        of::<inventory::ReleaseLoaded>(),
        of::<inventory::GetStock>(),
        of::<inventory::OrderItems>(),
        of::<inventory::PlaceOrder>(),
        of::<inventory::Deduct>(),
        of::<inventory::Restock>(),
        of::<inventory::SetStock>(),
        of::<ledger::GetBalances>(),
        of::<ledger::ExpireFunds>(),
        of::<ledger::GetFundsHold>(),
        of::<ledger::Holding<'static>>(),
        of::<ledger::PostLoaded>(),
        of::<ledger::VoidLoaded>(),
        of::<ledger::Credit>(),
        of::<ledger::Debit>(),
        of::<ledger::Transfer>(),
        of::<sequences::GetSequence>(),
        of::<sequences::NextIds>(),
        of::<sequences::ReturnIds>(),
        of::<streams::ReadPage>(),
        of::<streams::ReadAfter>(),
        of::<sweep::DueAdd>(),
        of::<sweep::DueTake>(),
        of::<leases::GetLease>(),
        of::<leases::Release>(),
        of::<leases::Renew>(),
        of::<leases::TryAcquire>(),
        of::<values::CompareAndSwap>(),
        of::<values::ConditionalUpdate>(),
        of::<values::GetValue>(),
        of::<records::DeleteRecord>(),
        of::<records::GetRecord>(),
        of::<records::PutRecord>(),
        of::<records::SetJournal>(),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A header's positional lines: `KEYS[2]  the value …` as
    /// (`KEYS`, `2`, `the value …`), `ARGV[1], ARGV[2] …` as two, and
    /// `KEYS[4 .. 3+N] …` as (`KEYS`, `4 .. 3+N`, …).
    fn positions(source: &str) -> Vec<(String, String, String)> {
        let header = source
            .split_once("--[[")
            .and_then(|(_, rest)| rest.split_once("]]"))
            .map_or("", |(header, _)| header);
        let mut found = Vec::new();
        for line in header.lines() {
            let mut rest = line.trim_start();
            let mut names = Vec::new();
            while let Some(array) = ["KEYS[", "ARGV["].into_iter().find(|a| rest.starts_with(a)) {
                let Some((index, after)) = rest[array.len()..].split_once(']') else {
                    break;
                };
                names.push((
                    array.trim_end_matches('[').to_owned(),
                    index.trim().to_owned(),
                ));
                rest = after.trim_start_matches(',').trim_start();
            }
            for (array, index) in names {
                found.push((array, index, rest.to_owned()));
            }
        }
        found
    }

    /// Every script has a binding, and each binding's layout is the one
    /// its script's header documents: same positions, in order, each
    /// line holding the binding's phrase for it.
    #[test]
    fn layouts_match_the_script_headers() {
        let layouts: BTreeMap<Script, Vec<Layout>> =
            layouts()
                .into_iter()
                .fold(BTreeMap::new(), |mut all, (script, layout)| {
                    all.entry(script).or_default().push(layout);
                    all
                });
        for script in Script::ALL {
            let bindings = layouts
                .get(script)
                .unwrap_or_else(|| panic!("{}: no binding", script.name()));
            let header = positions(script.source());
            for layout in bindings {
                let mut keys: Vec<(&str, String, &str)> = Vec::new();
                let mut argv: Vec<(&str, String, &str)> = Vec::new();
                if layout.writes {
                    keys.push(("KEYS", "1".into(), "idempotency"));
                    argv.push(("ARGV", "1".into(), "fingerprint"));
                    argv.push(("ARGV", "2".into(), ""));
                }
                for phrase in layout.keys {
                    keys.push(("KEYS", (keys.len() + 1).to_string(), phrase));
                }
                for range in layout.key_lists {
                    keys.push(("KEYS", (*range).to_owned(), ""));
                }
                for phrase in layout.argv {
                    argv.push(("ARGV", (argv.len() + 1).to_string(), phrase));
                }
                for range in layout.argv_lists {
                    argv.push(("ARGV", (*range).to_owned(), ""));
                }
                let expected = [keys, argv].concat();
                let got: Vec<(&str, &str)> = header
                    .iter()
                    .map(|(array, index, _)| (array.as_str(), index.as_str()))
                    .collect();
                let want: Vec<(&str, &str)> =
                    expected.iter().map(|(a, i, _)| (*a, i.as_str())).collect();
                assert_eq!(got, want, "{}: positions", script.name());
                for ((_, _, line), (array, index, phrase)) in header.iter().zip(&expected) {
                    assert!(
                        line.to_lowercase().contains(&phrase.to_lowercase()),
                        "{}: {array}[{index}] is {line:?}, the binding says {phrase:?}",
                        script.name()
                    );
                }
            }
        }
    }

    /// The header reader finds what it must, so the test above cannot pass
    /// on a header it failed to read.
    #[test]
    fn header_positions_are_read() {
        let source = "#!lua\n--[[ x\n\nKEYS[1]  a\nKEYS[2 .. 1+N] b\nARGV[1], ARGV[2] c\n]]\n";
        assert_eq!(
            positions(source),
            [
                ("KEYS".into(), "1".into(), "a".into()),
                ("KEYS".into(), "2 .. 1+N".into(), "b".into()),
                ("ARGV".into(), "1".into(), "c".into()),
                ("ARGV".into(), "2".into(), "c".into()),
            ]
        );
    }
}
