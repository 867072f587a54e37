// The account aggregate as a pure decider: no I/O, no clock; time comes in the command.
import type { AccountState } from '../../topics/aggregates-changelog.js';
import type { Command, CommandOf } from '../../topics/commands.js';
import type { AccountEvent } from '../../topics/events.js';

export type { AccountState } from '../../topics/aggregates-changelog.js';

export const rejections = {
  unknownAccount: 'unknown account',
  alreadyOpen: 'account already open',
  closed: 'account closed',
  insufficientFunds: 'insufficient funds',
  currencyMismatch: 'currency mismatch',
  invalidAmount: 'amount must be a positive safe integer',
  transferToSelf: 'transfer to self',
  balanceNotZero: 'balance not zero',
  balanceOverflow: 'balance would exceed the largest safe integer',
} as const;
export type Rejection = (typeof rejections)[keyof typeof rejections];

export type Decision = { ok: true; events: AccountEvent[] } | { ok: false; reason: Rejection };

type OpenState = Exclude<AccountState, { status: 'none' }>;

export const initialState: AccountState = { status: 'none' };

const accept = (...events: AccountEvent[]): Decision => ({ ok: true, events });
const reject = (reason: Rejection): Decision => ({ ok: false, reason });

export function decide(command: Command, state: AccountState): Decision {
  switch (command.type) {
    case 'OpenAccount':
      if (state.status === 'open') return reject(rejections.alreadyOpen);
      if (state.status === 'closed') return reject(rejections.closed);
      return accept({ type: 'AccountOpened', payload: { ownerId: command.payload.ownerId, currency: command.payload.currency } });
    case 'Deposit':
      return whenOpen(state, command.payload.amount, (open, amount) => {
        const balance = open.balance + amount;
        if (!Number.isSafeInteger(balance)) return reject(rejections.balanceOverflow);
        return accept({ type: 'MoneyDeposited', payload: { amount, balance } });
      });
    case 'Withdraw':
      return whenOpen(state, command.payload.amount, (open, amount) => {
        if (amount > open.balance) return reject(rejections.insufficientFunds);
        return accept({ type: 'MoneyWithdrawn', payload: { amount, balance: open.balance - amount } });
      });
    case 'TransferMoney':
      return decideTransfer(command, state);
    case 'CreditTransfer':
      return whenOpen(state, command.payload.amount, (open, amount) => {
        if (open.currency !== command.payload.currency) return reject(rejections.currencyMismatch);
        const balance = open.balance + amount;
        if (!Number.isSafeInteger(balance)) return reject(rejections.balanceOverflow);
        const { transferId, fromAccountId } = command.payload;
        return accept({ type: 'TransferCredited', payload: { transferId, fromAccountId, amount, balance } });
      });
    case 'RefundTransfer': {
      // A refund returns money this account already gave; refusing it would lose the money,
      // so it applies to a closed account too.
      if (state.status === 'none') return reject(rejections.unknownAccount);
      const { transferId, toAccountId, amount, reason } = command.payload;
      if (!Number.isSafeInteger(amount) || amount <= 0) return reject(rejections.invalidAmount);
      const balance = state.balance + amount;
      if (!Number.isSafeInteger(balance)) return reject(rejections.balanceOverflow);
      return accept({ type: 'TransferRefunded', payload: { transferId, toAccountId, amount, reason, balance } });
    }
    case 'CloseAccount':
      if (state.status !== 'open') return reject(state.status === 'none' ? rejections.unknownAccount : rejections.closed);
      if (state.balance !== 0) return reject(rejections.balanceNotZero);
      return accept({ type: 'AccountClosed', payload: {} });
    default:
      return assertNever(command);
  }
}

function decideTransfer(command: CommandOf<'TransferMoney'>, state: AccountState): Decision {
  if (command.payload.toAccountId === command.aggregateId) return reject(rejections.transferToSelf);
  return whenOpen(state, command.payload.amount, (open, amount) => {
    if (amount > open.balance) return reject(rejections.insufficientFunds);
    const { transferId, toAccountId } = command.payload;
    return accept({ type: 'TransferDebited', payload: { transferId, toAccountId, amount, currency: open.currency, balance: open.balance - amount } });
  });
}

/** The checks every money command shares: the account is open and the amount is valid. */
function whenOpen(state: AccountState, amount: number, then: (open: OpenState, amount: number) => Decision): Decision {
  if (state.status === 'none') return reject(rejections.unknownAccount);
  if (state.status === 'closed') return reject(rejections.closed);
  if (!Number.isSafeInteger(amount) || amount <= 0) return reject(rejections.invalidAmount);
  return then(state, amount);
}

export function evolve(state: AccountState, event: AccountEvent): AccountState {
  switch (event.type) {
    case 'AccountOpened':
      return { status: 'open', ownerId: event.payload.ownerId, currency: event.payload.currency, balance: 0 };
    case 'MoneyDeposited':
    case 'MoneyWithdrawn':
    case 'TransferDebited':
    case 'TransferCredited':
    case 'TransferRefunded':
      assertExists(state, event.type);
      return { ...state, balance: event.payload.balance };
    case 'AccountClosed':
      assertExists(state, event.type);
      return { ...state, status: 'closed' };
    default:
      return assertNever(event);
  }
}

function assertExists(state: AccountState, eventType: string): asserts state is Exclude<AccountState, { status: 'none' }> {
  if (state.status === 'none') throw new Error(`${eventType} on an account that was never opened`);
}

export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
