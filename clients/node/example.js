'use strict';
/**
 * rmw from Node.js: a walk-through to copy from.
 *
 * The service contract is loaded at run time from the repository's proto/
 * directory with @grpc/proto-loader: nothing to generate. With a service
 * running (`make run` serves on localhost:50051):
 *
 *     npm ci --prefix clients/node
 *     RMW_ADDR=localhost:50051 node clients/node/example.js
 *
 * Three things to know, and this file shows each of them:
 *
 * 1. Business outcomes are fields, not errors. Every mutating response has a
 *    `oneof outcome`; with `oneofs: true` proto-loader names the member that
 *    is set in `response.outcome` ('placed', 'insufficientStock',
 *    'swapped', 'conflict', ...).
 * 2. Retries are safe when you pass an id. `transferId`, `orderId` and
 *    `requestId` are idempotency keys: a retry with the same id gets the first
 *    reply back with `replayed: true` and changes nothing. Make the id once,
 *    before the first attempt, and reuse it for every retry.
 * 3. gRPC errors are for requests that could not be carried out, and carry
 *    standard google.rpc details in the `grpc-status-details-bin` trailer: an
 *    ErrorInfo (`reason` to switch on, domain `rmw.v1`) and, for
 *    INVALID_ARGUMENT, a BadRequest naming every bad field. `errorDetails()`
 *    decodes them.
 *
 * int64 fields (quantities, amounts, balances) are strings here
 * (`longs: String`): a JavaScript number is exact only up to 2^53. Send them
 * as strings too, and compare them as strings.
 */

const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');
const googleProtoFiles = require('google-proto-files');

const DEFAULT_ADDR = 'localhost:50051';
// Every call gets a deadline. rmw honours it (a request whose deadline has
// passed is never sent to Redis) and answers DEADLINE_EXCEEDED.
const TIMEOUT_MS = 5000;

// --- Loading the contract ------------------------------------------------

const PROTO_DIR = path.join(__dirname, '../../proto');
const LOADER_OPTIONS = {
  includeDirs: [PROTO_DIR],
  longs: String, // int64 -> decimal string, exact at any size
  enums: String, // enum -> its name, e.g. 'OPERATOR_LT'
  bytes: Buffer, // bytes -> Buffer
  defaults: true, // unset scalars read as their default (replayed: false)
  oneofs: true, // response.outcome names the oneof member that is set
};
const rmwV1 = grpc.loadPackageDefinition(
  protoLoader.loadSync(
    ['values.proto', 'inventory.proto', 'ledger.proto', 'leases.proto'].map((f) => `rmw/v1/${f}`),
    LOADER_OPTIONS,
  ),
).rmw.v1;

// google.rpc.Status and its detail messages, from the .proto files shipped by
// the google-proto-files package, decoded with protobufjs.
const googleRpc = protobuf.loadSync([
  googleProtoFiles.getProtoPath('rpc/status.proto'),
  googleProtoFiles.getProtoPath('rpc/error_details.proto'),
]);
const Status = googleRpc.lookupType('google.rpc.Status');

// --- Connecting ------------------------------------------------------------

/**
 * Opens one channel (reuse it: it multiplexes every call) and a client per
 * service on it. Plaintext, as for a service on localhost or inside a
 * cluster; use grpc.credentials.createSsl() across a network you do not
 * trust.
 */
function connect(addr = DEFAULT_ADDR) {
  const values = new rmwV1.ValuesService(addr, grpc.credentials.createInsecure());
  const shared = { channelOverride: values.getChannel() };
  return {
    values,
    inventory: new rmwV1.InventoryService(addr, grpc.credentials.createInsecure(), shared),
    ledger: new rmwV1.LedgerService(addr, grpc.credentials.createInsecure(), shared),
    leases: new rmwV1.LeasesService(addr, grpc.credentials.createInsecure(), shared),
    /** Resolves once the channel is connected (or rejects after `ms`). */
    ready(ms = 10000) {
      return new Promise((resolve, reject) =>
        values.waitForReady(Date.now() + ms, (err) => (err ? reject(err) : resolve())),
      );
    },
    close() {
      values.close();
    },
  };
}

