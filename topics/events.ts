import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { Codec } from './codec.js';
import { retention, type TopicSpec } from './spec.js';

/** The source of truth: kept forever, so read models and aggregates can be rebuilt from offset 0. */
export const eventsTopic = (partitions: number, prefix = ''): TopicSpec => ({
  name: `${prefix}events`,
  partitions,
  configs: retention.forever,
});

const Id = Type.String({ minLength: 1, maxLength: 128 });
const Money = Type.Integer();

function event<T extends string, P extends TProperties>(type: T, payload: P) {
  return Type.Object({ type: Type.Literal(type), payload: Type.Object(payload) });
}

// Money events carry the balance after them, so a projection can apply any newer event on its own.
export const AccountOpened = event('AccountOpened', { ownerId: Id, currency: Type.String() });
export const MoneyDeposited = event('MoneyDeposited', { amount: Money, balance: Money });
export const MoneyWithdrawn = event('MoneyWithdrawn', { amount: Money, balance: Money });
export const TransferDebited = event('TransferDebited', { transferId: Id, toAccountId: Id, amount: Money, currency: Type.String(), balance: Money });
export const TransferCredited = event('TransferCredited', { transferId: Id, fromAccountId: Id, amount: Money, balance: Money });
export const TransferRefunded = event('TransferRefunded', { transferId: Id, toAccountId: Id, amount: Money, reason: Type.String(), balance: Money });
export const AccountClosed = event('AccountClosed', {});

export const AccountEvent = Type.Union([AccountOpened, MoneyDeposited, MoneyWithdrawn, TransferDebited, TransferCredited, TransferRefunded, AccountClosed]);
/** What a decider returns: the event without its envelope. */
export type AccountEvent = Static<typeof AccountEvent>;

export const EventEnvelope = Type.Intersect([
  Type.Object({
    eventId: Type.String(),
    aggregateId: Id,
    /** The aggregate's version after this event: 1, 2, 3... with no gaps. */
    seq: Type.Integer({ minimum: 1 }),
    commandId: Type.String({ minLength: 1, maxLength: 200 }),
    occurredAt: Type.String({ format: 'stored-date-time' }), // copied from commands: see topics/codec.ts
  }),
  AccountEvent,
]);
export type EventEnvelope = Static<typeof EventEnvelope>;
export const eventCodec = new Codec(EventEnvelope);
