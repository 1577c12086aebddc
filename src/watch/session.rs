//! One watch: catch up from the caller's position, then follow the
//! stream's reader.

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use tokio::sync::{OwnedSemaphorePermit, broadcast, mpsc};

use super::{
    BATCH, Event, Events, Journal, Start,
    hub::{Away, Backoff, Batch, CAPACITY, Hub, READ_TIMEOUT},
};
use crate::{
    deadline::Deadline,
    error::Error,
    ops::{After, Following, ReadAfter, StreamId},
};

/// Events a session hands to the caller's stream ahead of its reading.
const SEND_BUFFER: usize = 64;

/// How often a session blocked on a caller that does not read checks how
/// far behind the reader it is.
const BEHIND_CHECK: Duration = Duration::from_millis(500);

/// Why a session ended.
enum End {
    /// The caller went away.
    Gone,
    /// An error to tell the caller.
    Error(Error),
}

impl From<Error> for End {
    fn from(error: Error) -> Self {
        Self::Error(error)
    }
}

/// Starts a watch of `stream` from `start`, until the caller's deadline
/// if it set one, streaming the items `keep` accepts; with `must_exist`,
/// refuses a stream that does not exist (JOURNAL_OFF). Returns once the
/// position is fixed.
pub(super) async fn open<J: Journal>(
    hub: &Arc<Hub<J>>,
    stream: String,
    start: Start,
    until: Option<Deadline>,
    must_exist: bool,
    keep: impl Fn(&J::Item) -> bool + Send + Sync + 'static,
) -> Result<Events<J::Item>, Error> {
    let shared = &hub.shared;
    if shared.stopping.is_cancelled() {
        return Err(Error::ShuttingDown);
    }
    let permit = Arc::clone(&shared.permits)
        .try_acquire_owned()
        .map_err(|_| Error::TooManyWatches(shared.max))?;
    let (mut position, quiet) = match start {
        Start::After(id) => (id, false),
        Start::Oldest | Start::Now => (StreamId::ZERO, start == Start::Oldest),
    };
    if must_exist || start == Start::Now {
        let read = ReadAfter {
            stream: stream.clone(),
            after: After::End,
            count: 0,
        };
        let deadline = Deadline::after(READ_TIMEOUT);
        let deadline = until.map_or(deadline, |until| until.min(deadline));
        let end = shared.cx.run(&read, deadline).await?.outcome;
        if must_exist && !end.exists {
            return Err(Error::JournalOff(String::new()));
        }
        if start == Start::Now {
            position = end.last;
        }
    }
    let (sender, events) = mpsc::channel(SEND_BUFFER);
    let session = Session {
        hub: Arc::clone(hub),
        stream,
        position,
        quiet,
        keep: Box::new(keep),
        sender,
        permit: Some(permit),
        until,
        away: false,
        reader_away: None,
    };
    shared.tasks.spawn(session.run());
    Ok(events)
}

/// Which items a watch streams.
type Filter<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

struct Session<J: Journal> {
    hub: Arc<Hub<J>>,
    stream: String,
    /// The last id sent (or passed over by the filter), or the start: a
    /// caller told WATCH_BEHIND resumes after it.
    position: StreamId,
    /// Say nothing of what the stream no longer keeps, on the first read
    /// only (a watch from the oldest kept).
    quiet: bool,
    keep: Filter<J::Item>,
    sender: mpsc::Sender<Result<Event<J::Item>, Error>>,
    /// Held while the watch is open.
    permit: Option<OwnedSemaphorePermit>,
    /// The caller's deadline, if it set one: the watch ends then.
    until: Option<Deadline>,
    /// The session's own last read failed (Redis is away).
    away: bool,
    /// Whether the reader it follows, if it follows one, is away.
    reader_away: Option<Away>,
}

impl<J: Journal> Session<J> {
    async fn run(mut self) {
        let metrics = Arc::clone(&self.hub.shared.metrics);
        metrics.active.inc();
        let ended = match self.until {
            None => self.follow().await,
            Some(until) => tokio::time::timeout_at(until.instant(), self.follow())
                .await
                .unwrap_or_else(|_| Err(self.past_deadline().into())),
        };
        // The watch is over: its place is free, whatever the caller does.
        self.permit = None;
        metrics.active.dec();
        if let Err(End::Error(error)) = ended {
            if matches!(error, Error::WatchBehind(_)) {
                metrics.behind.inc();
            }
            // The status comes after every event sent: it waits for the
            // caller to read them (or leave), for a second at most once
            // the service is stopping.
            let stopping = self.hub.shared.stopping.clone();
            tokio::select! {
                _ = self.sender.send(Err(error)) => {}
                () = async {
                    stopping.cancelled().await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                } => {}
            }
        }
    }

    /// How a watch ends at its caller's deadline: UNAVAILABLE if Redis
    /// was away then (the caller saw a pause: it may resume elsewhere, or
    /// later), DEADLINE_EXCEEDED otherwise.
    fn past_deadline(&self) -> Error {
        let reader_away = self
            .reader_away
            .as_ref()
            .is_some_and(|away| away.load(Ordering::Relaxed));
        if self.away || reader_away {
            Error::Unavailable("redis was away when the watch's deadline passed".to_owned())
        } else {
            Error::DeadlineExceeded
        }
    }

