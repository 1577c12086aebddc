//! Watches: a journal (a Redis Stream the scripts append to in the same
//! atomic step as each change) streamed to a caller in order, each entry
//! once, resumable after any id it received.
//!
//! How the work is split, so that 1,000 watchers of one store cost Redis
//! what one does:
//! - one **reader** per stream ([`hub`]), shared by every watch of it: it
//!   reads what follows its position with the `streams_after` script on
//!   the shared connections (so Redis restarts, failovers and NOSCRIPT are
//!   handled as for any call), and waits for more on a **doorbell**, a
//!   connection of its own blocked in `XREAD` (a blocking read must never
//!   hold the shared, pipelined connections). It hands each batch to its
//!   watchers through a bounded broadcast channel.
//! - one **session** per watch ([`session`]): it catches up from the
//!   caller's position with `streams_after` itself, then joins the reader
//!   and keeps to what follows what it sent. A session whose caller reads
//!   so slowly that the reader's channel passes it by is ended (ABORTED,
//!   WATCH_BEHIND): it resumes from the last id it received, and no
//!   watcher can make the service hold more than the channel's bound.
//!
//! Where trimming (a journal's retention) removed entries after a
//! position before they were streamed, the session sends a `Trimmed`
//! event first: `streams_after` reads a stream's entries and what it no
//! longer keeps in one atomic step, so the loss is told of that very read.

mod hub;
mod metrics;
mod session;

use std::{sync::Arc, time::Duration};

use tokio::sync::{Semaphore, mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use metrics::WatchMetrics;

use crate::{
    deadline::Deadline,
    error::Error,
    ops::{
        Context, Movement, RecordChange,
        streams::{Entry, StreamId},
        types::{
            Id,
            kind::{Account, Book, Product, RecordTag, Store},
        },
    },
};
use hub::Hub;

/// Entries read per `streams_after` call.
const BATCH: usize = 256;

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// After this id (exclusive).
    After(StreamId),
    /// After the journal's newest entry now.
    Now,
    /// From the oldest entry the journal keeps, with no report of what it
    /// no longer keeps.
    Oldest,
}

/// What a watch streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<E> {
    /// The next entry.
    Item(E),
    /// Entries after the watch's position and before `oldest` were
    /// trimmed before they were streamed.
    Trimmed {
        /// The oldest entry kept, if any.
        oldest: Option<StreamId>,
        /// How many the journal has trimmed in all.
        total: u64,
    },
}

/// A watch's events, in order; it ends with an error the caller resumes
/// after, or when the caller drops it.
pub type Events<E> = mpsc::Receiver<Result<Event<E>, Error>>;

/// A kind of journal: how its entries read.
pub trait Journal: Send + Sync + 'static {
    /// An entry, as the list RPCs return it.
    type Item: Clone + Send + Sync + 'static;

    /// The item an entry records, `id` its id.
    fn read(entry: &Entry, id: String) -> Result<Self::Item, Error>;
}

/// A stream entry read as `J`'s item, with its id.
fn read_entry<J: Journal>(entry: &Entry) -> Result<(StreamId, J::Item), Error> {
    let id = StreamId::parse(&entry.id)
        .ok_or_else(|| Error::internal("watch", format!("bad stream id {:?}", entry.id)))?;
    Ok((id, J::read(entry, entry.id.clone())?))
}

/// A store's movements.
pub struct Movements;

impl Journal for Movements {
    type Item = Movement;

    fn read(entry: &Entry, id: String) -> Result<Movement, Error> {
        Movement::read(entry, id)
    }
}

/// A book's entries.
pub struct Entries;

impl Journal for Entries {
    type Item = crate::ops::Entry;

    fn read(entry: &Entry, id: String) -> Result<crate::ops::Entry, Error> {
        crate::ops::Entry::read(entry, id)
    }
}

/// A tag's record changes.
pub struct Changes;

impl Journal for Changes {
    type Item = RecordChange;

