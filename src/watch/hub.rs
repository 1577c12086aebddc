//! The readers: one per watched stream, shared by all its sessions.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::broadcast;

use super::{BATCH, Journal, Shared};
use crate::{
    deadline::Deadline,
    ops::{After, Following, ReadAfter, StreamId},
};

/// Batches a reader holds for its slowest session: one that falls further
/// behind is ended (WATCH_BEHIND).
pub(super) const CAPACITY: usize = 128;

/// The longest pause between two tries when Redis is away.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How long one read may take.
pub(super) const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What a reader found after its previous position, in order.
pub(super) struct Batch<T> {
    /// Entries were trimmed before the reader read them: the oldest kept,
    /// and how many the stream has trimmed in all.
    pub trimmed: Option<(Option<StreamId>, u64)>,
    /// The entries, by id.
    pub items: Vec<(StreamId, T)>,
    /// An entry that did not read (a bug): sessions end with INTERNAL.
    pub failed: Option<String>,
}

type Sender<T> = broadcast::Sender<Arc<Batch<T>>>;

/// Whether a reader's last try at Redis failed (it is away: the reader
/// waits and tries again). Its sessions read it when their caller's
/// deadline passes, to say which of the two ended the watch.
pub(super) type Away = Arc<AtomicBool>;

/// A running reader, as its sessions join it.
struct Reader<T> {
    sender: Sender<T>,
    away: Away,
}

/// The readers of one kind of journal, by stream key.
pub(crate) struct Hub<J: Journal> {
    pub(super) shared: Arc<Shared>,
    readers: Mutex<HashMap<String, Reader<J::Item>>>,
}

impl<J: Journal> Hub<J> {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            readers: Mutex::default(),
        }
    }

    /// Joins the reader of `stream`, started at `position` if there is
    /// none: what it reads from now on (what it read before is the
    /// session's to read itself), and whether it is away.
    pub(super) fn subscribe(
        self: &Arc<Self>,
        stream: &str,
        position: StreamId,
    ) -> (broadcast::Receiver<Arc<Batch<J::Item>>>, Away) {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(reader) = readers.get(stream) {
            return (reader.sender.subscribe(), Arc::clone(&reader.away));
        }
        let (sender, receiver) = broadcast::channel(CAPACITY);
        let away = Away::default();
        let reader = Reader {
            sender: sender.clone(),
            away: Arc::clone(&away),
        };
        readers.insert(stream.to_owned(), reader);
        self.shared.tasks.spawn(Arc::clone(self).read(
            stream.to_owned(),
            sender,
            Arc::clone(&away),
            position,
        ));
        (receiver, away)
    }

    /// Ends the reader of `stream` if no session is left; under the lock
    /// [`Hub::subscribe`] takes, so none joins a reader that is leaving.
    fn retire(&self, stream: &str, sender: &Sender<J::Item>) -> bool {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if sender.receiver_count() > 0 {
            return false;
        }
        if readers
            .get(stream)
            .is_some_and(|ours| ours.sender.same_channel(sender))
        {
            readers.remove(stream);
        }
        true
    }

    /// The reader: reads what follows its position, hands it on, waits on
    /// the doorbell; until no session is left or the service stops. It is
    /// `away` from a failed read or doorbell to the next read answered.
    async fn read(
        self: Arc<Self>,
        stream: String,
        sender: Sender<J::Item>,
        away: Away,
        mut position: StreamId,
    ) {
        let shared = Arc::clone(&self.shared);
        shared.metrics.readers.inc();
        let mut doorbell = shared.cx.redis.doorbell(stream.clone());
        let mut backoff = Backoff::default();
        loop {
            if shared.stopping.is_cancelled() {
                break;
            }
            let read = ReadAfter {
                stream: stream.clone(),
                after: After::Id(position),
                count: BATCH,
            };
            match shared.cx.run(&read, Deadline::after(READ_TIMEOUT)).await {
                Ok(replied) => {
                    backoff.reset();
                    away.store(false, Ordering::Relaxed);
                    let full = replied.outcome.entries.len() == BATCH;
                    let batch = batch::<J>(&replied.outcome, &mut position);
                    if batch.trimmed.is_some() || !batch.items.is_empty() || batch.failed.is_some()
                    {
                        // No session left is no error: retire says so below.
                        let _ = sender.send(Arc::new(batch));
                    }
                    if full {
                        continue;
                    }
                }
                Err(error) => {
                    away.store(true, Ordering::Relaxed);
                    tracing::debug!(%error, stream, "watch reader: read failed; trying again");
                    if backoff.wait(&shared).await {
                        break;
                    }
                    continue;
                }
            }
            if self.retire(&stream, &sender) {
                break;
            }
            let after = position.to_string();
            let rung = tokio::select! {
                () = shared.stopping.cancelled() => break,
                rung = doorbell.wait(&shared.cx.redis, &after, shared.block) => rung,
            };
            if let Err(error) = rung {
                away.store(true, Ordering::Relaxed);
                tracing::debug!(%error, stream, "watch reader: doorbell failed; reading anyway");
                if backoff.wait(&shared).await {
                    break;
                }
            }
        }
        self.retire(&stream, &sender);
        shared.metrics.readers.dec();
    }
}

/// The entries of `read` after `position`, which moves past them.
fn batch<J: Journal>(read: &Following, position: &mut StreamId) -> Batch<J::Item> {
    let mut batch = Batch {
        trimmed: read
            .trimmed_after(*position)
            .then_some((read.first, read.dropped)),
        items: Vec::with_capacity(read.entries.len()),
        failed: None,
    };
    for entry in &read.entries {
        match super::read_entry::<J>(entry) {
            Ok((id, item)) => {
                batch.items.push((id, item));
                *position = id;
            }
            Err(error) => {
                batch.failed = Some(error.to_string());
                break;
            }
        }
    }
    batch
}

/// Pauses between tries while Redis is away: 50 ms, doubling to a second.
#[derive(Debug)]
pub(super) struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_millis(50))
    }
}

impl Backoff {
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Waits the next pause; true when the service began to stop instead.
    pub(super) async fn wait(&mut self, shared: &Shared) -> bool {
        let pause = self.0;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
        tokio::select! {
            () = shared.stopping.cancelled() => true,
            () = tokio::time::sleep(pause) => false,
        }
    }
}
