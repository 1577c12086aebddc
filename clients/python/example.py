"""rmw from Python: a walk-through to copy from.

rmw is a gRPC service; Python talks to it through stubs generated from the
repository's ``proto/`` directory (see ``clients/README.md``)::

    python -m grpc_tools.protoc -I proto \
        --python_out=clients/python/gen --pyi_out=clients/python/gen \
        --grpc_python_out=clients/python/gen proto/rmw/v1/*.proto

Then, with a service running (``make run`` serves on localhost:50051)::

    RMW_ADDR=localhost:50051 python clients/python/example.py

Three things to know, and this file shows each of them:

1. **Business outcomes are fields, not errors.** Every mutating response has a
   ``oneof outcome``: an order that would oversell answers
   ``insufficient_stock``, a compare-and-swap that lost the race answers
   ``conflict`` with the value stored now. Branch on
   ``response.WhichOneof("outcome")``.
2. **Retries are safe when you pass an id.** ``transfer_id``, ``order_id``
   and ``request_id`` are idempotency keys: a retry with the same id gets the
   first reply back with ``replayed=True`` and changes nothing. Make the id
   *once*, before the first attempt, and reuse it for every retry.
3. **gRPC errors are for requests that could not be carried out**, and they
   carry standard ``google.rpc`` details in the ``grpc-status-details-bin``
   trailer: an ``ErrorInfo`` (``reason`` to switch on, domain ``rmw.v1``) and,
   for ``INVALID_ARGUMENT``, a ``BadRequest`` naming every bad field.
   :func:`error_details` decodes them.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import grpc
from google.protobuf.duration_pb2 import Duration

# The generated stubs live in clients/python/gen (not committed; see the
# module docstring). Put that directory on the import path.
sys.path.insert(0, str(Path(__file__).resolve().parent / "gen"))

# google.rpc.Status / ErrorInfo / BadRequest come from the
# googleapis-common-protos package.
from google.rpc import error_details_pb2, status_pb2  # noqa: E402

from rmw.v1 import inventory_pb2, inventory_pb2_grpc  # noqa: E402
from rmw.v1 import leases_pb2, leases_pb2_grpc  # noqa: E402
from rmw.v1 import ledger_pb2, ledger_pb2_grpc  # noqa: E402
from rmw.v1 import values_pb2, values_pb2_grpc  # noqa: E402

DEFAULT_ADDR = "localhost:50051"

# Every call gets a deadline. rmw honours it (a request whose deadline has
# passed is never sent to Redis) and answers DEADLINE_EXCEEDED.
TIMEOUT_S = 5.0


# --- Connecting ----------------------------------------------------------


@dataclass
class Rmw:
    """The stubs of the services this walk-through uses, on one channel."""

    channel: grpc.Channel
    values: values_pb2_grpc.ValuesServiceStub
    inventory: inventory_pb2_grpc.InventoryServiceStub
    ledger: ledger_pb2_grpc.LedgerServiceStub
    leases: leases_pb2_grpc.LeasesServiceStub

    def close(self) -> None:
        self.channel.close()


def connect(addr: str = DEFAULT_ADDR) -> Rmw:
    """Opens one channel (reuse it: it multiplexes every call) and its stubs.

    Plaintext, as for a service on localhost or inside a cluster; use
    ``grpc.secure_channel(addr, grpc.ssl_channel_credentials())`` across a
    network you do not trust.
    """
    channel = grpc.insecure_channel(addr)
    return Rmw(
        channel=channel,
        values=values_pb2_grpc.ValuesServiceStub(channel),
        inventory=inventory_pb2_grpc.InventoryServiceStub(channel),
        ledger=ledger_pb2_grpc.LedgerServiceStub(channel),
        leases=leases_pb2_grpc.LeasesServiceStub(channel),
    )


# --- Errors --------------------------------------------------------------


@dataclass
class ErrorDetails:
    """What a failed call says, decoded from its google.rpc.Status trailer."""

    code: grpc.StatusCode
    message: str
    # google.rpc.ErrorInfo: `reason` is what programs switch on
    # (INVALID_ARGUMENT, REQUEST_ID_REUSED, REDIS_UNAVAILABLE, ...).
    reason: str = ""
    domain: str = ""
    # google.rpc.BadRequest: field name -> what is wrong with it.
    field_violations: dict[str, str] = field(default_factory=dict)
    # google.rpc.RetryInfo, sent with UNAVAILABLE: how long to wait.
    retry_delay_s: Optional[float] = None


def error_details(err: grpc.RpcError) -> ErrorDetails:
    """Decodes the standard details of an rmw error.

    The server sends a serialized google.rpc.Status in the
    ``grpc-status-details-bin`` trailer; its ``details`` are ``Any`` messages.
    """
    details = ErrorDetails(code=err.code(), message=err.details() or "")
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for any_msg in status.details:
            if any_msg.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                any_msg.Unpack(info)
                details.reason, details.domain = info.reason, info.domain
            elif any_msg.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                any_msg.Unpack(bad)
                for violation in bad.field_violations:
                    details.field_violations[violation.field] = violation.description
            elif any_msg.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                any_msg.Unpack(retry)
                details.retry_delay_s = retry.retry_delay.ToTimedelta().total_seconds()
    return details


# Worth retrying: the request may or may not have reached Redis. With an
# idempotency key a retry is safe either way.
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


# --- Stock that never oversells -------------------------------------------


def place_order(
    rmw: Rmw, store: str, order_id: str, items: dict[str, int]
) -> inventory_pb2.PlaceOrderResponse:
    """Takes every item of an order from a store's stock, or none of them.

    ``order_id`` is the order's idempotency key: placing the same order again
    (say, after a timeout) takes nothing and answers the first reply again.
    """
    request = inventory_pb2.PlaceOrderRequest(
        store=store,
        order_id=order_id,
        items=[inventory_pb2.OrderItem(product=p, quantity=q) for p, q in items.items()],
    )
    response = rmw.inventory.PlaceOrder(request, timeout=TIMEOUT_S)
    outcome = response.WhichOneof("outcome")
    if outcome == "placed":
        for change in response.placed.changes:
            print(f"  {change.product}: {change.before} -> {change.after}")
    elif outcome == "insufficient_stock":
        short = response.insufficient_stock
        # Not an error: a normal answer, and nothing was taken.
        print(f"  refused: {short.product} has {short.available}, order wants {short.requested}")
    return response


# --- Checkout with holds: reserve now, decide later ------------------------


def hold_cart(
    rmw: Rmw, store: str, hold_id: str, items: dict[str, int], ttl_s: float
) -> inventory_pb2.HoldStockResponse:
    """Holds a cart's items for ``ttl_s`` seconds (by Redis's clock).

    Held units are out of reach of every other order and hold until the
    hold is committed, released, or expires, when they come back by
    themselves. ``hold_id`` is the hold's idempotency key, and the id of the
    order a commit makes.
    """
    request = inventory_pb2.HoldStockRequest(
        store=store,
        hold_id=hold_id,
        items=[inventory_pb2.OrderItem(product=p, quantity=q) for p, q in items.items()],
    )
    request.ttl.FromMilliseconds(int(ttl_s * 1000))
    return rmw.inventory.HoldStock(request, timeout=TIMEOUT_S)


def commit_on_payment(
    rmw: Rmw, store: str, hold_id: str, payment_id: str
) -> inventory_pb2.CommitHoldResponse:
    """Commits a hold once the payment went through: the units leave.

    ``payment_id`` as the request id makes a retry after a lost reply answer
    the first reply. A hold that expired meanwhile answers ``expired`` and
    takes nothing: the shop then holds again or refunds.
    """
    return rmw.inventory.CommitHold(
        inventory_pb2.CommitHoldRequest(store=store, hold_id=hold_id, request_id=payment_id),
        timeout=TIMEOUT_S,
    )


def wait_until_ended(rmw: Rmw, store: str, hold_id: str, within_s: float = 10.0) -> str:
    """Polls GetHold until the hold has ended; returns its state's name."""
    deadline = time.monotonic() + within_s
    while True:
        got = rmw.inventory.GetHold(
            inventory_pb2.GetHoldRequest(store=store, hold_id=hold_id), timeout=TIMEOUT_S
        )
        state = inventory_pb2.HoldState.Name(got.hold.state)
        if state != "HOLD_STATE_HELD" or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


