import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejections } from '../../actors/account/decider.js';
import { dedupEntriesMax, dedupWindowMs, emptySnapshot, handleCommand, internalErrorReason } from '../../actors/account/host.js';
import { decodeSnapshot, encodeSnapshot, type AggregateSnapshot } from '../../topics/aggregates-changelog.js';
import type { Command } from '../../topics/commands.js';
import { cmd, handleAll, issuedAt, issuedAtMs, received, receivedAtMs } from '../support/given.js';

const at = (ms: number) => new Date(ms).toISOString();
const hourMs = 60 * 60 * 1000;
const dayMs = 24 * hourMs;

test('the constants: 24 h window, 100 entries, "internal error"', () => {
  assert.is(dedupWindowMs, 86_400_000);
  assert.is(dedupEntriesMax, 100);
  assert.is(internalErrorReason, 'internal error');
});

test('an accepted command: envelope with seq = version + 1, eventId aggregateId:seq, occurredAt = issuedAt', () => {
  const open = cmd.open('acc-1', 'EUR', { commandId: 'c-1', issuedAt: '2026-03-04T05:06:07.000Z' });
  const { snapshot, outcome } = handleCommand(emptySnapshot, open, receivedAtMs);
  assert.equal(outcome, {
    result: { commandId: 'c-1', aggregateId: 'acc-1', status: 'accepted', version: 1 },
    events: [
      {
        eventId: 'acc-1:1',
        aggregateId: 'acc-1',
        seq: 1,
        commandId: 'c-1',
        occurredAt: '2026-03-04T05:06:07.000Z',
        type: 'AccountOpened',
        payload: { ownerId: 'owner-1', currency: 'EUR' },
      },
    ],
    followUps: [],
  });
  assert.equal(snapshot, {
    version: 1,
    state: { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 0 },
    // The entry keeps the broker's time, not the client's issuedAt (which only becomes occurredAt).
    recent: [{ commandId: 'c-1', status: 'accepted', version: 1, receivedAtMs }],
  });
});

test('seq continues from the snapshot version', () => {
  const { snapshot, outcomes } = handleAll(emptySnapshot, [
    cmd.open('acc-1', 'EUR', { commandId: 'c-1' }),
    cmd.deposit('acc-1', 500, { commandId: 'c-2' }),
    cmd.withdraw('acc-1', 200, { commandId: 'c-3' }),
  ]);
  assert.equal(
    outcomes.map((o) => o.events.map((e) => [e.eventId, e.seq, e.commandId])),
    [[['acc-1:1', 1, 'c-1']], [['acc-1:2', 2, 'c-2']], [['acc-1:3', 3, 'c-3']]],
  );
  assert.equal(outcomes.map((o) => o.result.version), [1, 2, 3]);
  assert.is(snapshot.version, 3);
  assert.equal(snapshot.state, { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 300 });

  const later = handleCommand({ ...snapshot, version: 41 }, cmd.deposit('acc-1', 1, { commandId: 'c-4' }), receivedAtMs);
  assert.equal(later.outcome.events.map((e) => [e.eventId, e.seq]), [['acc-1:42', 42]]);
  assert.is(later.snapshot.version, 42);
});

test('the input snapshot is not mutated', () => {
  const { snapshot } = handleAll(emptySnapshot, [cmd.open('acc-1', 'EUR', { commandId: 'c-1' })]);
  const copy = structuredClone(snapshot);
  handleCommand(snapshot, cmd.deposit('acc-1', 500, { commandId: 'c-2' }), receivedAtMs);
  assert.equal(snapshot, copy);
  assert.equal(emptySnapshot, { version: 0, state: { status: 'none' }, recent: [] });
});

