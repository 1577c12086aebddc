'use strict';
// Checks the Node client path against a live rmw:
//
//     RMW_ADDR=127.0.0.1:50051 node --test clients/node/
//
// Every run uses fresh ids (uuid), so it passes again against the same Redis.
// int64 fields come back as strings (longs: String) and are compared as such.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const example = require('./example');

const { call, errorDetails } = example;
const uid = () => crypto.randomUUID().replaceAll('-', '');

let rmw;

before(async () => {
  const addr = process.env.RMW_ADDR;
  assert.ok(addr, 'set RMW_ADDR to the address of a running rmw (host:port)');
  rmw = example.connect(addr);
  await rmw.ready();
});

after(() => rmw && rmw.close());

/** Resolves to the gRPC error a call fails with; fails if it succeeds. */
async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

async function stock(store, products) {
  const reply = await call(rmw.inventory, 'GetStock', { store, products });
  return Object.fromEntries(reply.levels.map((l) => [l.product, l.quantity]));
}

async function balances(book, accounts) {
  const reply = await call(rmw.ledger, 'GetBalances', { book, accounts });
  return reply.balances.map((b) => [b.account, b.balance]);
}

test('PlaceOrder places, and an overdrawing order is a typed refusal that changes nothing', async () => {
  const store = `store-${uid()}`;
  await call(rmw.inventory, 'SetStock', {
    store,
    levels: [
      { product: 'mug', quantity: '3' },
      { product: 'tee', quantity: '10' },
    ],
  });

  const placed = await example.placeOrder(rmw, store, `order-${uid()}`, { tee: 2, mug: 1 });
  assert.equal(placed.outcome, 'placed');
  assert.equal(placed.replayed, false);
  assert.deepEqual(
    placed.placed.changes.map((c) => [c.product, c.before, c.after]),
    [
      ['tee', '10', '8'],
      ['mug', '3', '2'],
    ],
  );

  const refused = await example.placeOrder(rmw, store, `order-${uid()}`, { tee: 1, mug: 5 });
  assert.equal(refused.outcome, 'insufficientStock');
  assert.deepEqual(
    { ...refused.insufficientStock },
    { product: 'mug', available: '2', requested: '5' },
  );
  assert.deepEqual(await stock(store, ['mug', 'tee']), { mug: '2', tee: '8' });
});

test('a held cart is committed, and an abandoned one expires', async () => {
  const store = `store-${uid()}`;
  await call(rmw.inventory, 'SetStock', { store, levels: [{ product: 'mug', quantity: '3' }] });
  const cart = `cart-${uid()}`;
  const held = await example.holdCart(rmw, store, cart, { mug: 2 }, 900000);
  assert.equal(held.outcome, 'held');
  const level = held.held.levels[0];
  assert.deepEqual([level.quantity, level.held, level.available], ['3', '2', '1']);
  const refused = await example.placeOrder(rmw, store, `order-${uid()}`, { mug: 2 });
  assert.equal(refused.outcome, 'insufficientStock');
  assert.equal(refused.insufficientStock.available, '1');

  const payment = `pay-${uid()}`;
  const committed = await example.commitOnPayment(rmw, store, cart, payment);
  assert.equal(committed.outcome, 'committed');
  const retried = await example.commitOnPayment(rmw, store, cart, payment);
  assert.equal(retried.replayed, true);
  assert.deepEqual(retried.committed, committed.committed);
  assert.deepEqual(await stock(store, ['mug']), { mug: '1' });

  const abandoned = `cart-${uid()}`;
  await example.holdCart(rmw, store, abandoned, { mug: 1 }, 200);
  assert.equal(await example.waitUntilEnded(rmw, store, abandoned), 'HOLD_STATE_EXPIRED');
  const late = await example.commitOnPayment(rmw, store, abandoned, `pay-${uid()}`);
  assert.equal(late.outcome, 'expired');
  const levels = (await call(rmw.inventory, 'GetStock', { store, products: ['mug'] })).levels;
  assert.deepEqual([levels[0].quantity, levels[0].held, levels[0].available], ['1', '0', '1']);
});

test('a Transfer retried with the same transfer_id moves money once', async () => {
  const book = `book-${uid()}`;
  await call(rmw.ledger, 'Credit', { book, account: 'alice', amount: '1000' });
  const transferId = `tx-${uid()}`;

  const first = await example.transfer(rmw, book, 'alice', 'bob', 250, transferId);
  assert.equal(first.outcome, 'transferred');
  assert.equal(first.replayed, false);
  assert.equal(first.transferred.fromBalance, '750');
  assert.equal(first.transferred.toBalance, '250');

  const retry = await example.transfer(rmw, book, 'alice', 'bob', 250, transferId);
  assert.equal(retry.replayed, true);
  assert.deepEqual(retry.transferred, first.transferred);
  assert.deepEqual(await balances(book, ['alice', 'bob']), [
    ['alice', '750'],
    ['bob', '250'],
  ]);

  // The same id for another transfer is refused, and moves nothing.
  const err = await rejection(example.transfer(rmw, book, 'alice', 'bob', 300, transferId));
  const d = errorDetails(err);
  assert.equal(d.code, grpc.status.ALREADY_EXISTS);
  assert.equal(d.reason, 'REQUEST_ID_REUSED');
  assert.equal(d.domain, 'rmw.v1');
  assert.deepEqual(await balances(book, ['alice', 'bob']), [
    ['alice', '750'],
    ['bob', '250'],
  ]);
});

