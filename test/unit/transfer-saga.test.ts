import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decide, rejections, type AccountState } from '../../actors/account/decider.js';
import { dedupWindowMs, emptySnapshot, handleCommand } from '../../actors/account/host.js';
import { followUps } from '../../actors/transfer/saga.js';
import type { AggregateSnapshot } from '../../topics/aggregates-changelog.js';
import { decodeCommand, encodeCommand, type Command } from '../../topics/commands.js';
import { cmd, handleAll, issuedAt, receivedAtMs } from '../support/given.js';

const open = (balance: number, currency = 'EUR'): AccountState => ({ status: 'open', ownerId: 'owner-1', currency, balance });
const closed = (balance: number, currency = 'EUR'): AccountState => ({ status: 'closed', ownerId: 'owner-1', currency, balance });
const snapshotOf = (state: AccountState, version = 2): AggregateSnapshot => ({ version, state, recent: [] });
const hourMs = 60 * 60 * 1000;
const balanceOf = (snapshot: AggregateSnapshot): number => (snapshot.state.status === 'none' ? 0 : snapshot.state.balance);

/** Runs the command and then, in order, every follow-up on the aggregate it names, one second apart. */
function runSaga(accounts: Map<string, AggregateSnapshot>, command: Command, startMs = receivedAtMs): Command[] {
  const handled: Command[] = [];
  const queue = [command];
  for (let next = queue.shift(), atMs = startMs; next; next = queue.shift(), atMs += 1000) {
    const { snapshot, outcome } = handleCommand(accounts.get(next.aggregateId) ?? emptySnapshot, next, atMs);
    accounts.set(next.aggregateId, snapshot);
    handled.push(next);
    queue.push(...outcome.followUps);
  }
  return handled;
}

test('TransferMoney accepted: exactly one CreditTransfer to the target, in the source currency', () => {
  const transfer = cmd.transfer('acc-1', 'acc-2', 300, 't-7', { commandId: 'c-9', issuedAt: '2026-05-06T07:08:09.000Z' });
  const decision = decide(transfer, open(1000, 'GBP'));
  assert.equal(followUps(transfer, decision, 3), [
    {
      commandId: 'credit:acc-1:3',
      type: 'CreditTransfer',
      aggregateId: 'acc-2',
      payload: { transferId: 't-7', fromAccountId: 'acc-1', amount: 300, currency: 'GBP' },
      issuedAt: '2026-05-06T07:08:09.000Z',
    },
  ]);
});

test('the host passes the source version after the debit: the credit commandId is credit:<from>:<TransferDebited seq>', () => {
  const { outcome } = handleCommand(snapshotOf(open(1000)), cmd.transfer('acc-1', 'acc-2', 300, 't-1', { commandId: 'c-1' }), receivedAtMs);
  assert.equal(outcome.events.map((e) => [e.type, e.seq]), [['TransferDebited', 3]]);
  assert.is(outcome.result.version, 3);
  assert.equal(outcome.followUps.map((c) => [c.type, c.aggregateId, c.commandId]), [['CreditTransfer', 'acc-2', 'credit:acc-1:3']]);

  const later = handleCommand(snapshotOf(open(1000), 41), cmd.transfer('acc-1', 'acc-2', 300, 't-1', { commandId: 'c-1' }), receivedAtMs);
  assert.equal(later.outcome.followUps.map((c) => c.commandId), ['credit:acc-1:42']);
});

test('the credit commandId derives from the source and its version only, not from the transferId or the commandId', () => {
  const decision = (transfer: Command) => decide(transfer, open(1000));
  const t1 = cmd.transfer('acc-1', 'acc-2', 300, 't-1', { commandId: 'c-1' });
  const t2 = cmd.transfer('acc-1', 'acc-2', 300, 't-2', { commandId: 'c-2' });
  const t3 = cmd.transfer('acc-3', 'acc-2', 300, 't-1', { commandId: 'c-1' });
  const ids = (transfer: Command, version: number) => followUps(transfer, decision(transfer), version).map((c) => c.commandId);
  // The same client input, another version: another id.
  assert.equal([ids(t1, 3), ids(t1, 4)], [['credit:acc-1:3'], ['credit:acc-1:4']]);
  // Other client input, the same version: the same id (client input plays no part).
  assert.equal(ids(t2, 3), ['credit:acc-1:3']);
  // The same client input on another source: another id.
  assert.equal(ids(t3, 3), ['credit:acc-3:3']);
  assert.equal(
    [t1, t2, t3].flatMap((t) => followUps(t, decision(t), 3)).map((c) => c.type === 'CreditTransfer' && c.payload.transferId),
    ['t-1', 't-2', 't-1'],
  );
});

