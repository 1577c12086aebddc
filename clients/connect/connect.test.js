// Stock Connect and gRPC-Web clients (connectrpc, code generated from
// proto/ by protoc-gen-es) against a live rmw's HTTP paths:
//
//     RMW_ADDR=127.0.0.1:50051 node --test clients/connect/
//
// The same calls over Connect JSON (HTTP/1.1), Connect protobuf (HTTP/2)
// and gRPC-Web (HTTP/1.1): typed replies, exact int64, errors with their
// code and details, and a watch streamed to its deadline.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient, Code, ConnectError } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { ValuesService } from './gen/rmw/v1/values_pb.js';
import { LedgerService } from './gen/rmw/v1/ledger_pb.js';
import { InventoryService } from './gen/rmw/v1/inventory_pb.js';
import { WatchStart } from './gen/rmw/v1/watch_pb.js';

const addr = process.env.RMW_ADDR;
assert.ok(addr, 'set RMW_ADDR to the address of a running rmw (host:port)');
const baseUrl = `http://${addr}`;

const transports = {
  'Connect JSON over HTTP/1.1': () => createConnectTransport({ baseUrl, httpVersion: '1.1' }),
  'Connect protobuf over HTTP/2': () =>
    createConnectTransport({ baseUrl, httpVersion: '2', useBinaryFormat: true }),
  'gRPC-Web over HTTP/1.1': () => createGrpcWebTransport({ baseUrl, httpVersion: '1.1' }),
};

const uid = () => randomUUID().replaceAll('-', '');
const bytes = (text) => new TextEncoder().encode(text);

for (const [name, transport] of Object.entries(transports)) {
  test(`${name}: compare-and-swap outcomes are typed`, async () => {
    const values = createClient(ValuesService, transport());
    const key = `connect-${uid()}`;
    const swapped = await values.compareAndSwap({ key, newValue: bytes('a') });
    assert.equal(swapped.outcome.case, 'swapped');
    const conflict = await values.compareAndSwap({ key, newValue: bytes('b') });
    assert.equal(conflict.outcome.case, 'conflict');
    assert.deepEqual(conflict.outcome.value.current, bytes('a'));
  });

  test(`${name}: int64 at 2^53-1 is exact`, async () => {
    const ledger = createClient(LedgerService, transport());
    const book = `eu-${uid()}`;
    const credited = await ledger.credit({
      book, account: 'alice', amount: 9007199254740991n, reference: 'r',
    });
    assert.equal(credited.outcome.case, 'posted');
    assert.equal(credited.outcome.value.balanceAfter, 9007199254740991n);
  });

  test(`${name}: an invalid request is INVALID_ARGUMENT with its details`, async () => {
    const values = createClient(ValuesService, transport());
    let error;
    try {
      await values.compareAndSwap({ key: '' });
    } catch (e) {
      error = ConnectError.from(e);
    }
    assert.ok(error, 'expected the call to fail');
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /key: must not be empty/);
    const types = error.details.map((d) => d.desc?.typeName ?? d.type);
    assert.deepEqual(types, ['google.rpc.ErrorInfo', 'google.rpc.BadRequest']);
  });

  test(`${name}: a watch streams events until its deadline`, async () => {
    const inventory = createClient(InventoryService, transport());
    const store = `s-${uid()}`;
    for (const quantity of [3n, 5n]) {
      await inventory.setStock({ store, levels: [{ product: 'mug', quantity }] });
    }
    const seen = [];
    let error;
    try {
      const events = inventory.watchMovements(
        { store, start: WatchStart.OLDEST },
        { timeoutMs: 700 },
      );
      for await (const event of events) {
        seen.push(event.event.value.after);
      }
    } catch (e) {
      error = ConnectError.from(e);
    }
    assert.deepEqual(seen, [3n, 5n]);
    assert.equal(error?.code, Code.DeadlineExceeded);
  });
}