test('a rejected command: no events, version unchanged, reason remembered', () => {
  const { snapshot: opened } = handleAll(emptySnapshot, [cmd.open('acc-1', 'EUR', { commandId: 'c-1' })]);
  const { snapshot, outcome } = handleCommand(opened, cmd.withdraw('acc-1', 1, { commandId: 'c-2' }), receivedAtMs + 5);
  assert.equal(outcome, {
    result: { commandId: 'c-2', aggregateId: 'acc-1', status: 'rejected', reason: rejections.insufficientFunds, version: 1 },
    events: [],
    followUps: [],
  });
  assert.is(snapshot.version, 1);
  assert.equal(snapshot.state, opened.state);
  assert.equal(snapshot.recent, [
    { commandId: 'c-1', status: 'accepted', version: 1, receivedAtMs },
    { commandId: 'c-2', status: 'rejected', version: 1, reason: rejections.insufficientFunds, receivedAtMs: receivedAtMs + 5 },
  ]);
});

test('a repeated commandId: duplicate with the original version, nothing emitted, snapshot untouched', () => {
  const { snapshot } = handleAll(emptySnapshot, [
    cmd.open('acc-1', 'EUR', { commandId: 'c-1' }),
    cmd.deposit('acc-1', 500, { commandId: 'c-2' }),
    cmd.deposit('acc-1', 100, { commandId: 'c-3' }),
  ]);
  const copy = structuredClone(snapshot);
  // The retry may even carry another payload: the commandId alone decides.
  const retry = handleCommand(snapshot, cmd.deposit('acc-1', 999, { commandId: 'c-2' }), receivedAtMs + hourMs);
  assert.equal(retry.outcome, {
    result: { commandId: 'c-2', aggregateId: 'acc-1', status: 'duplicate', version: 2 },
    events: [],
    followUps: [],
  });
  assert.is(retry.snapshot, snapshot);
  assert.equal(retry.snapshot, copy);
});

test('a repeated commandId of a rejected command: duplicate with the original reason', () => {
  const { snapshot } = handleAll(emptySnapshot, [
    cmd.open('acc-1', 'EUR', { commandId: 'c-1' }),
    cmd.withdraw('acc-1', 50, { commandId: 'c-2' }),
    cmd.deposit('acc-1', 100, { commandId: 'c-3' }),
  ]);
  const copy = structuredClone(snapshot);
  // Now the withdrawal would succeed, but the retry gets the original outcome.
  const retry = handleCommand(snapshot, cmd.withdraw('acc-1', 50, { commandId: 'c-2' }), receivedAtMs + hourMs);
  assert.equal(retry.outcome, {
    result: { commandId: 'c-2', aggregateId: 'acc-1', status: 'duplicate', reason: rejections.insufficientFunds, version: 1 },
    events: [],
    followUps: [],
  });
  assert.is(retry.snapshot, snapshot);
  assert.equal(retry.snapshot, copy);
});

test('a repeated TransferMoney emits no second CreditTransfer', () => {
  const transfer = cmd.transfer('acc-1', 'acc-2', 100, 't-1', { commandId: 'c-3' });
  const first = handleAll(emptySnapshot, [cmd.open('acc-1', 'EUR', { commandId: 'c-1' }), cmd.deposit('acc-1', 500, { commandId: 'c-2' }), transfer]);
  assert.is(first.outcomes[2]?.followUps.length, 1);
  const retry = handleCommand(first.snapshot, transfer, receivedAtMs + hourMs);
  assert.is(retry.outcome.result.status, 'duplicate');
  assert.equal(retry.outcome.followUps, []);
  assert.equal(retry.snapshot.state, { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 400 });
});