test('successive transfers with the same transferId and commandId text get distinct credit ids through the host', () => {
  const { outcomes } = handleAll(snapshotOf(open(1000)), [
    cmd.transfer('acc-1', 'acc-2', 100, 't-1', { commandId: 'c-1' }),
    cmd.deposit('acc-1', 5, { commandId: 'c-2' }),
    cmd.transfer('acc-1', 'acc-2', 100, 't-1', { commandId: 'c-3' }),
  ]);
  assert.equal(outcomes.map((o) => o.followUps.map((c) => c.commandId)), [['credit:acc-1:3'], [], ['credit:acc-1:5']]);
});

test('a replay computes the same follow-up commandIds', () => {
  const snapshot = snapshotOf(open(1000), 7);
  const transfer = cmd.transfer('acc-1', 'acc-2', 300, 't-1', { commandId: 'c-1' });
  const first = handleCommand(snapshot, transfer, receivedAtMs);
  const replayed = handleCommand(structuredClone(snapshot), structuredClone(transfer), receivedAtMs);
  assert.equal(first.outcome.followUps.map((c) => c.commandId), ['credit:acc-1:8']);
  assert.equal(replayed.outcome.followUps, first.outcome.followUps);
});

test('TransferMoney rejected: no follow-up', () => {
  const transfer = cmd.transfer('acc-1', 'acc-2', 300);
  assert.equal(followUps(transfer, decide(transfer, open(299)), 2), []);
  assert.equal(followUps(transfer, decide(transfer, { status: 'none' }), 0), []);
  assert.equal(handleCommand(snapshotOf(open(299)), transfer, receivedAtMs).outcome.followUps, []);
});

test('CreditTransfer rejected: RefundTransfer to the source with the reason, commandId refund:<credit commandId>', () => {
  const credit = cmd.credit('acc-2', 'acc-1', 300, 'EUR', 't-7', { commandId: 'credit:acc-1:3' });
  const decision = decide(credit, open(0, 'USD'));
  assert.equal(followUps(credit, decision, 5), [
    {
      commandId: 'refund:credit:acc-1:3',
      type: 'RefundTransfer',
      aggregateId: 'acc-1',
      payload: { transferId: 't-7', toAccountId: 'acc-2', amount: 300, reason: rejections.currencyMismatch },
      issuedAt,
    },
  ]);
});

test('the refund commandId ignores the target version and the transferId: only the credit commandId counts', () => {
  const refundIds = (credit: Command, version: number) => followUps(credit, decide(credit, closed(0)), version).map((c) => c.commandId);
  const a = cmd.credit('acc-2', 'acc-1', 300, 'EUR', 't-1', { commandId: 'credit:acc-1:3' });
  const b = cmd.credit('acc-2', 'acc-1', 300, 'EUR', 't-1', { commandId: 'credit:acc-1:4' });
  const c = cmd.credit('acc-2', 'acc-1', 300, 'EUR', 't-9', { commandId: 'credit:acc-1:3' });
  assert.equal([refundIds(a, 0), refundIds(a, 17)], [['refund:credit:acc-1:3'], ['refund:credit:acc-1:3']]);
  assert.equal(refundIds(b, 0), ['refund:credit:acc-1:4']);
  assert.equal(refundIds(c, 0), ['refund:credit:acc-1:3']);
});

test('CreditTransfer rejected for an unknown or closed target: the refund carries that reason', () => {
  const credit = cmd.credit('acc-2', 'acc-1', 300);
  assert.equal(followUps(credit, decide(credit, { status: 'none' }), 0).map((c) => c.payload), [
    { transferId: 't-1', toAccountId: 'acc-2', amount: 300, reason: rejections.unknownAccount },
  ]);
  assert.equal(followUps(credit, decide(credit, closed(0)), 2).map((c) => c.payload), [
    { transferId: 't-1', toAccountId: 'acc-2', amount: 300, reason: rejections.closed },
  ]);
});