# --- Following changes: a watch that resumes ------------------------------


class MovementWatcher:
    """Follows a store's movements in order, each once, across disconnects.

    Iterate it for ``Movement`` messages. It keeps the id of the last one
    and, when the stream breaks with a status to resume after (the service
    restarting: UNAVAILABLE; the watcher too slow: ABORTED; the call cut:
    CANCELLED), it watches again from there, so nothing is missed or
    repeated. ``start`` is where a watch without an id begins:
    ``"now"`` or ``"oldest"`` (what the store's journal still keeps).
    """

    RESUME = {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
    }

    def __init__(self, rmw: Rmw, store: str, from_id: str = "", start: str = "now"):
        self.rmw = rmw
        self.store = store
        self.last_id = from_id
        self.start = start
        self.resumes = 0
        self.trimmed = 0
        self._call = None

    def __iter__(self):
        while True:
            start = "WATCH_START_UNSPECIFIED" if self.last_id else f"WATCH_START_{self.start.upper()}"
            self._call = self.rmw.inventory.WatchMovements(
                inventory_pb2.WatchMovementsRequest(
                    store=self.store, from_id=self.last_id, start=start
                )
            )
            try:
                for message in self._call:
                    if message.WhichOneof("event") == "trimmed":
                        # History after our position is gone: re-read the
                        # levels (GetStock) if they matter.
                        self.trimmed += 1
                        continue
                    self.last_id = message.movement.id
                    yield message.movement
            except grpc.RpcError as err:
                if err.code() not in self.RESUME:
                    raise
                self.resumes += 1
                time.sleep(0.1)

    def interrupt(self) -> None:
        """Cuts the current call, as a dropped connection would."""
        if self._call is not None:
            self._call.cancel()