test(`the dedup list keeps only the last ${dedupEntriesMax} commands`, () => {
  const deposits = Array.from({ length: dedupEntriesMax + 1 }, (_, i) => cmd.deposit('acc-1', 1, { commandId: `d-${i}` }));
  const { snapshot } = handleAll(emptySnapshot, [cmd.open('acc-1', 'EUR', { commandId: 'open' }), ...deposits]);
  assert.is(snapshot.version, dedupEntriesMax + 2);
  assert.is(snapshot.recent.length, dedupEntriesMax);
  assert.is(snapshot.recent[0]?.commandId, 'd-1');
  assert.is(snapshot.recent.at(-1)?.commandId, `d-${dedupEntriesMax}`);
  // Capped after every single command, not only at the end.
  let step = emptySnapshot;
  const sizes: number[] = [];
  for (const command of [cmd.open('acc-1', 'EUR', { commandId: 'open' }), ...deposits]) {
    step = handleCommand(step, command, receivedAtMs).snapshot;
    sizes.push(step.recent.length);
  }
  assert.equal(sizes.slice(dedupEntriesMax - 2), [dedupEntriesMax - 1, dedupEntriesMax, dedupEntriesMax, dedupEntriesMax]);

  // 'open' and 'd-0' fell out, so they are handled again; 'd-1' is still known.
  assert.equal(handleCommand(snapshot, cmd.open('acc-1', 'EUR', { commandId: 'open' }), receivedAtMs).outcome.result, {
    commandId: 'open',
    aggregateId: 'acc-1',
    status: 'rejected',
    reason: rejections.alreadyOpen,
    version: dedupEntriesMax + 2,
  });
  const again = handleCommand(snapshot, cmd.deposit('acc-1', 1, { commandId: 'd-0' }), receivedAtMs);
  assert.is(again.outcome.result.status, 'accepted');
  assert.equal(again.snapshot.state, { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: dedupEntriesMax + 2 });
  assert.equal(handleCommand(snapshot, cmd.deposit('acc-1', 1, { commandId: 'd-1' }), receivedAtMs).outcome.result, {
    commandId: 'd-1',
    aggregateId: 'acc-1',
    status: 'duplicate',
    version: 3,
  });
});

test('entries older than the window (by receivedAtMs) are dropped; exactly the window is kept', () => {
  // Every command carries the same issuedAt: only the broker's time moves.
  const { snapshot: opened } = handleAll(emptySnapshot, [cmd.open('acc-1', 'EUR', { commandId: 'open', issuedAt })]);

  const atEdge = handleCommand(opened, cmd.deposit('acc-1', 5, { commandId: 'edge', issuedAt }), receivedAtMs + dedupWindowMs).snapshot;
  assert.equal(atEdge.recent.map((e) => e.commandId), ['open', 'edge']);

  const past = handleCommand(opened, cmd.deposit('acc-1', 5, { commandId: 'past', issuedAt }), receivedAtMs + dedupWindowMs + 1).snapshot;
  assert.equal(past.recent, [{ commandId: 'past', status: 'accepted', version: 2, receivedAtMs: receivedAtMs + dedupWindowMs + 1 }]);

  // The very old commandId is no longer recognised: it is decided again.
  const replay = handleCommand(past, cmd.open('acc-1', 'EUR', { commandId: 'open', issuedAt }), receivedAtMs + dedupWindowMs + 2);
  assert.equal(replay.outcome.result, { commandId: 'open', aggregateId: 'acc-1', status: 'rejected', reason: rejections.alreadyOpen, version: 2 });
});

test('a repeated commandId more than 24 h later by receivedAtMs is handled again, though its issuedAt is unchanged', () => {
  // The client's clock says no time passed (the retry is byte-identical); the broker's says 24 h did.
  const deposit = cmd.deposit('acc-1', 100, { commandId: 'dep', issuedAt });
  const { snapshot } = handleAll(emptySnapshot, [
    cmd.open('acc-1', 'EUR', { commandId: 'open', issuedAt }),
    deposit,
    received(cmd.deposit('acc-1', 1, { commandId: 'late', issuedAt }), receivedAtMs + dedupWindowMs + 1),
  ]);
  assert.equal(snapshot.recent.map((e) => e.commandId), ['late']);
  const replay = handleCommand(snapshot, deposit, receivedAtMs + dedupWindowMs + 2);
  assert.equal(replay.outcome.result, { commandId: 'dep', aggregateId: 'acc-1', status: 'accepted', version: 4 });
  assert.equal(replay.snapshot.state, { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 201 });
});