test('CreditTransfer accepted: no follow-up', () => {
  const credit = cmd.credit('acc-2', 'acc-1', 300);
  assert.equal(followUps(credit, decide(credit, open(0)), 3), []);
});

test('other commands give no follow-up, accepted or rejected (a refund never loops)', () => {
  const commands = [cmd.open('acc-1'), cmd.deposit('acc-1', 5), cmd.withdraw('acc-1', 5), cmd.close('acc-1'), cmd.refund('acc-1', 'acc-2', 5, 'x')];
  for (const command of commands) {
    assert.equal(followUps(command, decide(command, open(5)), 3), [], command.type);
    assert.equal(followUps(command, decide(command, { status: 'none' }), 0), [], command.type);
  }
});

test('follow-ups are valid commands on the commands topic (they decode with their key)', () => {
  const transfer = cmd.transfer('acc-1', 'acc-2', 300, 't-1');
  const [credit] = followUps(transfer, decide(transfer, open(1000)), 3);
  if (!credit) return assert.unreachable('a credit follows the debit');
  assert.is(credit.commandId, 'credit:acc-1:3');
  assert.equal(decodeCommand(Buffer.from(credit.aggregateId), encodeCommand(credit)), { ok: true, value: credit });
  const [refund] = followUps(credit, decide(credit, open(0, 'USD')), 1);
  if (!refund) return assert.unreachable('a refund follows the rejected credit');
  assert.is(refund.commandId, 'refund:credit:acc-1:3');
  assert.equal(decodeCommand(Buffer.from(refund.aggregateId), encodeCommand(refund)), { ok: true, value: refund });
});

test('the longest follow-ups (64-character account ids, the largest safe version) decode', () => {
  const from = 'f'.repeat(64);
  const to = 't'.repeat(64);
  const transfer = cmd.transfer(from, to, 300, 'x'.repeat(128));
  const [credit] = followUps(transfer, decide(transfer, open(1000)), Number.MAX_SAFE_INTEGER);
  if (!credit) return assert.unreachable('a credit follows the debit');
  assert.is(credit.commandId, `credit:${from}:9007199254740991`);
  assert.equal(decodeCommand(Buffer.from(to), encodeCommand(credit)), { ok: true, value: credit });
  const [refund] = followUps(credit, decide(credit, closed(0)), Number.MAX_SAFE_INTEGER);
  if (!refund) return assert.unreachable('a refund follows the rejected credit');
  assert.is(refund.commandId, `refund:credit:${from}:9007199254740991`);
  assert.is(refund.commandId.length, 95);
  assert.equal(decodeCommand(Buffer.from(from), encodeCommand(refund)), { ok: true, value: refund });
});

test('money is conserved: debit on the source, credit on the target', () => {
  const accounts = new Map([
    ['acc-1', snapshotOf(open(1000))],
    ['acc-2', snapshotOf(open(200))],
  ]);
  const handled = runSaga(accounts, cmd.transfer('acc-1', 'acc-2', 300, 't-1'));
  assert.equal(handled.map((c) => c.type), ['TransferMoney', 'CreditTransfer']);
  const [a, b] = [accounts.get('acc-1'), accounts.get('acc-2')];
  if (!a || !b) return assert.unreachable('both accounts exist');
  assert.equal(a.state, open(700));
  assert.equal(b.state, open(500));
  assert.is(balanceOf(a) + balanceOf(b), 1200);
  assert.equal([a.version, b.version], [3, 3]);
});

test('the credit, done by hand through the host: balances sum unchanged', () => {
  const source = snapshotOf(open(1000));
  const target = snapshotOf(open(200));
  const debit = handleCommand(source, cmd.transfer('acc-1', 'acc-2', 250, 't-2'), receivedAtMs);
  assert.is(debit.outcome.followUps.length, 1);
  const [credit] = debit.outcome.followUps;
  if (!credit) return assert.unreachable('a credit follows the debit');
  const credited = handleCommand(target, credit, receivedAtMs + 1000);
  assert.is(credited.outcome.result.status, 'accepted');
  assert.equal(credited.outcome.events.map((e) => e.type), ['TransferCredited']);
  assert.equal(credited.outcome.followUps, []);
  assert.equal([balanceOf(debit.snapshot), balanceOf(credited.snapshot)], [750, 450]);
  assert.is(balanceOf(debit.snapshot) + balanceOf(credited.snapshot), balanceOf(source) + balanceOf(target));
});