/** Calls a unary method with a deadline, as a promise. */
function call(client, method, request, timeoutMs = TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

// --- Errors ----------------------------------------------------------------

/**
 * Decodes the standard details of an rmw error: the serialized
 * google.rpc.Status in the `grpc-status-details-bin` trailer, whose details
 * are `Any` messages.
 *
 * Returns { code, message, reason, domain, fieldViolations: {field: text},
 * retryDelayMs }.
 */
function errorDetails(err) {
  const details = {
    code: err.code,
    message: err.details,
    reason: '',
    domain: '',
    fieldViolations: {},
    retryDelayMs: undefined,
  };
  const [raw] = err.metadata ? err.metadata.get('grpc-status-details-bin') : [];
  if (!raw) return details;
  for (const any of Status.decode(raw).details) {
    const typeName = (any.type_url || any.typeUrl).split('/').pop();
    const type = googleRpc.lookupType(typeName);
    const detail = type.toObject(type.decode(any.value), { longs: String });
    if (typeName === 'google.rpc.ErrorInfo') {
      details.reason = detail.reason;
      details.domain = detail.domain;
    } else if (typeName === 'google.rpc.BadRequest') {
      for (const v of detail.fieldViolations || []) {
        details.fieldViolations[v.field] = v.description;
      }
    } else if (typeName === 'google.rpc.RetryInfo') {
      const d = detail.retryDelay || {};
      details.retryDelayMs = Number(d.seconds || 0) * 1000 + (d.nanos || 0) / 1e6;
    }
  }
  return details;
}

// Worth retrying: the request may or may not have reached Redis. With an
// idempotency key a retry is safe either way.
const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

// --- Stock that never oversells --------------------------------------------

/**
 * Takes every item of an order from a store's stock, or none of them.
 * `items` maps product -> quantity. `orderId` is the order's idempotency key:
 * placing the same order again takes nothing and answers the first reply.
 */
async function placeOrder(rmw, store, orderId, items) {
  const response = await call(rmw.inventory, 'PlaceOrder', {
    store,
    orderId,
    items: Object.entries(items).map(([product, quantity]) => ({
      product,
      quantity: String(quantity),
    })),
  });
  if (response.outcome === 'placed') {
    for (const c of response.placed.changes) console.log(`  ${c.product}: ${c.before} -> ${c.after}`);
  } else if (response.outcome === 'insufficientStock') {
    // Not an error: a normal answer, and nothing was taken.
    const s = response.insufficientStock;
    console.log(`  refused: ${s.product} has ${s.available}, order wants ${s.requested}`);
  }
  return response;
}

// --- Checkout with holds: reserve now, decide later ------------------------------

/**
 * Holds a cart's items for `ttlMs` milliseconds (by Redis's clock). Held
 * units are out of reach of every other order and hold until the hold is
 * committed, released, or expires, when they come back by themselves.
 * `holdId` is the hold's idempotency key, and the id of the order a commit
 * makes.
 */
async function holdCart(rmw, store, holdId, items, ttlMs) {
  return call(rmw.inventory, 'HoldStock', {
    store,
    holdId,
    items: Object.entries(items).map(([product, quantity]) => ({
      product,
      quantity: String(quantity),
    })),
    // google.protobuf.Duration: whole seconds and nanoseconds.
    ttl: { seconds: String(Math.floor(ttlMs / 1000)), nanos: (ttlMs % 1000) * 1e6 },
  });
}

/**
 * Commits a hold once the payment went through: the units leave. The
 * payment id as the request id makes a retry after a lost reply answer the
 * first reply. A hold that expired meanwhile answers `expired` and takes
 * nothing: the shop then holds again or refunds.
 */
async function commitOnPayment(rmw, store, holdId, paymentId) {
  return call(rmw.inventory, 'CommitHold', { store, holdId, requestId: paymentId });
}

/** Polls GetHold until the hold has ended; resolves to its state's name. */
async function waitUntilEnded(rmw, store, holdId, withinMs = 10000) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const got = await call(rmw.inventory, 'GetHold', { store, holdId });
    if (got.hold.state !== 'HOLD_STATE_HELD' || Date.now() > deadline) return got.hold.state;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// --- Following changes: a watch that resumes ---------------------------------

/**
 * Follows a store's movements in order, each once, across disconnects.
 *
 * `for await (const movement of watcher.movements())` yields Movement
 * messages. The watcher keeps the id of the last one and, when the stream
 * breaks with a status to resume after (the service restarting:
 * UNAVAILABLE; the watcher too slow: ABORTED; the call cut: CANCELLED),
 * watches again from there, so nothing is missed or repeated. `start` is
 * where a watch without an id begins: 'now' or 'oldest' (what the store's
 * journal still keeps). `stop()` ends it.
 */
class MovementWatcher {
  constructor(rmw, store, { fromId = '', start = 'now' } = {}) {
    Object.assign(this, { rmw, store, lastId: fromId, start, resumes: 0, trimmed: 0 });
    this.stream = null;
    this.stopped = false;
  }

  async *movements() {
    const resume = new Set([grpc.status.UNAVAILABLE, grpc.status.ABORTED, grpc.status.CANCELLED]);
    while (!this.stopped) {
      this.stream = this.rmw.inventory.WatchMovements({
        store: this.store,
        fromId: this.lastId,
        start: this.lastId ? 'WATCH_START_UNSPECIFIED' : `WATCH_START_${this.start.toUpperCase()}`,
      });
      try {
        for await (const message of this.stream) {
          if (message.event === 'trimmed') {
            // History after our position is gone: re-read the levels
            // (GetStock) if they matter.
            this.trimmed += 1;
            continue;
          }
          this.lastId = message.movement.id;
          yield message.movement;
        }
      } catch (err) {
        if (this.stopped || !resume.has(err.code)) throw err;
        this.resumes += 1;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Cuts the current call, as a dropped connection would. */
  interrupt() {
    if (this.stream) this.stream.cancel();
  }

  stop() {
    this.stopped = true;
    this.interrupt();
  }
}

// --- A lease whose token fences every write ------------------------------------

/** Someone else held the lease until the wait ran out. */
class LeaseHeld extends Error {
  constructor(holders) {
    super(holders.map((h) => `${h.owner} (token ${h.token})`).join(', '));
    this.holders = holders;
  }
}

/** The lease is no longer ours: stop writing, acquire it again. */
class LeaseLost extends Error {}

/**
 * A lease held until released, renewed in the background.
 *
 * Pass `lease.fence()` as every protected write's `fence`: rmw refuses the
 * write (`fenced`) once the grant is not current, even if this process
 * paused and does not know it yet. `fence()` itself throws `LeaseLost` once
 * a renewal failed or the grant's time ran out here, so a holder that
 * noticed stops writing at once. Use `withLease` (or, where the runtime has
 * it, `await using lease = await Lease.acquire(...)`) so it is released.
 */
class Lease {
  static async acquire(rmw, name, owner, { ttlMs = 10000, waitMs = 30000 } = {}) {
    const asked = Date.now();
    const reply = await call(
      rmw.leases,
      'Acquire',
      { name, owner, ttl: duration(ttlMs), wait: true },
      waitMs,
    );
    if (reply.outcome === 'held') throw new LeaseHeld(reply.held.holders);
    return new Lease(rmw, name, owner, ttlMs, reply.acquired.token, asked);
  }

  constructor(rmw, name, owner, ttlMs, token, asked) {
    Object.assign(this, { rmw, name, owner, ttlMs, token, lost: false });
    this.validUntil = asked + ttlMs; // by this process's clock, a little early
    // Renew at a third of the ttl: two renewals may fail before it ends.
    this.timer = setInterval(() => this.renew(), ttlMs / 3);
  }

  async renew() {
    const asked = Date.now();
    try {
      const reply = await call(
        this.rmw.leases,
        'Renew',
        { name: this.name, token: this.token, ttl: duration(this.ttlMs) },
        this.ttlMs / 3,
      );
      if (reply.outcome === 'lost') this.markLost();
      else this.validUntil = asked + this.ttlMs;
    } catch (err) {
      if (Date.now() >= this.validUntil) this.markLost();
    }
  }

  markLost() {
    this.lost = true;
    clearInterval(this.timer);
  }

  /** Stops renewing, as a process paused by GC would (for tests). */
  pauseRenewals() {
    clearInterval(this.timer);
  }

  fence() {
    if (this.lost || Date.now() >= this.validUntil) {
      throw new LeaseLost(`${this.name}: token ${this.token} is no longer ours`);
    }
    return { lease: this.name, token: this.token };
  }

  async release() {
    clearInterval(this.timer);
    await call(this.rmw.leases, 'Release', { name: this.name, token: this.token }).catch(
      () => {}, // it expires by itself
    );
  }
}

if (Symbol.asyncDispose) {
  Lease.prototype[Symbol.asyncDispose] = Lease.prototype.release;
}

/** Runs `fn(lease)` holding the lease, and releases it however fn ends. */
async function withLease(rmw, name, owner, options, fn) {
  const lease = await Lease.acquire(rmw, name, owner, options);
  try {
    return await fn(lease);
  } finally {
    await lease.release();
  }
}

/** Milliseconds as a google.protobuf.Duration (rmw takes whole ms). */
function duration(ms) {
  const whole = Math.round(ms);
  return { seconds: String(Math.floor(whole / 1000)), nanos: (whole % 1000) * 1e6 };
}

// --- Money, with a retried transfer id ---------------------------------------

/**
 * Moves `amount` minor units (cents) once, however often it is retried.
 *
 * The caller makes `transferId` once (an id from its own system, or a uuid
 * stored with the payment) and every attempt reuses it. If a reply is lost
 * and the transfer is sent again, rmw answers the first reply with
 * `replayed: true` and moves nothing. Reusing the id for a different transfer
 * is refused with ALREADY_EXISTS, reason REQUEST_ID_REUSED.
 */
async function transfer(rmw, book, fromAccount, toAccount, amount, transferId, attempts = 3) {
  const request = { book, fromAccount, toAccount, amount: String(amount), transferId };
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(rmw.ledger, 'Transfer', request);
    } catch (err) {
      if (!RETRYABLE.has(err.code) || attempt >= attempts) throw err;
      const delay = errorDetails(err).retryDelayMs ?? 100 * attempt;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

// --- Compare-and-swap ----------------------------------------------------------

/**
 * Read-modify-write of one value, safe against concurrent writers.
 *
 * Reads the value, computes the new one with `update` (which gets null when
 * the key does not exist) and swaps it in only if nobody changed the value
 * meanwhile. A lost race is a `conflict` answer that carries the value stored
 * now, so the next attempt needs no extra read.
 */
async function casUpdate(rmw, key, update, attempts = 10) {
  const got = await call(rmw.values, 'GetValue', { key });
  let current = got.outcome === 'value' ? got.value : null;
  for (let i = 0; i < attempts; i++) {
    const newValue = update(current);
    const request = { key, newValue };
    // Leaving `expected` unset means "the key must not exist yet".
    if (current !== null) request.expected = current;
    const response = await call(rmw.values, 'CompareAndSwap', request);
    if (response.outcome === 'swapped') return newValue;
    const { conflict } = response;
    current = conflict._current === 'current' ? conflict.current : null;
  }
  throw new Error(`${key}: still contended after ${attempts} attempts`);
}

// --- The walk-through ---------------------------------------------------------

async function main(addr = DEFAULT_ADDR) {
  // Unique names, so the walk-through can run again against the same Redis.
  const run = crypto.randomUUID().slice(0, 8);
  const rmw = connect(addr);
  try {
    const store = `shop-${run}`;
    console.log(`stock in store ${store}`);
    await call(rmw.inventory, 'SetStock', {
      store,
      levels: [
        { product: 'mug', quantity: '3' },
        { product: 'tee', quantity: '10' },
      ],
    });
    console.log('order 1: 2 tees and a mug');
    await placeOrder(rmw, store, `order-${run}-1`, { tee: 2, mug: 1 });
    console.log('order 2: 5 mugs');
    await placeOrder(rmw, store, `order-${run}-2`, { mug: 5 });

    console.log('checkout: hold the last 2 mugs for 15 minutes, then the payment lands');
    const held = await holdCart(rmw, store, `cart-${run}-1`, { mug: 2 }, 900000);
    const level = held.held.levels[0];
    console.log(`  mug: ${level.quantity} on hand, ${level.held} held, ${level.available} available`);
    const committed = await commitOnPayment(rmw, store, `cart-${run}-1`, `pay-${run}-1`);
    console.log(`  commit: ${committed.outcome}`);
    console.log('abandoned cart: hold 3 tees for 0.3 s and walk away');
    await holdCart(rmw, store, `cart-${run}-2`, { tee: 3 }, 300);
    console.log(`  the hold ended: ${await waitUntilEnded(rmw, store, `cart-${run}-2`)}`);
    const late = await commitOnPayment(rmw, store, `cart-${run}-2`, `pay-${run}-2`);
    console.log(`  a late payment's commit: ${late.outcome}`);

    const book = `book-${run}`;
    console.log(`credit alice 100.00 in ${book}`);
    await call(rmw.ledger, 'Credit', {
      book,
      account: 'alice',
      amount: '10000',
      requestId: `opening-${run}`,
    });
    const transferId = `tx-${run}`; // made once; every retry reuses it
    for (const attempt of [1, 2]) {
      // The second call plays a retry after a lost reply.
      const reply = await transfer(rmw, book, 'alice', 'bob', 2500, transferId);
      const moved = reply.transferred;
      console.log(
        `transfer ${transferId} (call ${attempt}): replayed=${reply.replayed},` +
          ` alice=${moved.fromBalance}, bob=${moved.toBalance}`,
      );
    }
    try {
      await transfer(rmw, book, 'alice', 'bob', 9999, transferId);
    } catch (err) {
      const d = errorDetails(err);
      console.log(`same id, other amount: ${grpc.status[d.code]} ${d.reason}`);
    }

    const key = `visits:${run}`;
    for (let i = 0; i < 3; i++) {
      await casUpdate(rmw, key, (old) => Buffer.from(String(Number(old ? old.toString() : '0') + 1)));
    }
    const got = await call(rmw.values, 'GetValue', { key });
    console.log(`${key} = ${got.value} after three CAS increments`);

    try {
      await call(rmw.values, 'CompareAndSwap', { key: '', newValue: Buffer.from('x') });
    } catch (err) {
      const d = errorDetails(err);
      console.log(`empty key: ${grpc.status[d.code]}, ${JSON.stringify(d.fieldViolations)}`);
    }
  } finally {
    rmw.close();
  }
}

module.exports = {
  connect,
  call,
  errorDetails,
  placeOrder,
  holdCart,
  commitOnPayment,
  waitUntilEnded,
  MovementWatcher,
  Lease,
  LeaseHeld,
  LeaseLost,
  withLease,
  transfer,
  casUpdate,
  main,
  TIMEOUT_MS,
};

if (require.main === module) {
  main(process.env.RMW_ADDR || DEFAULT_ADDR).catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
