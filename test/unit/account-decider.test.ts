import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evolve, initialState, rejections, type AccountState } from '../../actors/account/decider.js';
import { cmd, ev, given, stateAfter } from '../support/given.js';

const max = Number.MAX_SAFE_INTEGER;
const opened = [ev.opened('EUR')];
const funded = (balance: number) => [ev.opened('EUR'), ev.deposited(balance, balance)];
const closedAccount = [ev.opened('EUR'), ev.closed()];

// OpenAccount

test('OpenAccount on a new account: AccountOpened with owner and currency', () => {
  given([]).when(cmd.open('acc-1', 'USD')).then([ev.opened('USD', 'owner-1')]);
});

test('OpenAccount twice: already open', () => {
  given(opened).when(cmd.open('acc-1')).thenRejected(rejections.alreadyOpen);
});

test('OpenAccount on a closed account: closed', () => {
  given(closedAccount).when(cmd.open('acc-1')).thenRejected(rejections.closed);
});

// Deposit

test('Deposit: MoneyDeposited with the new balance', () => {
  given(funded(300)).when(cmd.deposit('acc-1', 500)).then([ev.deposited(500, 800)]);
});

test('Deposit on an unknown account', () => {
  given([]).when(cmd.deposit('acc-1', 500)).thenRejected(rejections.unknownAccount);
});

test('Deposit on a closed account', () => {
  given(closedAccount).when(cmd.deposit('acc-1', 500)).thenRejected(rejections.closed);
});

for (const [label, amount] of [
  ['0', 0],
  ['negative', -5],
  ['fractional', 1.5],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['above MAX_SAFE_INTEGER', max + 2],
] as const) {
  test(`Deposit of an invalid amount (${label}): invalid amount`, () => {
    given(opened).when(cmd.deposit('acc-1', amount)).thenRejected(rejections.invalidAmount);
  });
}

test('Deposit of a non-number at runtime: invalid amount', () => {
  given(opened).when(cmd.deposit('acc-1', '5' as never)).thenRejected(rejections.invalidAmount);
});

test('Deposit up to exactly MAX_SAFE_INTEGER is accepted', () => {
  given(funded(max - 10)).when(cmd.deposit('acc-1', 10)).then([ev.deposited(10, max)]);
});

test('Deposit that would overflow the balance: balance overflow', () => {
  given(funded(max - 10)).when(cmd.deposit('acc-1', 11)).thenRejected(rejections.balanceOverflow);
});

// Withdraw

test('Withdraw: MoneyWithdrawn with the new balance', () => {
  given(funded(500)).when(cmd.withdraw('acc-1', 200)).then([ev.withdrawn(200, 300)]);
});

test('Withdraw exactly the balance leaves zero', () => {
  given(funded(500)).when(cmd.withdraw('acc-1', 500)).then([ev.withdrawn(500, 0)]);
});

test('Withdraw more than the balance: insufficient funds', () => {
  given(funded(500)).when(cmd.withdraw('acc-1', 501)).thenRejected(rejections.insufficientFunds);
});

test('Withdraw: unknown, closed, invalid amount', () => {
  given([]).when(cmd.withdraw('acc-1', 1)).thenRejected(rejections.unknownAccount);
  given(closedAccount).when(cmd.withdraw('acc-1', 1)).thenRejected(rejections.closed);
  given(funded(500)).when(cmd.withdraw('acc-1', -1)).thenRejected(rejections.invalidAmount);
});

// TransferMoney

test('TransferMoney: TransferDebited with the source currency and the new balance', () => {
  given([ev.opened('GBP'), ev.deposited(1000, 1000)])
    .when(cmd.transfer('acc-1', 'acc-2', 300, 't-9'))
    .then([ev.debited('acc-2', 300, 'GBP', 700, 't-9')]);
});

test('TransferMoney of the whole balance is accepted', () => {
  given(funded(300)).when(cmd.transfer('acc-1', 'acc-2', 300)).then([ev.debited('acc-2', 300, 'EUR', 0)]);
});

test('TransferMoney to the same account: transfer to self', () => {
  given(funded(1000)).when(cmd.transfer('acc-1', 'acc-1', 300)).thenRejected(rejections.transferToSelf);
});