test('target in another currency: credit rejected, refund restores the source', () => {
  const accounts = new Map([
    ['acc-1', snapshotOf(open(1000, 'EUR'))],
    ['acc-2', snapshotOf(open(200, 'USD'))],
  ]);
  const handled = runSaga(accounts, cmd.transfer('acc-1', 'acc-2', 300, 't-3', { commandId: 'c-3' }));
  assert.equal(handled.map((c) => [c.type, c.commandId]), [
    ['TransferMoney', 'c-3'],
    ['CreditTransfer', 'credit:acc-1:3'],
    ['RefundTransfer', 'refund:credit:acc-1:3'],
  ]);
  const [a, b] = [accounts.get('acc-1'), accounts.get('acc-2')];
  if (!a || !b) return assert.unreachable('both accounts exist');
  assert.equal(a.state, open(1000, 'EUR'));
  assert.equal(b.state, open(200, 'USD'));
  assert.equal([a.version, b.version], [4, 2]); // debit + refund on the source, nothing on the target
  assert.equal(b.recent.map((r) => [r.commandId, r.status, r.reason]), [['credit:acc-1:3', 'rejected', rejections.currencyMismatch]]);
  assert.equal(a.recent.map((r) => [r.commandId, r.status]), [
    ['c-3', 'accepted'],
    ['refund:credit:acc-1:3', 'accepted'],
  ]);
});

test('refund path done by hand: the TransferRefunded event carries the reason and the restored balance', () => {
  const debit = handleCommand(snapshotOf(open(1000, 'EUR')), cmd.transfer('acc-1', 'acc-2', 300, 't-4'), receivedAtMs);
  const [credit] = debit.outcome.followUps;
  if (!credit) return assert.unreachable('a credit follows the debit');
  const rejected = handleCommand(snapshotOf(open(200, 'USD')), credit, receivedAtMs + 1000);
  assert.equal(rejected.outcome.events, []);
  const [refund] = rejected.outcome.followUps;
  if (!refund) return assert.unreachable('a refund follows the rejected credit');
  const refunded = handleCommand(debit.snapshot, refund, receivedAtMs + 2000);
  assert.equal(refunded.outcome.events.map(({ type, payload, seq }) => ({ type, payload, seq })), [
    { type: 'TransferRefunded', payload: { transferId: 't-4', toAccountId: 'acc-2', amount: 300, reason: rejections.currencyMismatch, balance: 1000 }, seq: 4 },
  ]);
  assert.is(balanceOf(refunded.snapshot), 1000);
  assert.is(balanceOf(rejected.snapshot), 200);
});

test('transfer to an account that does not exist: refunded, the target stays unknown', () => {
  const accounts = new Map([['acc-1', snapshotOf(open(1000))]]);
  runSaga(accounts, cmd.transfer('acc-1', 'nobody', 300, 't-5'));
  assert.equal(accounts.get('acc-1')?.state, open(1000));
  assert.equal(accounts.get('nobody')?.state, { status: 'none' });
  assert.is(accounts.get('nobody')?.version, 0);
});

test('a retried credit or refund step is deduplicated: money moves once', () => {
  const debit = handleCommand(snapshotOf(open(1000)), cmd.transfer('acc-1', 'acc-2', 300, 't-6', { commandId: 'c-6' }), receivedAtMs);
  const [credit] = debit.outcome.followUps;
  if (!credit) return assert.unreachable('a credit follows the debit');
  assert.is(credit.commandId, 'credit:acc-1:3');
  const target = handleAll(snapshotOf(open(0)), [credit, credit]);
  assert.equal(target.outcomes.map((o) => o.result.status), ['accepted', 'duplicate']);
  assert.is(balanceOf(target.snapshot), 300);

  const rejected = handleCommand(snapshotOf(closed(0)), credit, receivedAtMs + 1000);
  const [refund] = rejected.outcome.followUps;
  if (!refund) return assert.unreachable('a refund follows the rejected credit');
  assert.is(refund.commandId, 'refund:credit:acc-1:3');
  const refunded = handleAll(debit.snapshot, [refund, refund]);
  assert.equal(refunded.outcomes.map((o) => o.result.status), ['accepted', 'duplicate']);
  assert.is(balanceOf(refunded.snapshot), 1000);
});