# --- A lease whose token fences every write -------------------------------


class LeaseHeld(Exception):
    """Someone else held the lease until the wait ran out."""

    def __init__(self, holders):
        super().__init__(", ".join(f"{h.owner} (token {h.token})" for h in holders))
        self.holders = list(holders)


class LeaseLost(Exception):
    """The lease is no longer ours: stop writing, acquire it again."""


class Lease:
    """Holds a lease for a ``with`` block, renewing it in the background.

    Pass ``lease.fence()`` as every protected write's ``fence``: rmw
    refuses the write (``fenced``) once the grant is not current, even if
    this process paused and does not know it yet. ``fence()`` itself raises
    ``LeaseLost`` once a renewal failed or the grant's time ran out here,
    so a holder that noticed stops writing at once.
    """

    def __init__(self, rmw: Rmw, name: str, owner: str, ttl_s: float = 10.0, wait_s: float = 30.0):
        self.rmw, self.name, self.owner = rmw, name, owner
        self.ttl_s, self.wait_s = ttl_s, wait_s
        self.token = 0
        self._valid_until = 0.0  # by this process's clock, a little early
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._renewer: Optional[threading.Thread] = None

    def _ttl(self) -> Duration:
        ttl = Duration()
        ttl.FromMilliseconds(round(self.ttl_s * 1000))  # rmw takes whole ms
        return ttl

    def __enter__(self) -> "Lease":
        asked = time.monotonic()
        reply = self.rmw.leases.Acquire(
            leases_pb2.AcquireRequest(name=self.name, owner=self.owner, ttl=self._ttl(), wait=True),
            timeout=self.wait_s,
        )
        if reply.WhichOneof("outcome") == "held":
            raise LeaseHeld(reply.held.holders)
        self.token = reply.acquired.token
        self._valid_until = asked + self.ttl_s
        self._renewer = threading.Thread(target=self._renew, daemon=True)
        self._renewer.start()
        return self

    def _renew(self) -> None:
        # Renew at a third of the ttl: two renewals may fail before it ends.
        while not self._stop.wait(self.ttl_s / 3):
            asked = time.monotonic()
            try:
                reply = self.rmw.leases.Renew(
                    leases_pb2.RenewRequest(name=self.name, token=self.token, ttl=self._ttl()),
                    timeout=self.ttl_s / 3,
                )
            except grpc.RpcError:
                if time.monotonic() >= self._valid_until:
                    self._lost.set()
                    return
                continue
            if reply.WhichOneof("outcome") == "lost":
                self._lost.set()
                return
            self._valid_until = asked + self.ttl_s

    def pause_renewals(self) -> None:
        """Stops renewing, as a process paused by GC would (for tests)."""
        self._stop.set()

    def fence(self) -> leases_pb2.Fence:
        if self._lost.is_set() or time.monotonic() >= self._valid_until:
            raise LeaseLost(f"{self.name}: token {self.token} is no longer ours")
        return leases_pb2.Fence(lease=self.name, token=self.token)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self.rmw.leases.Release(
                leases_pb2.ReleaseRequest(name=self.name, token=self.token), timeout=TIMEOUT_S
            )
        except grpc.RpcError:
            pass  # it expires by itself


