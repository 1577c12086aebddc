//! A linearizability checker (Wing & Gong's search, with Lowe's memo of
//! visited configurations), for per-key histories of invocations and
//! responses.
//!
//! An operation whose response is unknown (the call timed out or lost its
//! connection) may take effect at any point after its invocation, or never:
//! it never bounds the search, and it need not be linearized.

use std::{collections::HashSet, hash::Hash};

/// A sequential specification: how an operation moves the state, if it is
/// legal there at all.
pub trait Model {
    /// The object's state.
    type State: Clone + Eq + Hash;
    /// An operation with its observed result.
    type Op;
    /// The state after `op` from `state`, or `None` if `op`'s result cannot
    /// be observed from `state`.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;
}

/// One operation of a history: when it was invoked and, if known, when its
/// response arrived (any monotonic clock).
#[derive(Clone, Debug)]
pub struct Entry<O> {
    /// When the call was made (ns since the history began).
    pub call: u128,
    /// When it returned; `None`: its outcome is unknown.
    pub ret: Option<u128>,
    /// The operation and what it answered.
    pub op: O,
}

/// Whether `history` is linearizable from `init` under `model`.
pub fn linearizable<M: Model>(model: &M, init: &M::State, history: &[Entry<M::Op>]) -> bool {
    let mut order: Vec<usize> = (0..history.len()).collect();
    order.sort_by_key(|&i| history[i].call);
    let words = history.len().div_ceil(64);
    let mut search = Search {
        model,
        history,
        order,
        seen: HashSet::new(),
        done: vec![0_u64; words],
    };
    search.run(init)
}

struct Search<'a, M: Model> {
    model: &'a M,
    history: &'a [Entry<M::Op>],
    /// Operations by invocation time.
    order: Vec<usize>,
    /// Configurations (linearized set, state) already found to fail.
    seen: HashSet<(Vec<u64>, M::State)>,
    /// The operations linearized so far, as a bitset.
    done: Vec<u64>,
}

impl<M: Model> Search<'_, M> {
    fn is_done(&self, i: usize) -> bool {
        self.done[i / 64] & (1 << (i % 64)) != 0
    }

    fn flip(&mut self, i: usize) {
        self.done[i / 64] ^= 1 << (i % 64);
    }

    fn run(&mut self, state: &M::State) -> bool {
        // Every operation with a known response linearized: a witness.
        let pending_known =
            (0..self.history.len()).any(|i| !self.is_done(i) && self.history[i].ret.is_some());
        if !pending_known {
            return true;
        }
        if !self.seen.insert((self.done.clone(), state.clone())) {
            return false;
        }
        // The next operation must have been invoked before the earliest
        // response among those not yet linearized.
        let bound = (0..self.history.len())
            .filter(|&i| !self.is_done(i))
            .filter_map(|i| self.history[i].ret)
            .min()
            .unwrap_or(u128::MAX);
        for k in 0..self.order.len() {
            let i = self.order[k];
            if self.history[i].call > bound {
                break;
            }
            if self.is_done(i) {
                continue;
            }
            if let Some(next) = self.model.step(state, &self.history[i].op) {
                self.flip(i);
                if self.run(&next) {
                    return true;
                }
                self.flip(i);
            }
        }
        false
    }
}

/// A register of bytes (a ValuesService key) under reads and
/// compare-and-swaps.
pub struct Register;

/// A register operation and what it returned.
#[derive(Clone, Debug)]
pub enum RegisterOp {
    /// GetValue returned this (`None`: not found).
    Read(Option<Vec<u8>>),
    /// CompareAndSwap and its result.
    Cas {
        /// The value expected (`None`: absent).
        expected: Option<Vec<u8>>,
        /// The value to store (`None`: delete).
        new: Option<Vec<u8>>,
        /// What the service answered.
        result: CasResult,
    },
}

/// What a compare-and-swap answered.
#[derive(Clone, Debug)]
pub enum CasResult {
    /// The value was swapped.
    Swapped,
    /// Another value (`None`: absent) was stored.
    Conflict(Option<Vec<u8>>),
    /// No answer (timed out, connection lost): it may have happened.
    Unknown,
}

impl Model for Register {
    type State = Option<Vec<u8>>;
    type Op = RegisterOp;

    fn step(&self, state: &Self::State, op: &RegisterOp) -> Option<Self::State> {
        match op {
            RegisterOp::Read(seen) => (seen == state).then(|| state.clone()),
            RegisterOp::Cas {
                expected,
                new,
                result,
            } => match result {
                CasResult::Swapped | CasResult::Unknown => (state == expected).then(|| new.clone()),
                CasResult::Conflict(current) => {
                    (current == state && state != expected).then(|| state.clone())
                }
            },
        }
    }
}

/// A versioned record (a RecordsService key): (version, value).
pub struct Record;