    /// Catches up, joins the reader, follows it; again from where it
    /// was if the reader goes away.
    async fn follow(&mut self) -> Result<(), End> {
        loop {
            self.reader_away = None;
            while !self.catch_up(None).await? {}
            // Joined before a last read: what the reader hands on from now
            // is after what this read sees, so nothing falls between.
            let (mut live, away) = self.hub.subscribe(&self.stream, self.position);
            self.reader_away = Some(away);
            if !self.catch_up(Some(&live)).await? {
                continue;
            }
            self.live(&mut live).await?;
        }
    }

    /// Reads and sends what follows the position; true when that was all
    /// the stream held.
    async fn catch_up(
        &mut self,
        live: Option<&broadcast::Receiver<Arc<Batch<J::Item>>>>,
    ) -> Result<bool, End> {
        let read = self.read().await?;
        if read.trimmed_after(self.position) && !self.quiet {
            let (oldest, total) = (read.first, read.dropped);
            self.send(Event::Trimmed { oldest, total }, live).await?;
        }
        self.quiet = false;
        for entry in &read.entries {
            let (id, item) = super::read_entry::<J>(entry)?;
            if (self.keep)(&item) {
                self.send_item(id, item, live).await?;
            }
            self.position = id;
        }
        Ok(read.entries.len() < BATCH)
    }

    /// Follows the reader until it goes away (Ok) or the watch ends.
    async fn live(
        &mut self,
        live: &mut broadcast::Receiver<Arc<Batch<J::Item>>>,
    ) -> Result<(), End> {
        let shared = Arc::clone(&self.hub.shared);
        loop {
            let batch = tokio::select! {
                () = shared.stopping.cancelled() => return Err(Error::ShuttingDown.into()),
                () = self.sender.closed() => return Err(End::Gone),
                batch = live.recv() => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Err(Error::WatchBehind(self.position.to_string()).into());
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            };
            if let Some(failed) = &batch.failed {
                return Err(Error::internal("watch", failed).into());
            }
            // Told of the reader's position, which is this session's: it
            // has had everything before the batch.
            if let Some((oldest, total)) = batch.trimmed {
                self.send(Event::Trimmed { oldest, total }, Some(live))
                    .await?;
            }
            for (id, item) in &batch.items {
                if *id <= self.position {
                    continue;
                }
                if (self.keep)(item) {
                    self.send_item(*id, item.clone(), Some(live)).await?;
                }
                self.position = *id;
            }
        }
    }

    /// `streams_after` from the position; Redis being away is a pause.
    async fn read(&mut self) -> Result<Following, End> {
        let shared = Arc::clone(&self.hub.shared);
        let read = ReadAfter {
            stream: self.stream.clone(),
            after: After::Id(self.position),
            count: BATCH,
        };
        let mut backoff = Backoff::default();
        loop {
            match shared.cx.run(&read, Deadline::after(READ_TIMEOUT)).await {
                Ok(replied) => {
                    self.away = false;
                    return Ok(replied.outcome);
                }
                Err(Error::Unavailable(_) | Error::DeadlineExceeded) => self.away = true,
                Err(other) => return Err(other.into()),
            }
            tokio::select! {
                stopped = backoff.wait(&shared) => if stopped {
                    return Err(Error::ShuttingDown.into());
                },
                () = self.sender.closed() => return Err(End::Gone),
            }
        }
    }

    /// Hands the item `id` on ([`Session::send`]), timing its lag.
    async fn send_item(
        &self,
        id: StreamId,
        item: J::Item,
        live: Option<&broadcast::Receiver<Arc<Batch<J::Item>>>>,
    ) -> Result<(), End> {
        self.hub.shared.metrics.lag.observe(lag(id));
        self.send(Event::Item(item), live).await
    }

    /// Hands `event` to the caller's stream, waiting while it is full; a
    /// caller so slow that the reader's channel (`live`) passes it by is
    /// dropped.
    async fn send(
        &self,
        event: Event<J::Item>,
        live: Option<&broadcast::Receiver<Arc<Batch<J::Item>>>>,
    ) -> Result<(), End> {
        let shared = &self.hub.shared;
        loop {
            tokio::select! {
                permit = self.sender.reserve() => {
                    let Ok(permit) = permit else { return Err(End::Gone) };
                    permit.send(Ok(event));
                    shared.metrics.sent.inc();
                    return Ok(());
                }
                () = shared.stopping.cancelled() => return Err(Error::ShuttingDown.into()),
                () = tokio::time::sleep(BEHIND_CHECK) => {
                    if live.is_some_and(|live| live.len() >= CAPACITY) {
                        return Err(Error::WatchBehind(self.position.to_string()).into());
                    }
                }
            }
        }
    }
}

/// Seconds from an entry's id (Redis's clock when it was added) to now.
fn lag(id: StreamId) -> f64 {
    let added = UNIX_EPOCH + Duration::from_millis(id.ms);
    SystemTime::now()
        .duration_since(added)
        .unwrap_or_default()
        .as_secs_f64()
}
