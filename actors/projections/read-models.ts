// The read models in Redis, as pure functions from a record to the Redis calls that apply it.
// Replay-safe: an account event is applied by one Lua step only when its seq is newer than the
// version the view holds, so replaying any prefix of the log again changes nothing.
import { Type, type Static } from '@sinclair/typebox';
import type { CommandResult } from '../../topics/command-results.js';
import type { EventEnvelope } from '../../topics/events.js';

/** A Redis call: the script or command name, then its arguments. */
export type RedisOp = readonly [name: string, ...args: (string | number)[]];

export const resultTtlMs = 24 * 60 * 60 * 1000;

export function keys(appId: string) {
  /** The script builds an account's keys from this too: prefix .. id .. '}' (and .. '}:history'). */
  const accountPrefix = `${appId}:account:{`;
  return {
    accountPrefix,
    /** Hash: id, ownerId, currency, balance, status, version, updatedAt. */
    account: (id: string) => `${accountPrefix}${id}}`,
    /** Sorted set, score = seq, member = the event (its JSON as on the events topic); see historyEntry. */
    history: (id: string) => `${accountPrefix}${id}}:history`,
    /** Hash: accounts:open, accounts:closed, balance:<currency>. */
    stats: `${appId}:stats`,
    result: (commandId: string) => `${appId}:result:${commandId}`,
    /** Pub/sub: the accounts each script call changed, with their versions (cache invalidation, minVersion); see parseUpdates. */
    updates: `${appId}:account-updates`,
    /**
     * Hash: "topic:partition" -> the offset below which Redis holds every record of it. Redis
     * holding less than the group committed means it lost data (see src/projector/projector.ts).
     */
    appliedOffsets: `${appId}:projector-offsets`,
  };
}
export type Keys = ReturnType<typeof keys>;

/** The read models' shapes, one schema each: the API's response schemas and the types. */
export const HistoryEntry = Type.Object({
  seq: Type.Integer(),
  type: Type.String(),
  amount: Type.Integer(),
  balance: Type.Integer(),
  transferId: Type.Optional(Type.String()),
  counterparty: Type.Optional(Type.String()),
  commandId: Type.String(),
  occurredAt: Type.String(),
});
export type HistoryEntry = Static<typeof HistoryEntry>;

export const AccountView = Type.Object({
  id: Type.String(),
  ownerId: Type.String(),
  currency: Type.String(),
  balance: Type.Integer(),
  status: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
  version: Type.Integer(),
  updatedAt: Type.String(),
});
export type AccountView = Static<typeof AccountView>;

export const Stats = Type.Object({
  accounts: Type.Object({ open: Type.Integer(), closed: Type.Integer() }),
  /** Total balance per currency, in minor units. */
  balances: Type.Record(Type.String(), Type.Integer()),
});
export type Stats = Static<typeof Stats>;

/** Events applied by one script call: bounds the call's arguments and how long it holds Redis. */
export const eventsPerCallMax = 100;

/**
 * Applies a run of account events in order. No KEYS: the run touches keys of many accounts
 * (standalone Redis only, as a cluster would refuse a script across slots anyway), built from
 * ARGV[1], the account key prefix. ARGV[2]: the stats key; ARGV[3]: the updates channel; ARGV[4]:
 * the events as one JSON array, each [id, seq, type, occurredAt, balance] ([id, seq, type,
 * occurredAt, ownerId, currency] when opened); ARGV[4 + i]: event i's history member ('' for none).
 * One JSON argument rather than seven per event: ioredis spent more on the arguments (each its
 * own RESP string) than on anything else the projector does, and Redis parses the JSON in C.
 * Returns how many were applied (an event whose seq the view holds already is skipped).
 * One call for many events: a call per event cost Redis and ioredis more than the writes
 * themselves. Per event it reads the view once and writes it once; the stats deltas and the
 * updates notice are written once per call (also before a gap error, so stats always match the views).
 */
export const applyAccountEventsLua = `
local prefix, stats, channel = ARGV[1], ARGV[2], ARGV[3]
local applied, deltas, latest, order = 0, {}, {}, {}
local function add(field, n) deltas[field] = (deltas[field] or 0) + n end
local function flush()
  for field, n in pairs(deltas) do
    if n ~= 0 then redis.call('HINCRBY', stats, field, n) end
  end
  if #order > 0 then
    local flat = {}
    for _, id in ipairs(order) do
      flat[#flat + 1] = id
      flat[#flat + 1] = latest[id]
    end
    redis.call('PUBLISH', channel, cjson.encode(flat))
  end
end
for i, e in ipairs(cjson.decode(ARGV[4])) do
  local id, seq, kind, occurredAt = e[1], e[2], e[3], e[4]
  local account = prefix .. id .. '}'
  local held = redis.call('HMGET', account, 'version', 'balance', 'currency')
  local version = tonumber(held[1] or '0')
  if seq > version then
    if seq ~= version + 1 then
      flush()
      return redis.error_reply('event ' .. id .. ':' .. seq .. ' after version ' .. version .. ': a gap')
    end
    if kind == 'AccountOpened' then
      redis.call('HSET', account, 'id', id, 'ownerId', e[5], 'currency', e[6], 'balance', '0', 'status', 'open', 'version', seq, 'updatedAt', occurredAt)
      add('accounts:open', 1)
    elseif kind == 'AccountClosed' then
      redis.call('HSET', account, 'status', 'closed', 'version', seq, 'updatedAt', occurredAt)
      add('accounts:open', -1)
      add('accounts:closed', 1)
    else
      redis.call('HSET', account, 'balance', e[5], 'version', seq, 'updatedAt', occurredAt)
      add('balance:' .. (held[3] or 'unknown'), e[5] - tonumber(held[2] or '0'))
    end
    if ARGV[4 + i] ~= '' then redis.call('ZADD', account .. ':history', seq, ARGV[4 + i]) end
    if latest[id] == nil then order[#order + 1] = id end
    latest[id] = seq
    applied = applied + 1
  end
end
flush()
return applied
`;