test('TransferMoney of more than the balance: insufficient funds', () => {
  given(funded(299)).when(cmd.transfer('acc-1', 'acc-2', 300)).thenRejected(rejections.insufficientFunds);
});

test('TransferMoney of an invalid amount', () => {
  given(funded(1000)).when(cmd.transfer('acc-1', 'acc-2', 0)).thenRejected(rejections.invalidAmount);
  given(funded(1000)).when(cmd.transfer('acc-1', 'acc-2', 2.5)).thenRejected(rejections.invalidAmount);
  given(funded(1000)).when(cmd.transfer('acc-1', 'acc-2', -300)).thenRejected(rejections.invalidAmount);
});

test('TransferMoney from an unknown or closed account', () => {
  given([]).when(cmd.transfer('acc-1', 'acc-2', 1)).thenRejected(rejections.unknownAccount);
  given(closedAccount).when(cmd.transfer('acc-1', 'acc-2', 1)).thenRejected(rejections.closed);
});

// CreditTransfer

test('CreditTransfer: TransferCredited with the source and the new balance', () => {
  given(funded(100)).when(cmd.credit('acc-2', 'acc-1', 300, 'EUR', 't-9')).then([ev.credited('acc-1', 300, 400, 't-9')]);
});

test('CreditTransfer to an unknown target', () => {
  given([]).when(cmd.credit('acc-2', 'acc-1', 300)).thenRejected(rejections.unknownAccount);
});

test('CreditTransfer to a closed target', () => {
  given(closedAccount).when(cmd.credit('acc-2', 'acc-1', 300)).thenRejected(rejections.closed);
});

test('CreditTransfer in another currency: currency mismatch', () => {
  given(funded(100)).when(cmd.credit('acc-2', 'acc-1', 300, 'USD')).thenRejected(rejections.currencyMismatch);
});

test('CreditTransfer: invalid amount and overflow', () => {
  given(funded(100)).when(cmd.credit('acc-2', 'acc-1', 0)).thenRejected(rejections.invalidAmount);
  given(funded(max)).when(cmd.credit('acc-2', 'acc-1', 1)).thenRejected(rejections.balanceOverflow);
});

// RefundTransfer

test('RefundTransfer: TransferRefunded with the reason and the balance restored', () => {
  given([...funded(1000), ev.debited('acc-2', 300, 'EUR', 700)])
    .when(cmd.refund('acc-1', 'acc-2', 300, rejections.currencyMismatch))
    .then([ev.refunded('acc-2', 300, rejections.currencyMismatch, 1000)]);
});

test('RefundTransfer applies to a closed account too', () => {
  given([...funded(300), ev.debited('acc-2', 300, 'EUR', 0), ev.closed()])
    .when(cmd.refund('acc-1', 'acc-2', 300, rejections.closed))
    .then([ev.refunded('acc-2', 300, rejections.closed, 300)]);
});

test('RefundTransfer to an unknown account', () => {
  given([]).when(cmd.refund('acc-1', 'acc-2', 300, rejections.closed)).thenRejected(rejections.unknownAccount);
});

for (const [label, amount] of [
  ['0', 0],
  ['negative', -300],
  ['fractional', 1.5],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['above MAX_SAFE_INTEGER', max + 2],
  ['a non-number at runtime', '300' as never as number],
] as const) {
  test(`RefundTransfer of an invalid amount (${label}): invalid amount`, () => {
    given([...funded(1000), ev.debited('acc-2', 300, 'EUR', 700)])
      .when(cmd.refund('acc-1', 'acc-2', amount, rejections.closed))
      .thenRejected(rejections.invalidAmount);
  });
}

test('RefundTransfer of an invalid amount on a closed account: invalid amount', () => {
  given([...funded(300), ev.debited('acc-2', 300, 'EUR', 0), ev.closed()])
    .when(cmd.refund('acc-1', 'acc-2', -300, rejections.closed))
    .thenRejected(rejections.invalidAmount);
});

