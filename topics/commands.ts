import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { Codec, parseJson, type Decoded } from './codec.js';
import { retention, type TopicSpec } from './spec.js';

/** Commands from clients and from sagas. Key = aggregateId, so one aggregate stays on one partition. */
export const commandsTopic = (partitions: number, prefix = ''): TopicSpec => ({
  name: `${prefix}commands`,
  partitions,
  // The broker stamps each command: the idempotency window is measured on its clock, not the client's.
  configs: { ...retention.days(7), 'message.timestamp.type': 'LogAppendTime' },
});

/**
 * A client's text holds no lone UTF-16 surrogate ("\ud800" in JSON): JSON.stringify writes it back
 * as that escape, and Redis's cjson refuses it, so the event's projection would fail for good and
 * hold up its partition. Means the same with and without the u flag: TypeBox compiles patterns
 * without it, ajv with it.
 */
const surrogatePair = '[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]';
const wellFormedChar = `[^\\uD800-\\uDFFF]|${surrogatePair}`;
const wellFormedText = (minLength: number, maxLength: number) => Type.String({ minLength, maxLength, pattern: `^(?:${wellFormedChar})+$` });
/**
 * A client's account id: well-formed, no control characters. The changelog's restore marker is
 * keyed "\u0000restore-marker", and an account of that id would have its snapshots skipped by
 * restores and compacted away.
 */
export const AggregateId = Type.String({ minLength: 1, maxLength: 64, pattern: `^(?:[^\\u0000-\\u001F\\u007F\\uD800-\\uDFFF]|${surrogatePair})+$` });
/** The saga's commands carry ids and times as the topics held them before the stricter checks. */
const StoredAggregateId = Type.String({ minLength: 1, maxLength: 64 });
/** Room for the saga's derived ids: refund:credit:<aggregateId>:<seq> is at most 95 characters. */
const CommandId = wellFormedText(1, 200);
const StoredCommandId = Type.String({ minLength: 1, maxLength: 200 });
const Id = wellFormedText(1, 128);
const StoredId = Type.String({ minLength: 1, maxLength: 128 });
/** Minor units (cents). The decider rejects anything but a positive safe integer. */
const Amount = Type.Number();

/** source: a client's command (checked strictly), or the saga's (read as the topic may hold it). */
function command<T extends string, P extends TProperties>(type: T, payload: P, source: 'client' | 'saga' = 'client') {
  return Type.Object(
    {
      commandId: source === 'client' ? CommandId : StoredCommandId,
      type: Type.Literal(type),
      aggregateId: source === 'client' ? AggregateId : StoredAggregateId,
      payload: Type.Object(payload, { additionalProperties: false }),
      issuedAt: Type.String({ format: source === 'client' ? 'date-time' : 'stored-date-time', maxLength: 40 }),
    },
    { additionalProperties: false },
  );
}

export const OpenAccount = command('OpenAccount', { ownerId: Id, currency: Type.String({ pattern: '^[A-Z]{3}$' }) });
export const Deposit = command('Deposit', { amount: Amount });
export const Withdraw = command('Withdraw', { amount: Amount });
export const TransferMoney = command('TransferMoney', { transferId: Id, toAccountId: AggregateId, amount: Amount });
export const CloseAccount = command('CloseAccount', {});
/** Internal, produced by the transfer saga: the credit leg on the target account. */
export const CreditTransfer = command('CreditTransfer', { transferId: StoredId, fromAccountId: StoredAggregateId, amount: Amount, currency: Type.String() }, 'saga');
/** Internal, produced by the transfer saga: gives the money back when the credit was rejected. */
export const RefundTransfer = command('RefundTransfer', { transferId: StoredId, toAccountId: StoredAggregateId, amount: Amount, reason: Type.String() }, 'saga');

export const publicCommandSchemas = [OpenAccount, Deposit, Withdraw, TransferMoney, CloseAccount] as const;
/** commandIds the transfer saga derives (see actors/transfer/saga.ts); no client command may take one. */
export const sagaCommandIdPattern = /^(credit|refund):/;
const commandSchemas = [...publicCommandSchemas, CreditTransfer, RefundTransfer] as const;

