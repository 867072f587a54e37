// Given/when/then for the account decider (Emmett style), plus builders for commands and events.
//   given([ev.opened('EUR'), ev.deposited(500, 500)]).when(cmd.withdraw('acc-1', 200)).then([ev.withdrawn(200, 300)]);
import * as assert from 'uvu/assert';
import { decide, evolve, initialState, type AccountState, type Rejection } from '../../actors/account/decider.js';
import { handleCommand, type CommandOutcome } from '../../actors/account/host.js';
import type { AggregateSnapshot } from '../../topics/aggregates-changelog.js';
import type { Command, CommandOf } from '../../topics/commands.js';
import type { AccountEvent } from '../../topics/events.js';

export const issuedAt = '2026-01-01T00:00:00Z';
export const issuedAtMs = Date.parse(issuedAt);
/**
 * The broker's append time of a command (LogAppendTime of `commands`), what the idempotency window
 * is measured on. One second after the default issuedAt on purpose: an assertion on a snapshot's
 * recent entries then fails if the host ever stores the client's issuedAt instead.
 */
export const receivedAtMs = Date.parse('2026-01-01T00:00:01Z');

export const stateAfter = (events: AccountEvent[]): AccountState => events.reduce(evolve, initialState);

export function given(events: AccountEvent[]) {
  const state = stateAfter(events);
  return {
    when(command: Command) {
      const decision = decide(command, state);
      return {
        then: (expected: AccountEvent[]) => assert.equal(decision, { ok: true, events: expected }),
        thenRejected: (reason: Rejection) => assert.equal(decision, { ok: false, reason }),
      };
    },
  };
}

/** Optional envelope fields; commandIds default to a fresh `cmd-N`. */
type Meta = { commandId?: string; issuedAt?: string };
let counter = 0;
function build<T extends Command['type']>(type: T, aggregateId: string, payload: CommandOf<T>['payload'], meta: Meta): CommandOf<T> {
  return { commandId: meta.commandId ?? `cmd-${++counter}`, type, aggregateId, payload, issuedAt: meta.issuedAt ?? issuedAt } as CommandOf<T>;
}

export const cmd = {
  open: (id: string, currency = 'EUR', meta: Meta = {}) => build('OpenAccount', id, { ownerId: 'owner-1', currency }, meta),
  deposit: (id: string, amount: number, meta: Meta = {}) => build('Deposit', id, { amount }, meta),
  withdraw: (id: string, amount: number, meta: Meta = {}) => build('Withdraw', id, { amount }, meta),
  transfer: (from: string, to: string, amount: number, transferId = 't-1', meta: Meta = {}) =>
    build('TransferMoney', from, { transferId, toAccountId: to, amount }, meta),
  credit: (to: string, from: string, amount: number, currency = 'EUR', transferId = 't-1', meta: Meta = {}) =>
    build('CreditTransfer', to, { transferId, fromAccountId: from, amount, currency }, meta),
  refund: (from: string, to: string, amount: number, reason: string, transferId = 't-1', meta: Meta = {}) =>
    build('RefundTransfer', from, { transferId, toAccountId: to, amount, reason }, meta),
  close: (id: string, meta: Meta = {}) => build('CloseAccount', id, {}, meta),
};

export const ev = {
  opened: (currency = 'EUR', ownerId = 'owner-1'): AccountEvent => ({ type: 'AccountOpened', payload: { ownerId, currency } }),
  deposited: (amount: number, balance: number): AccountEvent => ({ type: 'MoneyDeposited', payload: { amount, balance } }),
  withdrawn: (amount: number, balance: number): AccountEvent => ({ type: 'MoneyWithdrawn', payload: { amount, balance } }),
  debited: (to: string, amount: number, currency: string, balance: number, transferId = 't-1'): AccountEvent => ({
    type: 'TransferDebited',
    payload: { transferId, toAccountId: to, amount, currency, balance },
  }),
  credited: (from: string, amount: number, balance: number, transferId = 't-1'): AccountEvent => ({
    type: 'TransferCredited',
    payload: { transferId, fromAccountId: from, amount, balance },
  }),
  refunded: (to: string, amount: number, reason: string, balance: number, transferId = 't-1'): AccountEvent => ({
    type: 'TransferRefunded',
    payload: { transferId, toAccountId: to, amount, reason, balance },
  }),
  closed: (): AccountEvent => ({ type: 'AccountClosed', payload: {} }),
};

/** A command with the time the broker appended it, as the processor hands it to the actor. */
export type Received = { readonly command: Command; readonly receivedAtMs: number };
export const received = (command: Command, atMs: number): Received => ({ command, receivedAtMs: atMs });

/**
 * Runs commands through the host one after another; returns the last snapshot and every outcome.
 * A bare command is received at receivedAtMs; wrap it with received() to choose another time.
 */
export function handleAll(snapshot: AggregateSnapshot, commands: Array<Command | Received>): { snapshot: AggregateSnapshot; outcomes: CommandOutcome[] } {
  const outcomes: CommandOutcome[] = [];
  for (const item of commands) {
    const { command, receivedAtMs: atMs } = 'command' in item ? item : received(item, receivedAtMs);
    const next = handleCommand(snapshot, command, atMs);
    snapshot = next.snapshot;
    outcomes.push(next.outcome);
  }
  return { snapshot, outcomes };
}
