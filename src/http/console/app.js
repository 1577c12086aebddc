// The console: reads the API over the Connect protocol (JSON), the same
// calls any HTTP client makes. Unary calls are POSTs; the live movements
// are a Connect server stream read with fetch's ReadableStream. Nothing
// here writes.
'use strict';

const $ = (selector) => document.querySelector(selector);

function headers() {
  const h = { 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' };
  const token = sessionStorage.getItem('rmw-token');
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

class CallError extends Error {
  constructor(error) {
    super(`${error.code}: ${error.message || ''}`);
    this.code = error.code;
  }
}

/** A unary call: `service` and `method` of rmw.v1, `body` as ProtoJSON. */
async function call(service, method, body) {
  const response = await fetch(`/rmw.v1.${service}/${method}`, {
    method: 'POST',
    headers: { ...headers(), 'Connect-Timeout-Ms': '5000' },
    body: JSON.stringify(body),
  });
  const reply = await response.json();
  if (!response.ok) throw new CallError(reply);
  return reply;
}

/** A server stream: calls `each` with every message until it ends or `signal` aborts. */
async function stream(service, method, body, each, signal) {
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const envelope = new Uint8Array(5 + bytes.length);
  new DataView(envelope.buffer).setUint32(1, bytes.length);
  envelope.set(bytes, 5);
  const response = await fetch(`/rmw.v1.${service}/${method}`, {
    method: 'POST',
    headers: { ...headers(), 'Content-Type': 'application/connect+json' },
    body: envelope,
    signal,
  });
  const reader = response.body.getReader();
  let buffer = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(buffer.length + value.length);
    joined.set(buffer);
    joined.set(value, buffer.length);
    buffer = joined;
    while (buffer.length >= 5) {
      const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
      if (buffer.length < 5 + length) break;
      const flags = buffer[0];
      const message = JSON.parse(new TextDecoder().decode(buffer.subarray(5, 5 + length)));
      buffer = buffer.slice(5 + length);
      if (flags & 2) {
        if (message.error) throw new CallError(message.error);
        return;
      }
      each(message);
    }
  }
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text === undefined ? '' : String(text);
  if (className) td.className = className;
  return td;
}

function fill(table, rows) {
  const body = $(`${table} tbody`);
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement('tr');
    tr.append(...cells);
    return tr;
  }));
}

function show(id, error) {
  const p = $(id);
  p.hidden = !error;
  p.textContent = error ? error.message : '';
}

const yes = (flag) => cell(flag ? 'yes' : 'no', flag ? 'yes' : 'no');
const num = (value) => cell(value || '0', 'num');
const list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
const kind = (value) => (value || '').replace(/^KIND_/, '').toLowerCase();

async function loadHealth() {
  try {
    const health = await call('AdminService', 'GetHealth', {});
    const summary = $('#health-summary');
    summary.textContent = health.serving ? 'SERVING' : 'NOT_SERVING';
    summary.className = `summary ${health.serving ? 'yes' : 'no'}`;
    fill('#components', (health.components || []).map((c) => [
      cell(c.name), yes(c.serving), cell(c.detail), cell(c.since),
    ]));
    const status = await call('AdminService', 'GetScriptStatus', {});
    fill('#scripts', (status.scripts || []).flatMap((s) => (s.nodes || []).map((n) => [
      cell(s.name), cell(n.node), yes(n.loaded), num(n.reloads), cell(n.lastChecked),
    ])));
    show('#health-error', null);
  } catch (error) {
    show('#health-error', error);
  }
}

let watching = null;

function movementRow(m) {
  return [cell(m.id), cell(kind(m.kind)), cell(m.product), num(m.delta), num(m.after),
    cell(m.orderId), cell(m.principal)];
}

async function loadStock(store, products) {
  if (watching) watching.abort();
  try {
    const stock = await call('InventoryService', 'GetStock', { store, products });
    fill('#stock', stock.levels.map((l) => [
      cell(l.product), num(l.quantity), num(l.held), num(l.available),
    ]));
    const page = await call('InventoryService', 'ListMovements', { store, pageSize: 20 });
    const movements = page.movements || [];
    fill('#movements', movements.map(movementRow));
    show('#stock-error', null);
    // Then the movements after the newest shown, as they happen; each
    // refreshes the levels.
    watching = new AbortController();
    const from = movements.length ? { fromId: movements[0].id } : { start: 'WATCH_START_NOW' };
    $('#live').hidden = false;
    stream('InventoryService', 'WatchMovements', { store, ...from }, async (event) => {
      if (!event.movement) return;
      const tr = document.createElement('tr');
      tr.append(...movementRow(event.movement));
      $('#movements tbody').prepend(tr);
      const levels = await call('InventoryService', 'GetStock', { store, products });
      fill('#stock', levels.levels.map((l) => [
        cell(l.product), num(l.quantity), num(l.held), num(l.available),
      ]));
    }, watching.signal).catch((error) => {
      if (error.name !== 'AbortError') show('#stock-error', error);
    }).finally(() => { $('#live').hidden = true; });
  } catch (error) {
    show('#stock-error', error);
  }
}

async function loadLedger(book, accounts) {
  try {
    const balances = await call('LedgerService', 'GetBalances', { book, accounts });
    fill('#balances', balances.balances.map((b) => [
      cell(b.account), num(b.balance), num(b.pendingDebits), num(b.pendingCredits), num(b.available),
    ]));
    const page = await call('LedgerService', 'ListEntries', { book, pageSize: 20 });
    fill('#entries', (page.entries || []).map((e) => [
      cell(e.id), cell(kind(e.kind)), cell(e.fromAccount), cell(e.toAccount), num(e.amount),
      cell(e.reference), cell(e.principal),
    ]));
    show('#ledger-error', null);
  } catch (error) {
    show('#ledger-error', error);
  }
}

function bind(formId, fields, load) {
  const form = $(formId);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const values = fields.map((f) => form.elements[f].value);
    // The view is the address: bookmarkable, and reloads show it again.
    const params = new URLSearchParams(location.search);
    fields.forEach((f, i) => params.set(f, values[i]));
    history.replaceState(null, '', `?${params}`);
    load(values[0], list(values[1]));
  });
  const params = new URLSearchParams(location.search);
  if (fields.every((f) => params.get(f))) {
    fields.forEach((f) => { form.elements[f].value = params.get(f); });
    load(params.get(fields[0]), list(params.get(fields[1])));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('#auth').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem('rmw-token', $('#token').value);
    loadHealth();
  });
  $('#refresh-health').addEventListener('click', loadHealth);
  bind('#stock-form', ['store', 'products'], loadStock);
  bind('#ledger-form', ['book', 'accounts'], loadLedger);
  loadHealth();
});
