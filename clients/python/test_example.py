"""Checks the Python client path against a live rmw.

    RMW_ADDR=127.0.0.1:50051 python -m pytest clients/python

Every run uses fresh ids (uuid), so it passes again against the same Redis.
"""

from __future__ import annotations

import os
import time
import uuid

import grpc
import pytest

import example
from example import error_details
from rmw.v1 import inventory_pb2, leases_pb2, ledger_pb2, values_pb2

T = example.TIMEOUT_S


@pytest.fixture(scope="module")
def rmw():
    addr = os.environ.get("RMW_ADDR")
    if not addr:
        pytest.fail("set RMW_ADDR to the address of a running rmw (host:port)")
    client = example.connect(addr)
    grpc.channel_ready_future(client.channel).result(timeout=10)
    yield client
    client.close()


def uid() -> str:
    return uuid.uuid4().hex


def stock(rmw, store, products):
    reply = rmw.inventory.GetStock(
        inventory_pb2.GetStockRequest(store=store, products=products), timeout=T
    )
    return {level.product: level.quantity for level in reply.levels}


def test_place_order_then_insufficient_stock_changes_nothing(rmw):
    store = f"store-{uid()}"
    rmw.inventory.SetStock(
        inventory_pb2.SetStockRequest(
            store=store,
            levels=[
                inventory_pb2.StockLevel(product="mug", quantity=3),
                inventory_pb2.StockLevel(product="tee", quantity=10),
            ],
        ),
        timeout=T,
    )

    placed = example.place_order(rmw, store, f"order-{uid()}", {"tee": 2, "mug": 1})
    assert placed.WhichOneof("outcome") == "placed"
    assert not placed.replayed
    changes = [(c.product, c.before, c.after) for c in placed.placed.changes]
    assert changes == [("tee", 10, 8), ("mug", 3, 2)]

    # An order that overdraws one product is a typed answer, not an error,
    # and takes none of its items.
    refused = example.place_order(rmw, store, f"order-{uid()}", {"tee": 1, "mug": 5})
    assert refused.WhichOneof("outcome") == "insufficient_stock"
    short = refused.insufficient_stock
    assert (short.product, short.available, short.requested) == ("mug", 2, 5)
    assert stock(rmw, store, ["mug", "tee"]) == {"mug": 2, "tee": 8}


def test_a_held_cart_is_committed_and_an_abandoned_one_expires(rmw):
    store = f"store-{uid()}"
    rmw.inventory.SetStock(
        inventory_pb2.SetStockRequest(
            store=store, levels=[inventory_pb2.StockLevel(product="mug", quantity=3)]
        ),
        timeout=T,
    )
    cart = f"cart-{uid()}"
    held = example.hold_cart(rmw, store, cart, {"mug": 2}, 900)
    assert held.WhichOneof("outcome") == "held"
    level = held.held.levels[0]
    assert (level.quantity, level.held, level.available) == (3, 2, 1)
    # Held units are out of reach of orders.
    refused = example.place_order(rmw, store, f"order-{uid()}", {"mug": 2})
    assert refused.WhichOneof("outcome") == "insufficient_stock"
    assert refused.insufficient_stock.available == 1

    payment = f"pay-{uid()}"
    committed = example.commit_on_payment(rmw, store, cart, payment)
    assert committed.WhichOneof("outcome") == "committed"
    retried = example.commit_on_payment(rmw, store, cart, payment)
    assert retried.replayed and retried.committed == committed.committed
    assert stock(rmw, store, ["mug"]) == {"mug": 1}

    abandoned = f"cart-{uid()}"
    example.hold_cart(rmw, store, abandoned, {"mug": 1}, 0.2)
    assert example.wait_until_ended(rmw, store, abandoned) == "HOLD_STATE_EXPIRED"
    late = example.commit_on_payment(rmw, store, abandoned, f"pay-{uid()}")
    assert late.WhichOneof("outcome") == "expired"
    levels = rmw.inventory.GetStock(
        inventory_pb2.GetStockRequest(store=store, products=["mug"]), timeout=T
    ).levels
    assert (levels[0].quantity, levels[0].held, levels[0].available) == (1, 0, 1)


def test_transfer_retried_with_same_id_moves_money_once(rmw):
    book = f"book-{uid()}"
    rmw.ledger.Credit(
        ledger_pb2.CreditRequest(book=book, account="alice", amount=1_000), timeout=T
    )
    transfer_id = f"tx-{uid()}"

    first = example.transfer(rmw, book, "alice", "bob", 250, transfer_id)
    assert first.WhichOneof("outcome") == "transferred"
    assert not first.replayed
    assert (first.transferred.from_balance, first.transferred.to_balance) == (750, 250)

    retry = example.transfer(rmw, book, "alice", "bob", 250, transfer_id)
    assert retry.replayed
    assert retry.transferred == first.transferred

    balances = rmw.ledger.GetBalances(
        ledger_pb2.GetBalancesRequest(book=book, accounts=["alice", "bob"]), timeout=T
    )
    assert [(b.account, b.balance) for b in balances.balances] == [("alice", 750), ("bob", 250)]

    # The same id for another transfer is refused, and moves nothing.
    with pytest.raises(grpc.RpcError) as raised:
        example.transfer(rmw, book, "alice", "bob", 300, transfer_id)
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.ALREADY_EXISTS
    assert details.reason == "REQUEST_ID_REUSED"
    assert details.domain == "rmw.v1"
    balances = rmw.ledger.GetBalances(
        ledger_pb2.GetBalancesRequest(book=book, accounts=["alice", "bob"]), timeout=T
    )
    assert [b.balance for b in balances.balances] == [750, 250]


