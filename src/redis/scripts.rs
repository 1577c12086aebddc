//! The Lua scripts, embedded at compile time, and what each Redis node has
//! of them.
//!
//! Every script in `lua/` is one atomic operation. Its source as sent to
//! Redis is its shebang line, then `lua/lib/prelude.lua` (the idempotency
//! helpers every writing script shares), then the rest of the file. The SHA1
//! of that source is computed here, compared with what `SCRIPT LOAD`
//! answers, and used for `EVALSHA`.

use std::{
    collections::BTreeMap,
    sync::{LazyLock, Mutex, PoisonError},
    time::SystemTime,
};

macro_rules! scripts {
    ($($(#[$doc:meta])* $variant:ident = $file:literal,)*) => {
        /// A Lua script of `lua/`, by the operation it carries out.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Script {
            $($(#[$doc])* $variant,)*
        }

        impl Script {
            /// Every script, in declaration order (which is also their index).
            pub const ALL: &[Script] = &[$(Script::$variant,)*];

            /// The script's file name in `lua/`, without `.lua`.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Script::$variant => $file,)*
                }
            }

            const fn file(self) -> &'static str {
                match self {
                    $(Script::$variant => include_str!(concat!("../../lua/", $file, ".lua")),)*
                }
            }
        }
    };
}

scripts! {
    /// Bounded counter adjustment.
    CountersAdjust = "counters_adjust",
    /// Daily quota spending.
    CountersConsumeQuota = "counters_consume_quota",
    /// Counter read.
    CountersGet = "counters_get",
    /// Daily quota read.
    CountersGetQuota = "counters_get_quota",
    /// Order cancellation.
    InventoryCancelOrder = "inventory_cancel_order",
    /// Hold commit.
    InventoryCommitHold = "inventory_commit_hold",
    /// A store's due holds ended (the sweep).
    InventoryExpireHolds = "inventory_expire_holds",
    /// Hold read.
    InventoryGetHold = "inventory_get_hold",
    /// Stock hold.
    InventoryHoldStock = "inventory_hold_stock",
    /// A page of a store's active holds.
    InventoryListHolds = "inventory_list_holds",
    /// Stock levels read.
    InventoryGetStock = "inventory_get_stock",
    /// The products an order took.
    InventoryOrderItems = "inventory_order_items",
    /// Deduct and PlaceOrder.
    InventoryPlaceOrder = "inventory_place_order",
    /// Hold release.
    InventoryReleaseHold = "inventory_release_hold",
    /// Stock addition.
    InventoryRestock = "inventory_restock",
    /// Absolute stock levels.
    InventorySetStock = "inventory_set_stock",
    /// The sweep's index: a hold noted.
    HoldsDueAdd = "holds_due_add",
    /// The sweep's index: due holds taken out.
    HoldsDueTake = "holds_due_take",
    /// A book's due holds ended (the sweep).
    LedgerExpireHolds = "ledger_expire_holds",
    /// Balances read.
    LedgerGetBalances = "ledger_get_balances",
    /// Pending transfer read.
    LedgerGetHold = "ledger_get_hold",
    /// Pending transfer.
    LedgerHoldFunds = "ledger_hold_funds",
    /// Credit and Debit.
    LedgerPost = "ledger_post",
    /// Pending transfer posted.
    LedgerPostHold = "ledger_post_hold",
    /// Transfer.
    LedgerTransfer = "ledger_transfer",
    /// Pending transfer voided.
    LedgerVoidHold = "ledger_void_hold",
    /// Sequence state read.
    SequencesGet = "sequences_get",
    /// Id issuing.
    SequencesNext = "sequences_next",
    /// Id returning.
    SequencesReturn = "sequences_return",
    /// A page of a stream, newest first.
    StreamsPage = "streams_page",
    /// A stream's entries after a position, oldest first (the watches).
    StreamsAfter = "streams_after",
    /// Compare-and-swap of one value.
    ValuesCas = "values_cas",
    /// N conditions, then M writes.
    ValuesCondUpdate = "values_cond_update",
    /// Read one value.
    ValuesGet = "values_get",
    /// Versioned delete.
    RecordsDelete = "records_delete",
    /// Versioned read.
    RecordsGet = "records_get",
    /// Versioned write.
    RecordsPut = "records_put",
    /// A tag's change journal turned on or off.
    RecordsJournal = "records_journal",
    /// A lease granted, or who holds it.
    LeasesAcquire = "leases_acquire",
    /// A lease read.
    LeasesGet = "leases_get",
    /// A grant ended.
    LeasesRelease = "leases_release",
    /// A grant extended.
    LeasesRenew = "leases_renew",
}

const PRELUDE: &str = include_str!("../../lua/lib/prelude.lua");

/// The libraries a script may ask for by a line of its own, `--@<name>`,
/// which is replaced by the library (after the prelude, so it may use it).
const LIBRARIES: &[(&str, &str)] = &[
    ("--@holds", include_str!("../../lua/lib/holds.lua")),
    ("--@funds", include_str!("../../lua/lib/funds.lua")),
    ("--@leases", include_str!("../../lua/lib/leases.lua")),
];

struct Compiled {
    source: String,
    sha: String,
}

