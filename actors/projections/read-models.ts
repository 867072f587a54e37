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

/**
 * KEYS: account, history, stats. ARGV: seq, type, id, ownerId, currency, balance, occurredAt,
 * history entry ('' for none), updates channel. Returns 1 when applied, 0 when already seen.
 */
export const applyAccountEventLua = `
local seq = tonumber(ARGV[1])
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if seq <= version then return 0 end
if seq ~= version + 1 then return redis.error_reply('event ' .. ARGV[3] .. ':' .. seq .. ' after version ' .. version .. ': a gap') end
local kind = ARGV[2]
if kind == 'AccountOpened' then
  redis.call('HSET', KEYS[1], 'id', ARGV[3], 'ownerId', ARGV[4], 'currency', ARGV[5], 'balance', '0', 'status', 'open')
  redis.call('HINCRBY', KEYS[3], 'accounts:open', 1)
elseif kind == 'AccountClosed' then
  redis.call('HSET', KEYS[1], 'status', 'closed')
  redis.call('HINCRBY', KEYS[3], 'accounts:open', -1)
  redis.call('HINCRBY', KEYS[3], 'accounts:closed', 1)
else
  local old = tonumber(redis.call('HGET', KEYS[1], 'balance') or '0')
  local currency = redis.call('HGET', KEYS[1], 'currency') or 'unknown'
  redis.call('HSET', KEYS[1], 'balance', ARGV[6])
  redis.call('HINCRBY', KEYS[3], 'balance:' .. currency, tonumber(ARGV[6]) - old)
end
redis.call('HSET', KEYS[1], 'version', seq, 'updatedAt', ARGV[7])
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[2], seq, ARGV[8]) end
redis.call('PUBLISH', ARGV[9], ARGV[3] .. ' ' .. seq)
return 1
`;

/** The call that applies one event to the account view, its history and the stats. */
export function accountEventOp(k: Keys, event: EventEnvelope): RedisOp {
  const id = event.aggregateId;
  const opened = event.type === 'AccountOpened' ? event.payload : undefined;
  const balance = 'balance' in event.payload ? event.payload.balance : 0;
  const entry = historyEntry(event);
  return [
    'applyAccountEvent',
    k.account(id),
    k.history(id),
    k.stats,
    event.seq,
    event.type,
    id,
    opened?.ownerId ?? '',
    opened?.currency ?? '',
    balance,
    event.occurredAt,
    entry ? JSON.stringify(entry) : '',
    k.updates,
  ];
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