/// A record operation and what it returned.
#[derive(Clone, Debug)]
pub enum RecordOp {
    /// GetRecord returned this version and value.
    Read(u64, Vec<u8>),
    /// PutRecord and its result.
    Put {
        /// The version expected.
        expected: u64,
        /// The value to store.
        value: Vec<u8>,
        /// What the service answered.
        result: PutResult,
    },
}

/// What a PutRecord answered.
#[derive(Clone, Debug)]
pub enum PutResult {
    /// Written at this version.
    Written(u64),
    /// Another version (and value) was stored.
    Mismatch(u64, Option<Vec<u8>>),
    /// No answer: it may or may not have been written.
    Unknown,
}

impl Model for Record {
    type State = (u64, Vec<u8>);
    type Op = RecordOp;

    fn step(&self, state: &Self::State, op: &RecordOp) -> Option<Self::State> {
        let (version, value) = state;
        match op {
            RecordOp::Read(v, bytes) => (v == version && bytes == value).then(|| state.clone()),
            RecordOp::Put {
                expected,
                value: new,
                result,
            } => match result {
                PutResult::Written(v) => {
                    (expected == version && *v == version + 1).then(|| (*v, new.clone()))
                }
                PutResult::Unknown => (expected == version).then(|| (version + 1, new.clone())),
                PutResult::Mismatch(actual, current) => {
                    let stored = (*version > 0).then(|| value.clone());
                    (actual == version && *current == stored && expected != version)
                        .then(|| state.clone())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A present register value (the register's values are options).
    #[allow(clippy::unnecessary_wraps)]
    fn v(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    fn e<O>(call: u128, ret: Option<u128>, op: O) -> Entry<O> {
        Entry { call, ret, op }
    }

    fn cas(expected: Option<Vec<u8>>, new: &str, result: CasResult) -> RegisterOp {
        RegisterOp::Cas {
            expected,
            new: v(new),
            result,
        }
    }

    /// A read that starts after a write completed must see it.
    #[test]
    fn rejects_a_stale_read() {
        let history = [
            e(0, Some(10), cas(None, "a", CasResult::Swapped)),
            e(20, Some(30), RegisterOp::Read(None)),
        ];
        assert!(!linearizable(&Register, &None, &history));
    }

    /// Overlapping operations may be ordered either way.
    #[test]
    fn accepts_overlapping_operations_in_either_order() {
        let history = [
            e(0, Some(30), cas(None, "a", CasResult::Swapped)),
            e(10, Some(20), RegisterOp::Read(None)),
            e(15, Some(40), RegisterOp::Read(v("a"))),
        ];
        assert!(linearizable(&Register, &None, &history));
    }

    /// Two swaps from the same expected value cannot both succeed.
    #[test]
    fn rejects_two_winners_of_one_race() {
        let history = [
            e(0, Some(10), cas(None, "a", CasResult::Swapped)),
            e(0, Some(10), cas(None, "b", CasResult::Swapped)),
        ];
        assert!(!linearizable(&Register, &None, &history));
    }

    /// A conflict must report a value the register held then.
    #[test]
    fn rejects_a_conflict_with_a_value_never_held() {
        let history = [e(0, Some(10), cas(None, "a", CasResult::Conflict(v("z"))))];
        assert!(!linearizable(&Register, &None, &history));
    }

    /// An unknown operation may have happened, late, or not at all.
    #[test]
    fn unknown_operations_may_or_may_not_happen() {
        let applied = [
            e(0, None, cas(None, "a", CasResult::Unknown)),
            e(50, Some(60), RegisterOp::Read(v("a"))),
        ];
        assert!(linearizable(&Register, &None, &applied));
        let not_applied = [
            e(0, None, cas(None, "a", CasResult::Unknown)),
            e(50, Some(60), RegisterOp::Read(None)),
        ];
        assert!(linearizable(&Register, &None, &not_applied));
        // But it cannot undo itself: seen, then gone.
        let flicker = [
            e(0, None, cas(None, "a", CasResult::Unknown)),
            e(50, Some(60), RegisterOp::Read(v("a"))),
            e(70, Some(80), RegisterOp::Read(None)),
        ];
        assert!(!linearizable(&Register, &None, &flicker));
    }

    /// Versions must rise one at a time, and a read must see the last write.
    #[test]
    fn record_histories() {
        let put = |expected, value: &str, result| RecordOp::Put {
            expected,
            value: value.as_bytes().to_vec(),
            result,
        };
        let good = [
            e(0, Some(10), put(0, "a", PutResult::Written(1))),
            e(20, Some(30), put(0, "b", PutResult::Mismatch(1, v("a")))),
            e(40, Some(50), RecordOp::Read(1, b"a".to_vec())),
        ];
        assert!(linearizable(&Record, &(0, Vec::new()), &good));
        let lost_update = [
            e(0, Some(10), put(0, "a", PutResult::Written(1))),
            e(20, Some(30), put(0, "b", PutResult::Written(1))),
        ];
        assert!(!linearizable(&Record, &(0, Vec::new()), &lost_update));
    }
}