test('CompareAndSwap swaps, then a stale expectation conflicts with the current value', async () => {
  const key = `cfg:${uid()}`;
  const created = await call(rmw.values, 'CompareAndSwap', { key, newValue: Buffer.from('blue') });
  assert.equal(created.outcome, 'swapped');

  const swapped = await call(rmw.values, 'CompareAndSwap', {
    key,
    expected: Buffer.from('blue'),
    newValue: Buffer.from('green'),
  });
  assert.equal(swapped.outcome, 'swapped');

  const stale = await call(rmw.values, 'CompareAndSwap', {
    key,
    expected: Buffer.from('blue'),
    newValue: Buffer.from('red'),
  });
  assert.equal(stale.outcome, 'conflict');
  assert.equal(stale.conflict._current, 'current');
  assert.equal(stale.conflict.current.toString(), 'green');
  const got = await call(rmw.values, 'GetValue', { key });
  assert.equal(got.value.toString(), 'green');

  // Expecting a value of a key that does not exist: conflict, no current.
  const missing = await call(rmw.values, 'CompareAndSwap', {
    key: `${key}:missing`,
    expected: Buffer.from('blue'),
    newValue: Buffer.from('red'),
  });
  assert.equal(missing.outcome, 'conflict');
  assert.equal(missing.conflict._current, undefined);
});

test('the casUpdate loop increments', async () => {
  const key = `visits:${uid()}`;
  for (let i = 0; i < 3; i++) {
    await example.casUpdate(rmw, key, (old) => Buffer.from(String(Number(old ? old.toString() : '0') + 1)));
  }
  const got = await call(rmw.values, 'GetValue', { key });
  assert.equal(got.value.toString(), '3');
});

test('INVALID_ARGUMENT carries a BadRequest naming the field', async () => {
  const err = await rejection(call(rmw.values, 'CompareAndSwap', { key: '', newValue: Buffer.from('x') }));
  const d = errorDetails(err);
  assert.equal(d.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(d.reason, 'INVALID_ARGUMENT');
  assert.equal(d.domain, 'rmw.v1');
  assert.ok(d.fieldViolations.key, `no violation for "key" in ${JSON.stringify(d.fieldViolations)}`);
});

test('the walk-through runs', async (t) => {
  const lines = [];
  t.mock.method(console, 'log', (line) => lines.push(line));
  await example.main(process.env.RMW_ADDR);
  const out = lines.join('\n');
  assert.match(out, /replayed=true/);
  assert.match(out, /ALREADY_EXISTS REQUEST_ID_REUSED/);
  assert.match(out, /after three CAS increments/);
  assert.match(out, /commit: committed/);
  assert.match(out, /the hold ended: HOLD_STATE_EXPIRED/);
  assert.match(out, /a late payment's commit: expired/);
});

test('a watcher resumes after a disconnect, missing and repeating nothing', async () => {
  const store = `watched-${uid()}`;
  const restock = () => call(rmw.inventory, 'Restock', { store, product: 'tea', quantity: '1' });
  for (let i = 0; i < 3; i += 1) await restock();
  const watcher = new example.MovementWatcher(rmw, store, { start: 'oldest' });
  const movements = watcher.movements();
  const seen = [];
  for (let i = 0; i < 2; i += 1) seen.push((await movements.next()).value.after);
  watcher.interrupt(); // as if the connection dropped
  for (let i = 0; i < 2; i += 1) await restock();
  for (let i = 0; i < 3; i += 1) seen.push((await movements.next()).value.after);
  watcher.stop();
  assert.deepEqual(seen, ['1', '2', '3', '4', '5'], 'in order, each once');
  assert.equal(watcher.resumes, 1);
});

test('a lease renews itself and fences a stale holder', async () => {
  const tag = uid();
  const name = `report{${tag}}`;
  const key = `state{${tag}}`;
  const write = async (fence, value, expected) => {
    const request = { key, newValue: Buffer.from(value), fence };
    if (expected !== undefined) request.expected = Buffer.from(expected);
    return (await call(rmw.values, 'CompareAndSwap', request)).outcome;
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  await example.withLease(rmw, name, 'worker-1', { ttlMs: 300 }, async (stale) => {
    // Renewed in the background: still ours after three ttls.
    await sleep(900);
    assert.equal(await write(stale.fence(), '1'), 'swapped');
    // Paused (no renewals) past its ttl, while another takes the lease.
    stale.pauseRenewals();
    await sleep(500);
    assert.throws(() => stale.fence(), example.LeaseLost);
    await example.withLease(rmw, name, 'worker-2', { ttlMs: 5000 }, async (current) => {
      assert.ok(BigInt(current.token) > BigInt(stale.token));
      // The paused holder's late write, with the token it still has.
      assert.equal(await write({ lease: name, token: stale.token }, 'late', '1'), 'fenced');
      assert.equal(await write(current.fence(), '2', '1'), 'swapped');
    });
  });
  const got = await call(rmw.values, 'GetValue', { key });
  assert.equal(got.value.toString(), '2');
});