// Money conservation must not depend on client input: the follow-up commandIds derive from the
// source's version after the debit, so neither a reused transferId nor a reused commandId collides.
const total = (accounts: Map<string, AggregateSnapshot>) => [...accounts.values()].reduce((sum, s) => sum + balanceOf(s), 0);

test('money is conserved when a client reuses a transferId to the same target: both credits apply', () => {
  const accounts = new Map([
    ['acc-1', snapshotOf(open(1000))],
    ['acc-2', snapshotOf(open(0))],
  ]);
  const first = runSaga(accounts, cmd.transfer('acc-1', 'acc-2', 100, 't-dup', { commandId: 'c-a' }));
  const second = runSaga(accounts, cmd.transfer('acc-1', 'acc-2', 50, 't-dup', { commandId: 'c-b' }), receivedAtMs + 10_000);
  assert.equal([...first, ...second].map((c) => [c.type, c.commandId]), [
    ['TransferMoney', 'c-a'],
    ['CreditTransfer', 'credit:acc-1:3'],
    ['TransferMoney', 'c-b'],
    ['CreditTransfer', 'credit:acc-1:4'],
  ]);
  assert.is(total(accounts), 1000);
  assert.equal(accounts.get('acc-1')?.state, open(850));
  assert.equal(accounts.get('acc-2')?.state, open(150));
  assert.equal(accounts.get('acc-2')?.recent.map((r) => [r.commandId, r.status, r.version]), [
    ['credit:acc-1:3', 'accepted', 3],
    ['credit:acc-1:4', 'accepted', 4],
  ]);
});

test('money is conserved when a client reuses a transferId and both credits are refused', () => {
  const accounts = new Map([
    ['acc-1', snapshotOf(open(1000))],
    ['acc-2', snapshotOf(closed(0))],
    ['acc-3', snapshotOf(closed(0))],
  ]);
  runSaga(accounts, cmd.transfer('acc-1', 'acc-2', 100, 't-dup', { commandId: 'c-a' }));
  runSaga(accounts, cmd.transfer('acc-1', 'acc-3', 50, 't-dup', { commandId: 'c-b' }), receivedAtMs + 10_000);
  assert.is(total(accounts), 1000);
  assert.equal(accounts.get('acc-1')?.state, open(1000));
  // debit (3), refund (4), debit (5), refund (6)
  assert.equal(accounts.get('acc-1')?.recent.map((r) => [r.commandId, r.status, r.version]), [
    ['c-a', 'accepted', 3],
    ['refund:credit:acc-1:3', 'accepted', 4],
    ['c-b', 'accepted', 5],
    ['refund:credit:acc-1:5', 'accepted', 6],
  ]);
});

test('money is conserved when two sources use the same commandId and transferId to one target', () => {
  const accounts = new Map([
    ['acc-1', snapshotOf(open(1000))],
    ['acc-3', snapshotOf(open(1000))],
    ['acc-2', snapshotOf(open(0))],
  ]);
  runSaga(accounts, cmd.transfer('acc-1', 'acc-2', 100, 't-same', { commandId: 'c-same' }));
  runSaga(accounts, cmd.transfer('acc-3', 'acc-2', 50, 't-same', { commandId: 'c-same' }), receivedAtMs + 10_000);
  assert.is(total(accounts), 2000);
  assert.equal(accounts.get('acc-2')?.state, open(150));
  assert.equal(accounts.get('acc-2')?.recent.map((r) => [r.commandId, r.status]), [
    ['credit:acc-1:3', 'accepted'],
    ['credit:acc-3:3', 'accepted'],
  ]);
});