/**
 * The updates notice: a JSON array [accountId, version, accountId, version, ...] with each account
 * the call changed and its newest version (JSON, as an id may hold any character).
 */
export function parseUpdates(message: string): Array<{ id: string; version: number }> {
  const flat = JSON.parse(message) as unknown;
  const updates: Array<{ id: string; version: number }> = [];
  if (!Array.isArray(flat)) return updates;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const [id, version] = [flat[i], flat[i + 1]];
    if (typeof id === 'string' && typeof version === 'number') updates.push({ id, version });
  }
  return updates;
}

/** Events with no history entry (historyEntry answers undefined for exactly these). */
const notInHistory: ReadonlySet<EventEnvelope['type']> = new Set(['AccountOpened', 'AccountClosed']);

/** An event from the events topic: decoded, and its JSON text as it was (the history keeps that). */
export interface RawEvent {
  readonly event: EventEnvelope;
  readonly raw: string;
}

/** The calls that apply events, in order, to the account views, their histories and the stats. */
export function accountEventsOps(k: Keys, events: RawEvent[]): RedisOp[] {
  const ops: RedisOp[] = [];
  for (let start = 0; start < events.length; start += eventsPerCallMax) {
    const run = events.slice(start, start + eventsPerCallMax);
    const packed = run.map(({ event: e }) =>
      e.type === 'AccountOpened' ? [e.aggregateId, e.seq, e.type, e.occurredAt, e.payload.ownerId, e.payload.currency]
      : e.type === 'AccountClosed' ? [e.aggregateId, e.seq, e.type, e.occurredAt]
      : [e.aggregateId, e.seq, e.type, e.occurredAt, e.payload.balance],
    );
    const members = run.map(({ event, raw }) => (notInHistory.has(event.type) ? '' : raw));
    ops.push(['applyAccountEvents', 0, k.accountPrefix, k.stats, k.updates, JSON.stringify(packed), ...members]);
  }
  return ops;
}

/** A history member (an event's JSON) as the API shows it; undefined for events not in the history. */
export function historyEntryOf(member: string): HistoryEntry | undefined {
  return historyEntry(JSON.parse(member) as EventEnvelope);
}

function historyEntry(event: EventEnvelope): HistoryEntry | undefined {
  const base = { seq: event.seq, type: event.type, commandId: event.commandId, occurredAt: event.occurredAt };
  switch (event.type) {
    case 'MoneyDeposited':
      return { ...base, amount: event.payload.amount, balance: event.payload.balance };
    case 'MoneyWithdrawn':
      return { ...base, amount: -event.payload.amount, balance: event.payload.balance };
    case 'TransferDebited':
      return { ...base, amount: -event.payload.amount, balance: event.payload.balance, transferId: event.payload.transferId, counterparty: event.payload.toAccountId };
    case 'TransferCredited':
      return { ...base, amount: event.payload.amount, balance: event.payload.balance, transferId: event.payload.transferId, counterparty: event.payload.fromAccountId };
    case 'TransferRefunded':
      return { ...base, amount: event.payload.amount, balance: event.payload.balance, transferId: event.payload.transferId, counterparty: event.payload.toAccountId };
    case 'AccountOpened':
    case 'AccountClosed':
      return undefined;
  }
}

/**
 * A command's result, kept 24 h from its record's timestamp: a replay (a rebuild, a Redis that
 * lost data) writes the same values with the same expiry, and writes nothing for a result older
 * than that (Redis drops a key whose PXAT has passed). A later `duplicate` answer does not
 * replace the original outcome (it carries the same version anyway).
 */
export function commandResultOp(k: Keys, { result, timestampMs }: { result: CommandResult; timestampMs: number }): RedisOp {
  const args = [k.result(result.commandId), JSON.stringify(result), 'PXAT', timestampMs + resultTtlMs] as const;
  // A duplicate, or a record that did not decode (no version), must not replace a real outcome.
  return result.status === 'duplicate' || result.version === undefined ? ['set', ...args, 'NX'] : ['set', ...args];
}

/**
 * KEYS[1]: the applied offsets hash; ARGV: its field, a batch's first offset and the offset after
 * it. Raised to the latter only when Redis holds every record below the batch's start (a missing
 * field holds nothing): a batch applied after Redis lost data, or one beyond a gap, leaves it
 * where it is, and a replay's lower offsets do not lower it.
 */
export const setAppliedOffsetLua = `
local held = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if held >= tonumber(ARGV[2]) and tonumber(ARGV[3]) > held then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
`;

export const appliedOffsetField = (topic: string, partition: number) => `${topic}:${partition}`;

/** Sent once a batch's calls all succeeded (a pipeline is no transaction: a failed call does not stop the next). */
export function appliedOffsetOp(k: Keys, topic: string, partition: number, firstOffset: string, nextOffset: string): RedisOp {
  return ['setAppliedOffset', 1, k.appliedOffsets, appliedOffsetField(topic, partition), firstOffset, nextOffset];
}