test('RefundTransfer up to exactly MAX_SAFE_INTEGER is accepted', () => {
  given(funded(max - 10)).when(cmd.refund('acc-1', 'acc-2', 10, rejections.closed)).then([ev.refunded('acc-2', 10, rejections.closed, max)]);
});

test('RefundTransfer that would overflow the balance: balance overflow, open or closed', () => {
  given(funded(max - 10)).when(cmd.refund('acc-1', 'acc-2', 11, rejections.closed)).thenRejected(rejections.balanceOverflow);
  given([...funded(max), ev.closed()]).when(cmd.refund('acc-1', 'acc-2', 1, rejections.closed)).thenRejected(rejections.balanceOverflow);
});

// CloseAccount

test('CloseAccount at zero balance: AccountClosed', () => {
  given(opened).when(cmd.close('acc-1')).then([ev.closed()]);
  given([...funded(500), ev.withdrawn(500, 0)]).when(cmd.close('acc-1')).then([ev.closed()]);
});

test('CloseAccount with money left: balance not zero', () => {
  given(funded(1)).when(cmd.close('acc-1')).thenRejected(rejections.balanceNotZero);
});

test('CloseAccount on an unknown account', () => {
  given([]).when(cmd.close('acc-1')).thenRejected(rejections.unknownAccount);
});

test('CloseAccount twice: closed', () => {
  given(closedAccount).when(cmd.close('acc-1')).thenRejected(rejections.closed);
});

// evolve

const open = (balance: number, currency = 'EUR'): AccountState => ({ status: 'open', ownerId: 'owner-1', currency, balance });

test('evolve AccountOpened: open with balance 0', () => {
  assert.equal(evolve(initialState, ev.opened('CHF', 'owner-7')), { status: 'open', ownerId: 'owner-7', currency: 'CHF', balance: 0 });
});

test('evolve of every money event takes the balance it carries', () => {
  assert.equal(evolve(open(100), ev.deposited(50, 150)), open(150));
  assert.equal(evolve(open(100), ev.withdrawn(40, 60)), open(60));
  assert.equal(evolve(open(100), ev.debited('acc-2', 30, 'EUR', 70)), open(70));
  assert.equal(evolve(open(100), ev.credited('acc-2', 30, 130)), open(130));
  assert.equal(evolve(open(100), ev.refunded('acc-2', 30, 'closed', 130)), open(130));
});

test('evolve AccountClosed keeps owner, currency and balance', () => {
  assert.equal(evolve(open(0, 'USD'), ev.closed()), { status: 'closed', ownerId: 'owner-1', currency: 'USD', balance: 0 });
});

test('evolve TransferRefunded on a closed account stays closed', () => {
  const closed: AccountState = { status: 'closed', ownerId: 'owner-1', currency: 'EUR', balance: 0 };
  assert.equal(evolve(closed, ev.refunded('acc-2', 30, 'closed', 30)), { ...closed, balance: 30 });
});

test('evolve does not mutate the state it is given', () => {
  const before = open(100);
  evolve(before, ev.deposited(50, 150));
  assert.equal(before, open(100));
});

test('evolve of a money event or AccountClosed on an account never opened throws', () => {
  assert.throws(() => evolve(initialState, ev.deposited(1, 1)), /^MoneyDeposited on an account that was never opened$/);
  assert.throws(() => evolve(initialState, ev.withdrawn(1, 0)), /^MoneyWithdrawn on an account that was never opened$/);
  assert.throws(() => evolve(initialState, ev.debited('acc-2', 1, 'EUR', 0)), /^TransferDebited on /);
  assert.throws(() => evolve(initialState, ev.credited('acc-2', 1, 1)), /^TransferCredited on /);
  assert.throws(() => evolve(initialState, ev.refunded('acc-2', 1, 'x', 1)), /^TransferRefunded on /);
  assert.throws(() => evolve(initialState, ev.closed()), /^AccountClosed on an account that was never opened$/);
});

test('given folds the history with evolve from the initial state', () => {
  assert.equal(stateAfter([]), { status: 'none' });
  assert.equal(stateAfter([ev.opened('EUR'), ev.deposited(500, 500), ev.withdrawn(200, 300)]), open(300));
});

test.run();