test('quiet aggregate: the same commandId 24 h + 1 ms later is handled again, though no newer command pruned it', () => {
  const funded: AggregateSnapshot = { version: 1, state: { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 0 }, recent: [] };
  const deposit = cmd.deposit('acc-1', 100, { commandId: 'dep', issuedAt });
  const first = handleCommand(funded, deposit, receivedAtMs);
  assert.equal(first.outcome.result, { commandId: 'dep', aggregateId: 'acc-1', status: 'accepted', version: 2 });
  // Nothing else happened on the aggregate: the entry is still stored.
  assert.equal(first.snapshot.recent, [{ commandId: 'dep', status: 'accepted', version: 2, receivedAtMs }]);

  const again = handleCommand(first.snapshot, deposit, receivedAtMs + dedupWindowMs + 1);
  assert.equal(again.outcome.result, { commandId: 'dep', aggregateId: 'acc-1', status: 'accepted', version: 3 });
  assert.equal(again.outcome.events.map((e) => [e.eventId, e.type]), [['acc-1:3', 'MoneyDeposited']]);
  assert.equal(again.snapshot.state, { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 200 });
  // The old entry is gone, the new one remembered with the broker's time of the resend.
  assert.equal(again.snapshot.recent, [{ commandId: 'dep', status: 'accepted', version: 3, receivedAtMs: receivedAtMs + dedupWindowMs + 1 }]);

  // Exactly 24 h later is still inside the window.
  const atEdge = handleCommand(first.snapshot, deposit, receivedAtMs + dedupWindowMs);
  assert.equal(atEdge.outcome.result, { commandId: 'dep', aggregateId: 'acc-1', status: 'duplicate', version: 2 });
  assert.is(atEdge.snapshot, first.snapshot);
});

test('quiet aggregate: a rejected commandId re-sent after the window is decided again (and may now pass)', () => {
  const opened: AggregateSnapshot = { version: 1, state: { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 0 }, recent: [] };
  const withdraw = cmd.withdraw('acc-1', 50, { commandId: 'wd' });
  const first = handleCommand(opened, withdraw, receivedAtMs);
  assert.equal(first.outcome.result, { commandId: 'wd', aggregateId: 'acc-1', status: 'rejected', reason: rejections.insufficientFunds, version: 1 });
  // Funded behind the dedup list's back (no entry added), so the aggregate stays quiet.
  const funded: AggregateSnapshot = { ...first.snapshot, version: 2, state: { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 100 } };
  const inside = handleCommand(funded, withdraw, receivedAtMs + dedupWindowMs);
  assert.equal(inside.outcome.result, { commandId: 'wd', aggregateId: 'acc-1', status: 'duplicate', reason: rejections.insufficientFunds, version: 1 });
  const after = handleCommand(funded, withdraw, receivedAtMs + dedupWindowMs + 1);
  assert.equal(after.outcome.result, { commandId: 'wd', aggregateId: 'acc-1', status: 'accepted', version: 3 });
  assert.equal(after.snapshot.state, { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 50 });
});

test('a repeated commandId less than 24 h later by receivedAtMs is a duplicate, though its issuedAt says days passed', () => {
  const { snapshot } = handleAll(emptySnapshot, [
    cmd.open('acc-1', 'EUR', { commandId: 'open', issuedAt }),
    cmd.deposit('acc-1', 100, { commandId: 'dep', issuedAt }),
    received(cmd.deposit('acc-1', 1, { commandId: 'later', issuedAt: at(issuedAtMs + 3 * dayMs) }), receivedAtMs + dedupWindowMs - 1),
  ]);
  assert.equal(snapshot.recent.map((e) => e.commandId), ['open', 'dep', 'later']);
  const retry = handleCommand(snapshot, cmd.deposit('acc-1', 100, { commandId: 'dep', issuedAt: at(issuedAtMs + 3 * dayMs) }), receivedAtMs + dedupWindowMs);
  assert.equal(retry.outcome.result, { commandId: 'dep', aggregateId: 'acc-1', status: 'duplicate', version: 2 });
  assert.is(retry.snapshot, snapshot);
});