export const Command = Type.Union([...commandSchemas]);
export type Command = Static<typeof Command>;
export type CommandType = Command['type'];
export type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;

const codecsOf = (schemas: readonly TObject[]) => new Map<string, Codec<TObject>>(schemas.map((schema) => [(schema.properties.type as unknown as { const: string }).const, new Codec(schema)]));
const codecs = codecsOf(commandSchemas);
const publicCodecs = codecsOf(publicCommandSchemas);

export type DecodedCommand = { ok: true; value: Command } | { ok: false; reason: string; commandId?: string };

/**
 * Decodes a record of the commands topic. The reason names the field that failed; the
 * commandId is kept where it can be read, so the client gets a rejected result.
 */
export function decodeCommand(key: Buffer | null, value: Buffer | null, partition?: number, partitionCount?: number): DecodedCommand {
  const json = parseJson(value);
  if (!json.ok) return json;
  const checked = checkCommand(json.value, codecs);
  if (!checked.ok) return checked;
  if (key === null || key.toString('utf8') !== checked.value.aggregateId) {
    return withId({ ok: false, reason: 'key: must be the aggregateId (the key decides the partition)' }, checked.value.commandId);
  }
  // One partition, so one worker, per account: a command on any other partition would give the
  // account a second, diverging state. Clients must use the murmur2 partitioner (Java's and
  // kafkajs's default; librdkafka: partitioner=murmur2_random).
  if (partition !== undefined && partitionCount !== undefined && murmur2Partition(key, partitionCount) !== partition) {
    return withId({ ok: false, reason: `key: hashes to partition ${murmur2Partition(key, partitionCount)}, not ${partition} (use the murmur2 partitioner)` }, checked.value.commandId);
  }
  return checked;
}

/** The partition Java's (and kafkajs's) default partitioner picks for a key. */
export const murmur2Partition = (key: Buffer, partitionCount: number): number => (murmur2(key) & 0x7fffffff) % partitionCount;

/**
 * Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) in 32-bit integer arithmetic.
 * kafkajs's copy computes it with a 64-bit Long class, which was 6% of the processor's CPU
 * profile when every command's partition is checked.
 */
export function murmur2(data: Buffer): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const end4 = length & ~3;
  for (let i = 0; i < end4; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[end4 + 2]! << 16;
    if (rest >= 2) h ^= data[end4 + 1]! << 8;
    h ^= data[end4]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

/** A command from a client (HTTP): only the public types. */
export const checkPublicCommand = (value: unknown): DecodedCommand => checkCommand(value, publicCodecs);

function checkCommand(raw: unknown, allowed: Map<string, Codec<TObject>>): DecodedCommand {
  const obj = raw as { type?: unknown; commandId?: unknown } | null;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { ok: false, reason: '(root): expected an object' };
  const commandId = typeof obj.commandId === 'string' && obj.commandId.length > 0 && obj.commandId.length <= 200 ? obj.commandId : undefined;
  const codec = typeof obj.type === 'string' ? allowed.get(obj.type) : undefined;
  if (!codec) return withId({ ok: false, reason: `type: unknown command type ${JSON.stringify(obj.type)}` }, commandId);
  const checked = codec.validate(obj) as Decoded<Command>;
  if (!checked.ok) return withId(checked, commandId);
  const internal = checked.value.type === 'CreditTransfer' || checked.value.type === 'RefundTransfer';
  if (internal !== sagaCommandIdPattern.test(checked.value.commandId)) {
    const reason = internal ? 'commandId: saga commands have saga commandIds' : 'commandId: the prefixes "credit:" and "refund:" are reserved for the transfer saga';
    return withId({ ok: false, reason }, commandId);
  }
  return checked;
}

const withId = (failure: { ok: false; reason: string }, commandId: string | undefined): DecodedCommand =>
  commandId === undefined ? failure : { ...failure, commandId };

export const encodeCommand = (command: Command): Buffer => Buffer.from(JSON.stringify(command));
