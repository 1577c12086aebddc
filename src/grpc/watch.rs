//! The watch RPCs (WatchMovements, WatchEntries, WatchRecords): each
//! request validated into a start, its events converted as the list RPCs
//! convert theirs. How a watch works is `src/watch`'s.

use std::pin::Pin;

use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};
use tonic::{Request, Response, Status};

use super::{Api, Fields, inventory::movement, ledger::entry, timestamp};
use crate::{
    auth::{self, Caller, Kind, Resource},
    deadline::{CallerDeadline, Deadline},
    error::Error,
    ops::{RecordChange, StreamId, types::Id},
    proto::v1::{
        self as pb, WatchStart, record_change, watch_entries_response, watch_movements_response,
        watch_records_response,
    },
    watch::{Event, Events, Start, Watches},
};

/// A watch's reply stream.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// A watch request: how it opens, and what it streams.
pub trait Watch: Sized + Send + 'static {
    /// The streamed message.
    type Reply: Send + 'static;

    /// Validates the request, checks that `caller` may watch what it
    /// names, and opens the watch, to end at `until` if its caller set a
    /// deadline.
    fn open(
        self,
        watches: &Watches,
        until: Option<Deadline>,
        caller: Option<&Caller>,
    ) -> impl Future<Output = Result<EventStream<Self::Reply>, Error>> + Send;
}

impl Api {
    /// Every watch's one path: its parse, its open, its stream.
    pub(super) async fn watch<W: Watch>(
        &self,
        request: Request<W>,
    ) -> Result<Response<EventStream<W::Reply>>, Status> {
        let (_, extensions, message) = request.into_parts();
        let until = extensions.get::<CallerDeadline>().map(|caller| caller.0);
        let caller = extensions.get::<Caller>();
        Ok(Response::new(
            message.open(&self.watches, until, caller).await?,
        ))
    }
}

/// Where a watch starts: after `from_id`, or at `start`, not both.
fn start(f: &mut Fields, from_id: &str, start: i32) -> Option<Start> {
    let Ok(start) = WatchStart::try_from(start) else {
        f.violate("start", "unknown WatchStart value");
        return None;
    };
    match (from_id.is_empty(), start) {
        (true, WatchStart::Unspecified | WatchStart::Now) => Some(Start::Now),
        (true, WatchStart::Oldest) => Some(Start::Oldest),
        (false, WatchStart::Unspecified) => f.take(
            "from_id",
            StreamId::parse(from_id)
                .map(Start::After)
                .ok_or_else(|| "must be a stream id, <ms>-<seq>, as an event's id".to_owned()),
        ),
        (false, _) => {
            f.violate("start", "must be unset with from_id");
            None
        }
    }
}

/// `events`, each converted by `convert`; an error ends the stream.
fn stream<T: Send + 'static, R: Send + 'static>(
    events: Events<T>,
    convert: fn(Event<T>) -> R,
) -> EventStream<R> {
    Box::pin(ReceiverStream::new(events).map(move |event| event.map(convert).map_err(Status::from)))
}

fn trimmed(oldest: Option<StreamId>, total: u64) -> pb::Trimmed {
    pb::Trimmed {
        oldest_id: oldest.map(|id| id.to_string()).unwrap_or_default(),
        trimmed_total: total,
    }
}

impl Watch for pb::WatchMovementsRequest {
    type Reply = pb::WatchMovementsResponse;

    async fn open(
        self,
        watches: &Watches,
        until: Option<Deadline>,
        caller: Option<&Caller>,
    ) -> Result<EventStream<Self::Reply>, Error> {
        let mut f = Fields::new();
        let store = f.take("store", Id::parse(&self.store));
        let product = f.take("product", Id::parse_optional(&self.product));
        let start = start(&mut f, &self.from_id, self.start);
        let (store, product, start) = f.finish(|| Some((store?, product?, start?)))?;
        let mut named = vec![Resource::new(Kind::Store, store.as_str())];
        named.extend(
            product
                .iter()
                .map(|p| Resource::new(Kind::Product, p.as_str())),
        );
        auth::check(caller, &named)?;
        let events = watches.movements(&store, product, start, until).await?;
        Ok(stream(events, |event| pb::WatchMovementsResponse {
            event: Some(match event {
                Event::Item(m) => watch_movements_response::Event::Movement(movement(m)),
                Event::Trimmed { oldest, total } => {
                    watch_movements_response::Event::Trimmed(trimmed(oldest, total))
                }
            }),
        }))
    }
}

impl Watch for pb::WatchEntriesRequest {
    type Reply = pb::WatchEntriesResponse;

    async fn open(
        self,
        watches: &Watches,
        until: Option<Deadline>,
        caller: Option<&Caller>,
    ) -> Result<EventStream<Self::Reply>, Error> {
        let mut f = Fields::new();
        let book = f.take("book", Id::parse(&self.book));
        let account = f.take("account", Id::parse_optional(&self.account));
        let start = start(&mut f, &self.from_id, self.start);
        let (book, account, start) = f.finish(|| Some((book?, account?, start?)))?;
        let mut named = vec![Resource::new(Kind::Book, book.as_str())];
        named.extend(
            account
                .iter()
                .map(|a| Resource::new(Kind::Account, a.as_str())),
        );
        auth::check(caller, &named)?;
        let events = watches.entries(&book, account, start, until).await?;
        Ok(stream(events, |event| pb::WatchEntriesResponse {
            event: Some(match event {
                Event::Item(e) => watch_entries_response::Event::Entry(entry(e)),
                Event::Trimmed { oldest, total } => {
                    watch_entries_response::Event::Trimmed(trimmed(oldest, total))
                }
            }),
        }))
    }
}

impl Watch for pb::WatchRecordsRequest {
    type Reply = pb::WatchRecordsResponse;

    async fn open(
        self,
        watches: &Watches,
        until: Option<Deadline>,
        caller: Option<&Caller>,
    ) -> Result<EventStream<Self::Reply>, Error> {
        let mut f = Fields::new();
        let tag = f.take("tag", Id::parse(&self.tag));
        let start = start(&mut f, &self.from_id, self.start);
        let (tag, start) = f.finish(|| Some((tag?, start?)))?;
        auth::check(caller, &[Resource::new(Kind::Tag, tag.as_str())])?;
        let events = watches.changes(&tag, start, until).await?;
        Ok(stream(events, |event| pb::WatchRecordsResponse {
            event: Some(match event {
                Event::Item(change) => watch_records_response::Event::Change(record(change)),
                Event::Trimmed { oldest, total } => {
                    watch_records_response::Event::Trimmed(trimmed(oldest, total))
                }
            }),
        }))
    }
}

fn record(change: RecordChange) -> pb::RecordChange {
    let kind = if change.put {
        record_change::Kind::Put
    } else {
        record_change::Kind::Delete
    };
    pb::RecordChange {
        id: change.id,
        kind: kind.into(),
        key: change.key,
        version: change.version,
        value: change.value,
        time: Some(timestamp(change.time)),
    }
}