test('a command issued far in the future (a client clock) does not push earlier entries out of the window', () => {
  const farFuture = at(issuedAtMs + 365 * dayMs);
  const { snapshot } = handleAll(emptySnapshot, [
    cmd.open('acc-1', 'EUR', { commandId: 'open' }),
    cmd.deposit('acc-1', 100, { commandId: 'dep' }),
    received(cmd.deposit('acc-1', 1, { commandId: 'skewed', issuedAt: farFuture }), receivedAtMs + 1000),
  ]);
  assert.equal(snapshot.recent, [
    { commandId: 'open', status: 'accepted', version: 1, receivedAtMs },
    { commandId: 'dep', status: 'accepted', version: 2, receivedAtMs },
    { commandId: 'skewed', status: 'accepted', version: 3, receivedAtMs: receivedAtMs + 1000 },
  ]);
  // A retry of the earlier deposit is still recognised: the money is not deposited twice.
  const retry = handleCommand(snapshot, cmd.deposit('acc-1', 100, { commandId: 'dep' }), receivedAtMs + 2000);
  assert.equal(retry.outcome.result, { commandId: 'dep', aggregateId: 'acc-1', status: 'duplicate', version: 2 });
  assert.equal(retry.outcome.events, []);
  assert.equal(retry.snapshot.state, { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 101 });
});

test('a command issued long ago (a client clock) is remembered and not dropped by the next command', () => {
  const stale = cmd.deposit('acc-1', 100, { commandId: 'stale', issuedAt: at(issuedAtMs - 30 * dayMs) });
  const { snapshot } = handleAll(emptySnapshot, [
    cmd.open('acc-1', 'EUR', { commandId: 'open' }),
    received(stale, receivedAtMs + 1000),
    received(cmd.deposit('acc-1', 1, { commandId: 'next' }), receivedAtMs + 2000),
  ]);
  assert.equal(snapshot.recent.map((e) => [e.commandId, e.receivedAtMs]), [
    ['open', receivedAtMs],
    ['stale', receivedAtMs + 1000],
    ['next', receivedAtMs + 2000],
  ]);
  const retry = handleCommand(snapshot, stale, receivedAtMs + 3000);
  assert.equal(retry.outcome.result, { commandId: 'stale', aggregateId: 'acc-1', status: 'duplicate', version: 2 });
  assert.equal(retry.snapshot.state, { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 101 });
});

test('the snapshot the host produces survives the changelog wire format unchanged', () => {
  const { snapshot } = handleAll(emptySnapshot, [cmd.open('acc-1', 'EUR', { commandId: 'c-1' }), cmd.withdraw('acc-1', 5, { commandId: 'c-2' })]);
  assert.is(snapshot.recent[1]?.status, 'rejected', 'one accepted and one rejected entry');
  assert.equal(decodeSnapshot(encodeSnapshot(snapshot)), { ok: true, value: snapshot });
  // An entry without the broker's time is not a valid snapshot.
  const wire = JSON.parse(encodeSnapshot(snapshot).toString()) as { recentRel: unknown[][] };
  wire.recentRel[0] = wire.recentRel[0]!.slice(0, 2);
  assert.is(decodeSnapshot(Buffer.from(JSON.stringify(wire))).ok, false);
});