test('the same TransferMoney commandId re-sent after the window is a new transfer; its credit is no duplicate on the target', () => {
  const transfer = cmd.transfer('acc-1', 'acc-2', 100, 't-1', { commandId: 'c-again' });
  let source = snapshotOf(open(1000));
  let target = snapshotOf(open(0));
  const before = balanceOf(source) + balanceOf(target);

  // First transfer at T; the target's processor lags, so the credit lands an hour later.
  const debit1 = handleCommand(source, transfer, receivedAtMs);
  source = debit1.snapshot;
  const [credit1] = debit1.outcome.followUps;
  if (!credit1) return assert.unreachable('a credit follows the first debit');
  const credited1 = handleCommand(target, credit1, receivedAtMs + hourMs);
  target = credited1.snapshot;
  assert.is(credited1.outcome.result.status, 'accepted');

  // The byte-identical command again, 24 h + 1 ms later by the broker's clock. Both accounts were
  // quiet: the source still holds c-again, the target still holds the first credit.
  const resentAtMs = receivedAtMs + dedupWindowMs + 1;
  assert.equal(source.recent.map((r) => r.commandId), ['c-again']);
  assert.equal(target.recent.map((r) => r.commandId), ['credit:acc-1:3']);
  const debit2 = handleCommand(source, transfer, resentAtMs);
  assert.equal(debit2.outcome.result, { commandId: 'c-again', aggregateId: 'acc-1', status: 'accepted', version: 4 });
  assert.equal(debit2.outcome.events.map((e) => [e.type, e.seq]), [['TransferDebited', 4]]);
  source = debit2.snapshot;
  const [credit2] = debit2.outcome.followUps;
  if (!credit2) return assert.unreachable('a credit follows the second debit');
  assert.is(credit2.commandId, 'credit:acc-1:4');

  // The second credit arrives while the first is still inside the target's window.
  const credit2AtMs = resentAtMs + 1000;
  const firstEntry = target.recent[0];
  if (!firstEntry) return assert.unreachable('the target remembers the first credit');
  assert.ok(firstEntry.receivedAtMs >= credit2AtMs - dedupWindowMs, 'the first credit is inside the window');
  const credited2 = handleCommand(target, credit2, credit2AtMs);
  assert.equal(credited2.outcome.result, { commandId: 'credit:acc-1:4', aggregateId: 'acc-2', status: 'accepted', version: 4 });
  target = credited2.snapshot;

  // Money moved twice and none vanished.
  assert.equal([balanceOf(source), balanceOf(target)], [800, 200]);
  assert.is(balanceOf(source) + balanceOf(target), before);
  assert.equal(target.recent.map((r) => [r.commandId, r.status]), [
    ['credit:acc-1:3', 'accepted'],
    ['credit:acc-1:4', 'accepted'],
  ]);
});

test('the same TransferMoney commandId re-sent after the window to a refusing target: both refunds apply', () => {
  const accounts = new Map([
    ['acc-1', snapshotOf(open(1000))],
    ['acc-2', snapshotOf(closed(0))],
  ]);
  const transfer = cmd.transfer('acc-1', 'acc-2', 100, 't-1', { commandId: 'c-again' });
  const first = runSaga(accounts, transfer);
  const second = runSaga(accounts, transfer, receivedAtMs + dedupWindowMs + 1);
  assert.equal([...first, ...second].map((c) => c.commandId), [
    'c-again',
    'credit:acc-1:3',
    'refund:credit:acc-1:3',
    'c-again',
    'credit:acc-1:5',
    'refund:credit:acc-1:5',
  ]);
  assert.is(total(accounts), 1000);
  assert.equal(accounts.get('acc-1')?.state, open(1000));
  assert.is(accounts.get('acc-1')?.version, 6);
});

test('the same TransferMoney commandId re-sent inside the window stays a duplicate: money moves once', () => {
  const accounts = new Map([
    ['acc-1', snapshotOf(open(1000))],
    ['acc-2', snapshotOf(open(0))],
  ]);
  const transfer = cmd.transfer('acc-1', 'acc-2', 100, 't-1', { commandId: 'c-again' });
  runSaga(accounts, transfer);
  const retry = runSaga(accounts, transfer, receivedAtMs + dedupWindowMs);
  assert.equal(retry.map((c) => c.commandId), ['c-again']);
  assert.equal([balanceOf(accounts.get('acc-1')!), balanceOf(accounts.get('acc-2')!)], [900, 100]);
});

test.run();