def test_compare_and_swap_swaps_then_conflicts_with_current_value(rmw):
    key = f"cfg:{uid()}"
    created = rmw.values.CompareAndSwap(
        values_pb2.CompareAndSwapRequest(key=key, new_value=b"blue"), timeout=T
    )
    assert created.WhichOneof("outcome") == "swapped"

    swapped = rmw.values.CompareAndSwap(
        values_pb2.CompareAndSwapRequest(key=key, expected=b"blue", new_value=b"green"),
        timeout=T,
    )
    assert swapped.WhichOneof("outcome") == "swapped"

    # A stale expectation is a typed refusal carrying what is stored.
    stale = rmw.values.CompareAndSwap(
        values_pb2.CompareAndSwapRequest(key=key, expected=b"blue", new_value=b"red"),
        timeout=T,
    )
    assert stale.WhichOneof("outcome") == "conflict"
    assert stale.conflict.HasField("current")
    assert stale.conflict.current == b"green"
    got = rmw.values.GetValue(values_pb2.GetValueRequest(key=key), timeout=T)
    assert got.value == b"green"


def test_cas_update_loop(rmw):
    key = f"visits:{uid()}"
    for _ in range(3):
        example.cas_update(rmw, key, lambda old: str(int(old or b"0") + 1).encode())
    got = rmw.values.GetValue(values_pb2.GetValueRequest(key=key), timeout=T)
    assert got.value == b"3"


def test_invalid_argument_names_the_field(rmw):
    with pytest.raises(grpc.RpcError) as raised:
        rmw.values.CompareAndSwap(
            values_pb2.CompareAndSwapRequest(key="", new_value=b"x"), timeout=T
        )
    details = error_details(raised.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.reason == "INVALID_ARGUMENT"
    assert details.domain == "rmw.v1"
    assert "key" in details.field_violations
    assert details.field_violations["key"]


def test_walk_through_runs(rmw, capsys):
    example.main(os.environ["RMW_ADDR"])
    out = capsys.readouterr().out
    assert "replayed=True" in out
    assert "ALREADY_EXISTS REQUEST_ID_REUSED" in out
    assert "after three CAS increments" in out
    assert "commit: committed" in out
    assert "the hold ended: HOLD_STATE_EXPIRED" in out
    assert "a late payment's commit: expired" in out


def test_a_watcher_resumes_after_a_disconnect(rmw):
    store = f"watched-{uid()}"

    def restock():
        rmw.inventory.Restock(
            inventory_pb2.RestockRequest(store=store, product="tea", quantity=1), timeout=T
        )

    for _ in range(3):
        restock()
    watcher = example.MovementWatcher(rmw, store, start="oldest")
    movements = iter(watcher)
    seen = [next(movements).after for _ in range(2)]
    watcher.interrupt()  # as if the connection dropped
    for _ in range(2):
        restock()
    seen += [next(movements).after for _ in range(3)]
    assert seen == [1, 2, 3, 4, 5], "in order, each once"
    assert watcher.resumes == 1


def test_a_lease_renews_itself_and_fences_a_stale_holder(rmw):
    name = f"report{{{uid()}}}"
    key = name.replace("report", "state")

    def write(fence, value, expected=None):
        request = values_pb2.CompareAndSwapRequest(key=key, new_value=value, fence=fence)
        if expected is not None:
            request.expected = expected
        return rmw.values.CompareAndSwap(request, timeout=T).WhichOneof("outcome")

    stale = example.Lease(rmw, name, "worker-1", ttl_s=0.3)
    with stale:
        # Renewed in the background: still ours after three ttls.
        time.sleep(0.9)
        assert write(stale.fence(), b"1") == "swapped"
        # Paused (no renewals) past its ttl, while another takes the lease.
        stale.pause_renewals()
        time.sleep(0.5)
        with pytest.raises(example.LeaseLost):
            stale.fence()
        with example.Lease(rmw, name, "worker-2", ttl_s=5) as current:
            assert current.token > stale.token
            # The paused holder's late write, with the token it still has.
            late = leases_pb2.Fence(lease=name, token=stale.token)
            assert write(late, b"late", expected=b"1") == "fenced"
            assert write(current.fence(), b"2", expected=b"1") == "swapped"
    got = rmw.values.GetValue(values_pb2.GetValueRequest(key=key), timeout=T)
    assert got.value == b"2"