static COMPILED: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    Script::ALL
        .iter()
        .map(|script| {
            let source = compose(script.file());
            let sha = sha1_smol::Sha1::from(&source).digest().to_string();
            Compiled { source, sha }
        })
        .collect()
});

/// Inserts the prelude and the stream fields' table after the shebang
/// line, which Redis requires first, and the libraries the script asks for
/// where it asks for them.
fn compose(file: &str) -> String {
    let (shebang, body) = file.split_once('\n').unwrap_or((file, ""));
    let body = body
        .lines()
        .map(|line| {
            LIBRARIES
                .iter()
                .find(|(mark, _)| line.trim_end() == *mark)
                .map_or(line, |(_, library)| library.trim_end())
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("{shebang}\n{PRELUDE}\n{}\n{body}\n", super::field::LUA)
}

impl Script {
    fn compiled(self) -> &'static Compiled {
        // `ALL` lists the variants in declaration order, so the
        // discriminant indexes `COMPILED`.
        &COMPILED[self as usize]
    }

    /// The source sent to Redis by `SCRIPT LOAD`.
    #[must_use]
    pub fn source(self) -> &'static str {
        &self.compiled().source
    }

    /// SHA1 of `source`, lowercase hex: what `EVALSHA` is called with.
    #[must_use]
    pub fn sha(self) -> &'static str {
        &self.compiled().sha
    }
}

/// What the service knows of one script on one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeScript {
    /// Whether the node had it at the last check or load.
    pub loaded: bool,
    /// When it was last loaded on the node by the service.
    pub last_loaded: Option<SystemTime>,
    /// Loads after the first one.
    pub reloads: u64,
    /// When the node was last checked.
    pub last_checked: Option<SystemTime>,
}

/// Per node, per script: loaded or not, when, and how often reloaded.
#[derive(Debug, Default)]
pub struct ScriptStates {
    nodes: Mutex<BTreeMap<String, Vec<NodeScript>>>,
}

impl ScriptStates {
    /// Runs `f` on what is known of `node`, if it is tracked. Only checks
    /// (and the start, standalone) add nodes: a call names its node from a
    /// slot map that may be a moment old, and must not bring back a node
    /// that has left.
    fn with_node<T>(&self, node: &str, f: impl FnOnce(&mut Vec<NodeScript>) -> T) -> Option<T> {
        let mut nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        nodes.get_mut(node).map(f)
    }

    /// Records that `script` was just loaded on `node`; returns whether it
    /// was a reload.
    pub fn loaded(&self, node: &str, script: Script) -> bool {
        self.with_node(node, |states| {
            let state = &mut states[script as usize];
            let reload = state.last_loaded.is_some();
            if reload {
                state.reloads += 1;
            }
            state.loaded = true;
            state.last_loaded = Some(SystemTime::now());
            reload
        })
        .unwrap_or(false)
    }

    /// Starts tracking `node`, knowing nothing of it yet.
    pub fn add(&self, node: &str) {
        self.add_and(node, |_| ());
    }

    fn add_and(&self, node: &str, f: impl FnOnce(&mut Vec<NodeScript>)) {
        let mut nodes = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        f(nodes
            .entry(node.to_owned())
            .or_insert_with(|| vec![NodeScript::default(); Script::ALL.len()]));
    }

    /// Records the answer of `SCRIPT EXISTS` for every script on `node`.
    pub fn checked(&self, node: &str, exists: &[bool]) {
        self.add_and(node, |states| {
            let now = SystemTime::now();
            for (state, &loaded) in states.iter_mut().zip(exists) {
                state.loaded = loaded;
                state.last_checked = Some(now);
            }
        });
    }

    /// Records that `script` was missing on `node` (a NOSCRIPT reply).
    pub fn missing(&self, node: &str, script: Script) {
        self.with_node(node, |states| states[script as usize].loaded = false);
    }

    /// Forgets nodes that are no longer part of the deployment.
    pub fn retain(&self, nodes: &[String]) {
        let mut all = self.nodes.lock().unwrap_or_else(PoisonError::into_inner);
        all.retain(|node, _| nodes.contains(node));
    }

    /// Every node's state of every script, by node.
    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<String, Vec<NodeScript>> {
        self.nodes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.lua` file at the top of `lua/` is registered, so none can be
    /// forgotten, and the discriminant order matches `ALL`.
    #[test]
    fn every_lua_file_is_a_script() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/lua");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.strip_suffix(".lua").map(str::to_owned)
            })
            .collect();
        files.sort();
        let mut names: Vec<&str> = Script::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        assert_eq!(files, names);
        for (i, script) in Script::ALL.iter().enumerate() {
            assert_eq!(*script as usize, i);
        }
    }

    /// Every script starts with a shebang and documents its keys, arguments
    /// and reply in its header.
    #[test]
    fn every_script_has_a_shebang_and_a_header() {
        for script in Script::ALL {
            let file = script.file();
            assert!(file.starts_with("#!lua"), "{}", script.name());
            for part in ["KEYS[1]", "Reply"] {
                assert!(file.contains(part), "{} lacks {part}", script.name());
            }
            assert!(script.source().starts_with("#!lua"));
            assert_eq!(script.sha().len(), 40);
        }
    }
}