    fn read(entry: &Entry, id: String) -> Result<RecordChange, Error> {
        RecordChange::read(entry, id)
    }
}

/// Every watch of the service: the readers, the bound on open watches,
/// and shutdown. Cheap to clone.
#[derive(Clone)]
pub struct Watches {
    shared: Arc<Shared>,
    movements: Arc<Hub<Movements>>,
    entries: Arc<Hub<Entries>>,
    changes: Arc<Hub<Changes>>,
}

/// What sessions and readers share.
pub(crate) struct Shared {
    pub(crate) cx: Context,
    /// Open watches; at most `--max-watches`.
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) max: usize,
    /// Cancelled when the service begins to shut down.
    pub(crate) stopping: CancellationToken,
    /// Every reader and session, joined by [`Watches::join`].
    pub(crate) tasks: TaskTracker,
    pub(crate) metrics: Arc<WatchMetrics>,
    /// How long a doorbell blocks before the reader looks around (whether
    /// anyone still watches, whether the service is stopping).
    pub(crate) block: Duration,
}

impl Watches {
    /// Watches over `cx`, at most `max` at once, all ended when `stopping`.
    #[must_use]
    pub fn new(cx: Context, max: usize, stopping: CancellationToken) -> Self {
        let shared = Arc::new(Shared {
            cx,
            permits: Arc::new(Semaphore::new(max)),
            max,
            stopping,
            tasks: TaskTracker::new(),
            metrics: Arc::new(WatchMetrics::default()),
            block: Duration::from_secs(1),
        });
        Self {
            movements: Arc::new(Hub::new(Arc::clone(&shared))),
            entries: Arc::new(Hub::new(Arc::clone(&shared))),
            changes: Arc::new(Hub::new(Arc::clone(&shared))),
            shared,
        }
    }

    /// Waits, for at most `patience`, until every reader and session has
    /// ended (they end once shutdown begins): none outlives the service.
    pub async fn join(&self, patience: Duration) {
        self.shared.tasks.close();
        if tokio::time::timeout(patience, self.shared.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(?patience, "watches still ending; leaving them");
        }
    }

    /// The watches' metrics.
    #[must_use]
    pub fn metrics(&self) -> Arc<WatchMetrics> {
        Arc::clone(&self.shared.metrics)
    }

    /// A store's movements, or one product's; each watch from `start`,
    /// until `until` if its caller set a deadline.
    pub async fn movements(
        &self,
        store: &Id<Store>,
        product: Option<Id<Product>>,
        start: Start,
        until: Option<Deadline>,
    ) -> Result<Events<Movement>, Error> {
        let stream = self.shared.cx.keys.movements(store);
        let keep = move |m: &Movement| product.as_ref().is_none_or(|p| m.product == p.as_str());
        session::open(&self.movements, stream, start, until, false, keep).await
    }

    /// A book's entries, or those touching one account.
    pub async fn entries(
        &self,
        book: &Id<Book>,
        account: Option<Id<Account>>,
        start: Start,
        until: Option<Deadline>,
    ) -> Result<Events<crate::ops::Entry>, Error> {
        let stream = self.shared.cx.keys.entries(book);
        let keep = move |e: &crate::ops::Entry| {
            account
                .as_ref()
                .is_none_or(|a| e.from == a.as_str() || e.to == a.as_str())
        };
        session::open(&self.entries, stream, start, until, false, keep).await
    }

    /// The changes of a tag's records; its journal must be on.
    pub async fn changes(
        &self,
        tag: &Id<RecordTag>,
        start: Start,
        until: Option<Deadline>,
    ) -> Result<Events<RecordChange>, Error> {
        let stream = self.shared.cx.keys.journal(tag);
        session::open(
            &self.changes,
            stream,
            start,
            until,
            true,
            |_: &RecordChange| true,
        )
        .await
        .map_err(|error| match error {
            Error::JournalOff(_) => Error::JournalOff(tag.to_string()),
            other => other,
        })
    }
}