# --- Money, with a retried transfer id ------------------------------------


def transfer(
    rmw: Rmw,
    book: str,
    from_account: str,
    to_account: str,
    amount: int,
    transfer_id: str,
    attempts: int = 3,
) -> ledger_pb2.TransferResponse:
    """Moves ``amount`` minor units (cents) once, however often it is retried.

    The caller makes ``transfer_id`` once (an id from its own system, or a
    uuid stored with the payment) and every attempt reuses it. If a reply is
    lost and the transfer is sent again, rmw answers the first reply with
    ``replayed=True`` and moves nothing. Reusing the id for a *different*
    transfer is refused with ALREADY_EXISTS, reason REQUEST_ID_REUSED.
    """
    request = ledger_pb2.TransferRequest(
        book=book,
        from_account=from_account,
        to_account=to_account,
        amount=amount,
        transfer_id=transfer_id,
    )
    for attempt in range(1, attempts + 1):
        try:
            return rmw.ledger.Transfer(request, timeout=TIMEOUT_S)
        except grpc.RpcError as err:
            if err.code() not in RETRYABLE or attempt == attempts:
                raise
            delay = error_details(err).retry_delay_s or 0.1 * attempt
            time.sleep(delay)
    raise AssertionError("unreachable")


# --- Compare-and-swap ------------------------------------------------------


def cas_update(
    rmw: Rmw,
    key: str,
    update: Callable[[Optional[bytes]], bytes],
    attempts: int = 10,
) -> bytes:
    """Read-modify-write of one value, safe against concurrent writers.

    Reads the value, computes the new one with ``update`` (which gets None
    when the key does not exist) and swaps it in only if nobody changed the
    value meanwhile. A lost race is a ``conflict`` answer that carries the
    value stored now, so the next attempt needs no extra read.
    """
    got = rmw.values.GetValue(values_pb2.GetValueRequest(key=key), timeout=TIMEOUT_S)
    current = got.value if got.WhichOneof("outcome") == "value" else None
    for _ in range(attempts):
        new = update(current)
        request = values_pb2.CompareAndSwapRequest(key=key, new_value=new)
        if current is not None:
            # Unset `expected` means "the key must not exist yet".
            request.expected = current
        response = rmw.values.CompareAndSwap(request, timeout=TIMEOUT_S)
        if response.WhichOneof("outcome") == "swapped":
            return new
        conflict = response.conflict
        current = conflict.current if conflict.HasField("current") else None
    raise RuntimeError(f"{key}: still contended after {attempts} attempts")


