// The read models in Redis, as pure functions from a record to the Redis calls that apply it.
// Replay-safe: an account event is applied by one Lua step only when its seq is newer than the
// version the view holds, so replaying any prefix of the log again changes nothing.
import { Type, type Static } from '@sinclair/typebox';
import type { CommandResult } from '../../topics/command-results.js';
import type { EventEnvelope } from '../../topics/events.js';

/** A Redis call: the script or command name, then its arguments. */
export type RedisOp = readonly [name: string, ...args: (string | number)[]];

export const resultTtlS = 24 * 60 * 60;

export function keys(appId: string) {
  return {
    /** Hash: id, ownerId, currency, balance, status, version, updatedAt. */
    account: (id: string) => `${appId}:account:{${id}}`,
    /** Sorted set, score = seq, member = a history entry (JSON). */
    history: (id: string) => `${appId}:account:{${id}}:history`,
    /** Hash: accounts:open, accounts:closed, balance:<currency>. */
    stats: `${appId}:stats`,
    result: (commandId: string) => `${appId}:result:${commandId}`,
    /** Pub/sub: "<accountId> <version>" after each applied event (cache invalidation, minVersion). */
    updates: `${appId}:account-updates`,
    /** Present while Redis holds this app's read models (see src/projector/projector.ts). */
    marker: `${appId}:projector-marker`,
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
const argsPerEvent = 8;

/**
 * Applies a run of account events in order. KEYS[1]: stats; KEYS[2i], KEYS[2i+1]: event i's
 * account and history. ARGV[1]: the updates channel; then per event: seq, type, id, ownerId,
 * currency, balance, occurredAt, history entry ('' for none). Returns how many were applied
 * (an event whose seq the view holds already is skipped). One call for many events: a call
 * per event cost Redis and ioredis more than the writes themselves.
 */
export const applyAccountEventsLua = `
local applied = 0
for i = 1, (#KEYS - 1) / 2 do
  local account, history, a = KEYS[2 * i], KEYS[2 * i + 1], 1 + ${argsPerEvent} * (i - 1)
  local seq = tonumber(ARGV[a + 1])
  local version = tonumber(redis.call('HGET', account, 'version') or '0')
  if seq > version then
    if seq ~= version + 1 then return redis.error_reply('event ' .. ARGV[a + 3] .. ':' .. seq .. ' after version ' .. version .. ': a gap') end
    local kind = ARGV[a + 2]
    if kind == 'AccountOpened' then
      redis.call('HSET', account, 'id', ARGV[a + 3], 'ownerId', ARGV[a + 4], 'currency', ARGV[a + 5], 'balance', '0', 'status', 'open')
      redis.call('HINCRBY', KEYS[1], 'accounts:open', 1)
    elseif kind == 'AccountClosed' then
      redis.call('HSET', account, 'status', 'closed')
      redis.call('HINCRBY', KEYS[1], 'accounts:open', -1)
      redis.call('HINCRBY', KEYS[1], 'accounts:closed', 1)
    else
      local old = tonumber(redis.call('HGET', account, 'balance') or '0')
      local currency = redis.call('HGET', account, 'currency') or 'unknown'
      redis.call('HSET', account, 'balance', ARGV[a + 6])
      redis.call('HINCRBY', KEYS[1], 'balance:' .. currency, tonumber(ARGV[a + 6]) - old)
    end
    redis.call('HSET', account, 'version', seq, 'updatedAt', ARGV[a + 7])
    if ARGV[a + 8] ~= '' then redis.call('ZADD', history, seq, ARGV[a + 8]) end
    redis.call('PUBLISH', ARGV[1], ARGV[a + 3] .. ' ' .. seq)
    applied = applied + 1
  end
end
return applied
`;

/** The calls that apply events, in order, to the account views, their histories and the stats. */
export function accountEventsOps(k: Keys, events: EventEnvelope[]): RedisOp[] {
  const ops: RedisOp[] = [];
  for (let start = 0; start < events.length; start += eventsPerCallMax) {
    const run = events.slice(start, start + eventsPerCallMax);
    const keysOf: string[] = [k.stats];
    const args: (string | number)[] = [k.updates];
    for (const event of run) {
      const id = event.aggregateId;
      const opened = event.type === 'AccountOpened' ? event.payload : undefined;
      const entry = historyEntry(event);
      keysOf.push(k.account(id), k.history(id));
      args.push(event.seq, event.type, id, opened?.ownerId ?? '', opened?.currency ?? '', 'balance' in event.payload ? event.payload.balance : 0, event.occurredAt, entry ? JSON.stringify(entry) : '');
    }
    ops.push(['applyAccountEvents', keysOf.length, ...keysOf, ...args]);
  }
  return ops;
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
 * A command's result, kept 24 h. A later `duplicate` answer does not replace the original outcome
 * (it carries the same version anyway); a replay writes the same values again.
 */
export function commandResultOp(k: Keys, result: CommandResult): RedisOp {
  const args = [k.result(result.commandId), JSON.stringify(result), 'EX', resultTtlS] as const;
  // A duplicate, or a record that did not decode (no version), must not replace a real outcome.
  return result.status === 'duplicate' || result.version === undefined ? ['set', ...args, 'NX'] : ['set', ...args];
}
