import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { accountEventsOps, applyAccountEventsLua, appliedOffsetOp, commandResultOp, historyEntryOf, keys, parseUpdates, resultTtlMs, setAppliedOffsetLua } from '../../actors/projections/read-models.js';
import type { EventEnvelope } from '../../topics/events.js';
import { testEnv, unique } from '../support/env.js';

const redis = new Redis(testEnv().redisUrl);
const subscriber = redis.duplicate();
redis.defineCommand('applyAccountEvents', { lua: applyAccountEventsLua });
redis.defineCommand('setAppliedOffset', { lua: setAppliedOffsetLua });
test.after(() => {
  redis.disconnect();
  subscriber.disconnect();
});

const at = '2026-01-01T00:00:00Z';
const opened = (id: string, seq = 1): EventEnvelope => ({ eventId: `${id}:${seq}`, aggregateId: id, seq, commandId: `c-${id}-${seq}`, occurredAt: at, type: 'AccountOpened', payload: { ownerId: 'o', currency: 'EUR' } });
const deposited = (id: string, seq: number, amount: number, balance: number): EventEnvelope => ({ eventId: `${id}:${seq}`, aggregateId: id, seq, commandId: `c-${id}-${seq}`, occurredAt: at, type: 'MoneyDeposited', payload: { amount, balance } });

/** Runs the script calls for events; returns each call's answer or error message. */
async function apply(k: ReturnType<typeof keys>, events: EventEnvelope[]): Promise<Array<number | string>> {
  const calls = redis as unknown as Record<string, (...args: (string | number)[]) => Promise<number>>;
  const answers: Array<number | string> = [];
  const raw = events.map((event) => ({ event, raw: JSON.stringify(event) }));
  for (const [name, ...args] of accountEventsOps(k, raw)) answers.push(await calls[name]!(...args).catch((err: Error) => err.message));
  return answers;
}

test('one call applies a run, notices each account once at its newest version; a replay changes nothing', async () => {
  const k = keys(unique('rm'));
  const notices: string[] = [];
  subscriber.on('message', (_channel: string, message: string) => notices.push(message));
  await subscriber.subscribe(k.updates);
  const events = [opened('a'), deposited('a', 2, 100, 100), opened('b "x"'), deposited('a', 3, 5, 105)];
  assert.equal(await apply(k, events), [4]);
  assert.equal(await apply(k, events), [0], 'a replay applies nothing');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(notices.map(parseUpdates), [[{ id: 'a', version: 3 }, { id: 'b "x"', version: 1 }]], 'one notice, none for the replay');
  assert.equal(await redis.hgetall(k.account('a')), { id: 'a', ownerId: 'o', currency: 'EUR', balance: '105', status: 'open', version: '3', updatedAt: at });
  assert.equal(await redis.hgetall(k.stats), { 'accounts:open': '2', 'balance:EUR': '105' });
  const history = (await redis.zrevrange(k.history('a'), 0, -1)).map(historyEntryOf);
  assert.equal(history.map((entry) => [entry?.seq, entry?.amount, entry?.balance]), [[3, 5, 105], [2, 100, 100]], 'the history, newest first');
  await subscriber.unsubscribe(k.updates);
});

test('ids of any characters and balances up to the largest safe integer arrive exactly', async () => {
  // The events go to the script as one JSON argument: quotes, backslashes, non-ASCII and big numbers must survive it.
  const k = keys(unique('rm'));
  const id = 'é "q" \\ 😀 \u0001';
  const big = Number.MAX_SAFE_INTEGER;
  assert.equal(await apply(k, [opened(id), deposited(id, 2, big, big)]), [2]);
  assert.equal(await redis.hgetall(k.account(id)), { id, ownerId: 'o', currency: 'EUR', balance: String(big), status: 'open', version: '2', updatedAt: at });
  assert.equal(await redis.hgetall(k.stats), { 'accounts:open': '1', 'balance:EUR': String(big) });
});

test('a gap fails the call and keeps the stats equal to what the views applied before it', async () => {
  const k = keys(unique('rm'));
  const [answer] = await apply(k, [opened('a'), deposited('a', 2, 40, 40), deposited('a', 4, 1, 41)]);
  assert.match(String(answer), /event a:4 after version 2: a gap/);
  assert.is(await redis.hget(k.account('a'), 'version'), '2');
  assert.equal(await redis.hgetall(k.stats), { 'accounts:open': '1', 'balance:EUR': '40' });
});

test('a command result expires 24 h after its record, however often it is projected again; one older is not written', async () => {
  const k = keys(unique('rm'));
  const calls = redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
  const result = (commandId: string) => ({ commandId, aggregateId: 'a', status: 'accepted' as const, version: 1 });
  const recordMs = Date.now() - 60 * 60 * 1000; // an hour ago
  for (let i = 0; i < 2; i++) {
    const [name, ...args] = commandResultOp(k, { result: result('fresh'), timestampMs: recordMs });
    await calls[name]!(...args);
  }
  const leftMs = await redis.pttl(k.result('fresh'));
  assert.ok(Math.abs(leftMs - (recordMs + resultTtlMs - Date.now())) < 5_000, `23 h left, not 24: ${leftMs} ms`);
  const [name, ...args] = commandResultOp(k, { result: result('stale'), timestampMs: Date.now() - resultTtlMs - 1_000 });
  await calls[name]!(...args);
  assert.is(await redis.exists(k.result('stale')), 0);
});

test('the applied offset of a partition rises only over batches that begin where it stands: not over a gap, not down by a replay', async () => {
  const k = keys(unique('rm'));
  const calls = redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
  const write = async (first: string, next: string) => {
    const [name, ...args] = appliedOffsetOp(k, 'events', 3, first, next);
    await calls[name]!(...args);
    return (await redis.hget(k.appliedOffsets, 'events:3')) ?? 'missing';
  };
  assert.is(await write('100', '200'), 'missing', 'Redis holds nothing below 100 (it lost data, say)');
  assert.is(await write('0', '100'), '100');
  assert.is(await write('100', '250'), '250');
  assert.is(await write('0', '7'), '250', 'a replay');
  assert.is(await write('300', '400'), '250', 'beyond a gap');
});

test.run();