test('the wire format: relative numbers, any order of versions and times, and the older forms still read', () => {
  const recent: AggregateSnapshot['recent'] = [
    { commandId: 'c-1', status: 'accepted', version: 1, receivedAtMs },
    { commandId: 'c-2', status: 'rejected', version: 1, receivedAtMs: receivedAtMs + 5, reason: rejections.insufficientFunds },
    { commandId: 'c-3', status: 'accepted', version: 2, receivedAtMs: receivedAtMs - 3 }, // a broker clock that stepped back
    { commandId: 'c-4', status: 'accepted', version: 4, receivedAtMs: receivedAtMs + 1_000 },
  ];
  const snapshot: AggregateSnapshot = { version: 5, state: { status: 'open', ownerId: 'o', currency: 'EUR', balance: 9 }, recent };
  const wire = JSON.parse(encodeSnapshot(snapshot).toString()) as { recentRel: unknown[][]; recentAtMs: number };
  assert.equal(wire.recentRel, [['c-1', 0, 5], ['c-2', 1, -8, rejections.insufficientFunds], ['c-3', 2, 1_003], ['c-4', 1, 0]]);
  assert.is(wire.recentAtMs, receivedAtMs + 1_000);
  // No `recent`: code from before relative numbers requires it, so it rejects this snapshot instead of misreading it.
  assert.not.ok('recent' in wire);
  assert.equal(decodeSnapshot(encodeSnapshot(snapshot)), { ok: true, value: snapshot });
  const { recentRel, ...rest } = wire;
  assert.equal(decodeSnapshot(Buffer.from(JSON.stringify({ ...rest, recent: recentRel }))), { ok: true, value: snapshot }, 'the 2026-11-22 form');
  const absolute = { version: 5, state: snapshot.state, recent: recent.map((r) => (r.reason === undefined ? [r.commandId, r.version, r.receivedAtMs] : [r.commandId, r.version, r.receivedAtMs, r.reason])) };
  assert.equal(decodeSnapshot(Buffer.from(JSON.stringify(absolute))), { ok: true, value: snapshot });
  const empty = { ...emptySnapshot, recent: [] };
  assert.equal(decodeSnapshot(encodeSnapshot(empty)), { ok: true, value: empty });
});

test('a full dedup window costs a few bytes per entry beyond its commandId', () => {
  let step = handleAll(emptySnapshot, [cmd.open('acc-1', 'EUR', { commandId: 'open' })]).snapshot;
  for (let i = 0; i < dedupEntriesMax; i++) step = handleCommand(step, cmd.deposit('acc-1', 1, { commandId: `d-${i}` }), receivedAtMs + i * 400).snapshot;
  const bytes = encodeSnapshot(step).length;
  const idBytes = step.recent.reduce((n, r) => n + r.commandId.length, 0);
  // Each entry: the id's quotes, brackets, commas and two short numbers, about 10 bytes.
  assert.ok(bytes - idBytes < 150 + 12 * dedupEntriesMax, `${bytes} bytes, ${idBytes} of them commandIds`);
  assert.equal(decodeSnapshot(encodeSnapshot(step)), { ok: true, value: step });
});

const openSnapshot = (): AggregateSnapshot => ({
  version: 3,
  state: { status: 'open', ownerId: 'owner-1', currency: 'EUR', balance: 700 },
  recent: [{ commandId: 'c-3', status: 'accepted', version: 3, receivedAtMs }],
});

test('a decider that throws: error captured, rejected with "internal error", snapshot unchanged', () => {
  const snapshot = openSnapshot();
  const malformed = { ...cmd.deposit('acc-1', 1, { commandId: 'bad-1' }), payload: null } as never as Command;
  const { snapshot: after, outcome } = handleCommand(snapshot, malformed, receivedAtMs + 1000);
  assert.equal(outcome.result, { commandId: 'bad-1', aggregateId: 'acc-1', status: 'rejected', reason: internalErrorReason, version: 3 });
  assert.equal(outcome.events, []);
  assert.equal(outcome.followUps, []);
  assert.is(outcome.deadLetter?.kind, 'decider-error');
  assert.match(outcome.deadLetter?.reason ?? '', /^decider threw: TypeError: Cannot read properties of null \(reading 'amount'\)/);
  assert.is(after, snapshot);
  assert.equal(after, openSnapshot());
});