# --- The walk-through --------------------------------------------------------


def main(addr: str = DEFAULT_ADDR) -> None:
    # Unique names, so the walk-through can run again against the same Redis.
    run = uuid.uuid4().hex[:8]
    rmw = connect(addr)
    try:
        print(f"stock in store shop-{run}")
        rmw.inventory.SetStock(
            inventory_pb2.SetStockRequest(
                store=f"shop-{run}",
                levels=[
                    inventory_pb2.StockLevel(product="mug", quantity=3),
                    inventory_pb2.StockLevel(product="tee", quantity=10),
                ],
            ),
            timeout=TIMEOUT_S,
        )
        print("order 1: 2 tees and a mug")
        place_order(rmw, f"shop-{run}", f"order-{run}-1", {"tee": 2, "mug": 1})
        print("order 2: 5 mugs")
        place_order(rmw, f"shop-{run}", f"order-{run}-2", {"mug": 5})

        print("checkout: hold the last 2 mugs for 15 minutes, then the payment lands")
        held = hold_cart(rmw, f"shop-{run}", f"cart-{run}-1", {"mug": 2}, 900)
        level = held.held.levels[0]
        print(f"  mug: {level.quantity} on hand, {level.held} held, {level.available} available")
        committed = commit_on_payment(rmw, f"shop-{run}", f"cart-{run}-1", f"pay-{run}-1")
        print(f"  commit: {committed.WhichOneof('outcome')}")
        print("abandoned cart: hold 3 tees for 0.3 s and walk away")
        hold_cart(rmw, f"shop-{run}", f"cart-{run}-2", {"tee": 3}, 0.3)
        print(f"  the hold ended: {wait_until_ended(rmw, f'shop-{run}', f'cart-{run}-2')}")
        late = commit_on_payment(rmw, f"shop-{run}", f"cart-{run}-2", f"pay-{run}-2")
        print(f"  a late payment's commit: {late.WhichOneof('outcome')}")

        book = f"book-{run}"
        print(f"credit alice 100.00 in {book}")
        rmw.ledger.Credit(
            ledger_pb2.CreditRequest(
                book=book, account="alice", amount=10_000, request_id=f"opening-{run}"
            ),
            timeout=TIMEOUT_S,
        )
        transfer_id = f"tx-{run}"  # made once; every retry reuses it
        for attempt in (1, 2):  # the second call plays a retry after a lost reply
            reply = transfer(rmw, book, "alice", "bob", 2_500, transfer_id)
            moved = reply.transferred
            print(
                f"transfer {transfer_id} (call {attempt}): replayed={reply.replayed},"
                f" alice={moved.from_balance}, bob={moved.to_balance}"
            )
        try:
            transfer(rmw, book, "alice", "bob", 9_999, transfer_id)
        except grpc.RpcError as err:
            details = error_details(err)
            print(f"same id, other amount: {details.code.name} {details.reason}")

        key = f"visits:{run}"
        for _ in range(3):
            cas_update(rmw, key, lambda old: str(int(old or b"0") + 1).encode())
        got = rmw.values.GetValue(values_pb2.GetValueRequest(key=key), timeout=TIMEOUT_S)
        print(f"{key} = {got.value.decode()} after three CAS increments")

        try:
            rmw.values.CompareAndSwap(
                values_pb2.CompareAndSwapRequest(key="", new_value=b"x"), timeout=TIMEOUT_S
            )
        except grpc.RpcError as err:
            details = error_details(err)
            print(f"empty key: {details.code.name}, {details.field_violations}")
    finally:
        rmw.close()


if __name__ == "__main__":
    main(os.environ.get("RMW_ADDR", DEFAULT_ADDR))