test('a refund the account refuses goes to the DLQ too: the amount is held by no account', () => {
  const full = { ...openSnapshot(), state: { status: 'open' as const, ownerId: 'owner-1', currency: 'EUR', balance: Number.MAX_SAFE_INTEGER } };
  const refund = cmd.refund('acc-1', 'acc-2', 5, 'currency mismatch', 't-9', { commandId: 'refund:credit:acc-1:2' });
  const { snapshot, outcome } = handleCommand(full, refund, receivedAtMs + 1000);
  assert.is(outcome.result.status, 'rejected');
  assert.equal(outcome.events, []);
  assert.equal(snapshot.state, full.state);
  assert.is(outcome.deadLetter?.kind, 'refund-rejected');
  assert.match(outcome.deadLetter?.reason ?? '', /^refund of 5 for transfer t-9 rejected \(.+\): the amount is held by no account/);
  // An accepted refund, and other rejections, are not dead-lettered.
  assert.is(handleCommand(openSnapshot(), refund, receivedAtMs + 1000).outcome.deadLetter, undefined);
  assert.is(handleCommand(openSnapshot(), cmd.withdraw('acc-1', 10_000), receivedAtMs + 1000).outcome.deadLetter, undefined);
});

test('a throwing command is not remembered: a retry throws again rather than being a duplicate', () => {
  const malformed = { ...cmd.withdraw('acc-1', 1, { commandId: 'bad-2' }), payload: null } as never as Command;
  const first = handleCommand(openSnapshot(), malformed, receivedAtMs + 1000);
  assert.equal(first.snapshot, openSnapshot());
  const second = handleCommand(first.snapshot, malformed, receivedAtMs + 2000);
  assert.is(second.outcome.result.status, 'rejected');
  assert.is(second.outcome.result.reason, internalErrorReason);
  assert.match(second.outcome.deadLetter?.reason ?? '', /^decider threw: TypeError/);
});

test('a credit whose decider throws refunds the source: the money it debited is not lost', () => {
  const corrupt = { version: 5, state: null, recent: [] } as never as AggregateSnapshot;
  const credit = cmd.credit('acc-2', 'acc-1', 100, 'EUR', 't-1', { commandId: 'credit:acc-1:3' });
  const { snapshot, outcome } = handleCommand(corrupt, credit, receivedAtMs);
  assert.is(outcome.deadLetter?.kind, 'decider-error');
  assert.equal(outcome.events, []);
  assert.is(snapshot, corrupt);
  assert.is(outcome.followUps.length, 1);
  const [refund] = outcome.followUps;
  assert.equal(
    { type: refund!.type, commandId: refund!.commandId, aggregateId: refund!.aggregateId, payload: refund!.payload },
    { type: 'RefundTransfer', commandId: 'refund:credit:acc-1:3', aggregateId: 'acc-1', payload: { amount: 100, reason: 'unknown account', transferId: 't-1', toAccountId: 'acc-2' } },
  );
  // Any other command that throws makes no follow-up.
  assert.equal(handleCommand(corrupt, cmd.deposit('acc-2', 100, { commandId: 'd-1' }), receivedAtMs).outcome.followUps, []);
});

test('a snapshot whose dedup list is corrupt: the host throws, error captured, nothing changed', () => {
  const corrupt = { ...openSnapshot(), recent: null } as never as AggregateSnapshot;
  const { snapshot, outcome } = handleCommand(corrupt, cmd.deposit('acc-1', 5, { commandId: 'd-x' }), receivedAtMs);
  assert.equal(outcome.result, { commandId: 'd-x', aggregateId: 'acc-1', status: 'rejected', reason: internalErrorReason, version: 3 });
  assert.equal(outcome.events, []);
  assert.match(outcome.deadLetter?.reason ?? '', /^decider threw: TypeError: Cannot read properties of null \(reading 'find'\)/);
  assert.is(snapshot, corrupt);
});

test('a snapshot whose state is corrupt: decide throws, error captured', () => {
  const corrupt = { version: 5, state: null, recent: [] } as never as AggregateSnapshot;
  const { snapshot, outcome } = handleCommand(corrupt, cmd.close('acc-1', { commandId: 'c-x' }), receivedAtMs);
  assert.equal(outcome.result, { commandId: 'c-x', aggregateId: 'acc-1', status: 'rejected', reason: internalErrorReason, version: 5 });
  assert.match(outcome.deadLetter?.reason ?? '', /^decider threw: TypeError: Cannot read properties of null \(reading 'status'\)/);
  assert.is(snapshot, corrupt);
  assert.equal(snapshot, { version: 5, state: null, recent: [] });
});

test.run();
