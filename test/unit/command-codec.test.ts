import { createRequire } from 'node:module';
import { test } from 'uvu';
import { eventCodec } from '../../topics/events.js';
import { restoreMarkerKey } from '../../topics/aggregates-changelog.js';
import * as assert from 'uvu/assert';
import { checkPublicCommand, decodeCommand, encodeCommand, OpenAccount, type Command, murmur2, murmur2Partition } from '../../topics/commands.js';
import { cmd } from '../support/given.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const encodeCommandObject = (command: Command): unknown => JSON.parse(encodeCommand(command).toString());
const key = (aggregateId: string) => Buffer.from(aggregateId);
const deposit = { commandId: 'c-1', type: 'Deposit', aggregateId: 'acc-1', payload: { amount: 500 }, issuedAt: '2026-01-01T00:00:00Z' };
const encodedOpen = (payload: { ownerId: string }) => ({ ...deposit, type: 'OpenAccount', payload: { currency: 'EUR', ...payload } });

const publicCommands: Command[] = [
  cmd.open('acc-1', 'EUR', { commandId: 'c-open' }),
  cmd.deposit('acc-1', 500, { commandId: 'c-dep' }),
  cmd.withdraw('acc-1', 200, { commandId: 'c-wd' }),
  cmd.transfer('acc-1', 'acc-2', 100, 't-1', { commandId: 'c-tr' }),
  cmd.close('acc-1', { commandId: 'c-close' }),
];

for (const command of publicCommands) {
  test(`a valid ${command.type} decodes to itself`, () => {
    assert.equal(decodeCommand(key('acc-1'), encodeCommand(command)), { ok: true, value: command });
  });
}

test('the internal saga commands decode too', () => {
  const credit = cmd.credit('acc-2', 'acc-1', 100, 'EUR', 't-1', { commandId: 'credit:acc-1:3' });
  const refund = cmd.refund('acc-1', 'acc-2', 100, 'currency mismatch', 't-1', { commandId: 'refund:credit:acc-1:3' });
  assert.equal(decodeCommand(key('acc-2'), encodeCommand(credit)), { ok: true, value: credit });
  assert.equal(decodeCommand(key('acc-1'), encodeCommand(refund)), { ok: true, value: refund });
});

test('the saga\'s commandId prefixes are reserved: a client command may not take a credit\'s id first, a saga command needs one', () => {
  // Taken first by a client, the real credit would be answered as a duplicate and its money lost.
  for (const commandId of ['credit:acc-1:3', 'refund:credit:acc-1:3']) {
    const decoded = decodeCommand(key('acc-1'), encodeCommand(cmd.deposit('acc-1', 5, { commandId })));
    assert.equal(decoded, { ok: false, reason: 'commandId: the prefixes "credit:" and "refund:" are reserved for the transfer saga', commandId });
    assert.equal(checkPublicCommand({ ...deposit, commandId }), decoded);
  }
  assert.equal(decodeCommand(key('acc-1'), encodeCommand(cmd.deposit('acc-1', 5, { commandId: 'credited:1' }))).ok, true);
  const credit = cmd.credit('acc-2', 'acc-1', 100, 'EUR', 't-1', { commandId: 'c-9' });
  assert.equal(decodeCommand(key('acc-2'), encodeCommand(credit)), { ok: false, reason: 'commandId: saga commands have saga commandIds', commandId: 'c-9' });
  // And the API refuses the saga's types outright.
  assert.equal(checkPublicCommand(encodeCommandObject(cmd.credit('acc-2', 'acc-1', 100, 'EUR', 't-1', { commandId: 'credit:acc-1:3' }))).ok, false);
});

test('a null key is refused: the key decides the partition, so the account\'s one worker', () => {
  assert.equal(decodeCommand(null, json(deposit)), { ok: false, reason: 'key: must be the aggregateId (the key decides the partition)', commandId: 'c-1' });
});

test('a command on a partition its key does not hash to (murmur2) is refused', () => {
  const home = murmur2Partition(key(deposit.aggregateId), 12);
  assert.equal(decodeCommand(key(deposit.aggregateId), json(deposit), home, 12), { ok: true, value: deposit });
  const elsewhere = decodeCommand(key(deposit.aggregateId), json(deposit), (home + 1) % 12, 12);
  assert.equal(elsewhere, { ok: false, reason: `key: hashes to partition ${home}, not ${(home + 1) % 12} (use the murmur2 partitioner)`, commandId: 'c-1' });
});

test('murmur2Partition agrees with the Kafka Java client', () => {
  // Expected values printed by kafka-clients 4.3.1 in jshell:
  // Utils.toPositive(Utils.murmur2(key.getBytes(UTF_8))) % 12
  const java: Array<[string, number]> = [['acc-1', 9], ['acc-2', 8], ['21', 0], ['hello-world', 1]];
  for (const [k, partition] of java) assert.is(murmur2Partition(Buffer.from(k), 12), partition, k);
});

test('murmur2 equals kafkajs\'s Long-based murmur2 on random keys of every length mod 4, bytes above 0x7f included', () => {
  const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;
  let seed = 7;
  const byte = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % 256;
  for (let n = 0; n < 2_000; n++) {
    const key = Buffer.from(Array.from({ length: n % 70 }, byte));
    assert.is(murmur2(key), kafkajsMurmur2(key), key.toString('hex'));
  }
});

test('not JSON: the reason starts with "not JSON", no commandId', () => {
  const decoded = decodeCommand(null, Buffer.from('{"commandId": "c-1", '));
  assert.is(decoded.ok, false);
  if (decoded.ok) return;
  assert.match(decoded.reason, /^not JSON/);
  assert.is(decoded.commandId, undefined);
});

test('an empty or missing value is rejected', () => {
  assert.equal(decodeCommand(key('acc-1'), Buffer.alloc(0)), { ok: false, reason: 'empty value' });
  assert.equal(decodeCommand(key('acc-1'), null), { ok: false, reason: 'empty value' });
});

test('JSON that is not an object is rejected at the root', () => {
  for (const value of ['[]', 'null', '42', '"Deposit"']) {
    assert.equal(decodeCommand(null, Buffer.from(value)), { ok: false, reason: '(root): expected an object' }, value);
  }
});

test('an unknown type: the reason names "type" and the commandId is kept', () => {
  assert.equal(decodeCommand(null, json({ ...deposit, type: 'Steal' })), {
    ok: false,
    reason: 'type: unknown command type "Steal"',
    commandId: 'c-1',
  });
  assert.equal(decodeCommand(null, json({ ...deposit, type: undefined })), {
    ok: false,
    reason: 'type: unknown command type undefined',
    commandId: 'c-1',
  });
});

test('missing payload.amount: the reason names payload.amount', () => {
  assert.equal(decodeCommand(null, json({ ...deposit, payload: {} })), {
    ok: false,
    reason: 'payload.amount: Expected required property',
    commandId: 'c-1',
  });
});

test('a non-number amount: the reason names payload.amount', () => {
  const decoded = decodeCommand(null, json({ ...deposit, payload: { amount: '500' } }));
  assert.equal(decoded, { ok: false, reason: 'payload.amount: Expected number', commandId: 'c-1' });
});

test('an extra property is rejected, at the root or in the payload', () => {
  assert.equal(decodeCommand(null, json({ ...deposit, extra: true })), { ok: false, reason: 'extra: Unexpected property', commandId: 'c-1' });
  assert.equal(decodeCommand(null, json({ ...deposit, payload: { amount: 5, note: 'x' } })), {
    ok: false,
    reason: 'payload.note: Unexpected property',
    commandId: 'c-1',
  });
});

test('a key other than the aggregateId: the reason names the key', () => {
  const decoded = decodeCommand(key('acc-2'), json(deposit));
  assert.is(decoded.ok, false);
  if (decoded.ok) return;
  assert.match(decoded.reason, /^key: /);
  assert.is(decoded.commandId, 'c-1');
});

test('a bad issuedAt is rejected, naming issuedAt', () => {
  for (const issuedAt of ['yesterday', '2026-01-01', '2026-13-45T00:00:00Z', '', '2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z', '2026-01-01T00:00:00+24:00', '1900-02-29T00:00:00Z']) {
    assert.equal(
      decodeCommand(null, json({ ...deposit, issuedAt })),
      { ok: false, reason: "issuedAt: Expected string to match 'date-time' format", commandId: 'c-1' },
      issuedAt,
    );
  }
  const decoded = decodeCommand(null, json({ ...deposit, issuedAt: 12345 }));
  assert.is(decoded.ok, false);
  if (!decoded.ok) assert.match(decoded.reason, /^issuedAt: /);
});

test('an issuedAt in range is accepted: leap day, end of month, offsets, fractions', () => {
  for (const issuedAt of ['2024-02-29T23:59:59Z', '2026-12-31T00:00:00.123456+14:00', '2026-04-30t12:00:00z', '2026-01-31T00:00:00-23:59', '2000-02-29T00:00:00Z']) {
    assert.equal(decodeCommand(key(deposit.aggregateId), json({ ...deposit, issuedAt })), { ok: true, value: { ...deposit, issuedAt } }, issuedAt);
  }
});

test('what the topics may hold from before the range check still decodes: saga commands and events', () => {
  const credit = { commandId: 'credit:acc-1:3', type: 'CreditTransfer', aggregateId: 'acc-2', payload: { transferId: 't', fromAccountId: 'acc-1', amount: 5, currency: 'EUR' }, issuedAt: '2026-02-30T00:00:00Z' };
  assert.equal(decodeCommand(key('acc-2'), json(credit)), { ok: true, value: credit });
  const event = { eventId: 'acc-1:2', aggregateId: 'acc-1', seq: 2, commandId: 'c-2', occurredAt: '2026-02-30T00:00:00Z', type: 'MoneyDeposited', payload: { amount: 5, balance: 5 } };
  assert.is(eventCodec.validate(event).ok, true);
  // A client's command is checked strictly.
  assert.is(decodeCommand(key('acc-1'), json({ ...deposit, issuedAt: '2026-02-30T00:00:00Z' })).ok, false);
});

test('an issuedAt without a time zone is rejected, naming issuedAt', () => {
  for (const issuedAt of ['2026-01-01T00:00:00', '2026-01-01T00:00:00.000', '2026-01-01T00:00']) {
    assert.equal(
      decodeCommand(null, json({ ...deposit, issuedAt })),
      { ok: false, reason: "issuedAt: Expected string to match 'date-time' format", commandId: 'c-1' },
      issuedAt,
    );
  }
});

test('an issuedAt with Z or a numeric offset is accepted as it was sent', () => {
  for (const issuedAt of ['2026-01-01T00:00:00+02:00', '2026-01-01T00:00:00-05:30', '2026-01-01T00:00:00.123Z', '2026-01-01T00:00:00Z']) {
    const command = { ...deposit, issuedAt };
    assert.equal(decodeCommand(key('acc-1'), json(command)), { ok: true, value: command }, issuedAt);
  }
});

test('a bad currency on OpenAccount names payload.currency', () => {
  const open = { ...cmd.open('acc-1', 'eur', { commandId: 'c-2' }) };
  const decoded = decodeCommand(key('acc-1'), json(open));
  assert.is(decoded.ok, false);
  if (!decoded.ok) {
    assert.match(decoded.reason, /^payload\.currency: /);
    assert.is(decoded.commandId, 'c-2');
  }
});

test('an unreadable commandId is not echoed back', () => {
  assert.equal(decodeCommand(null, json({ ...deposit, commandId: '' })), {
    ok: false,
    reason: 'commandId: Expected string length greater or equal to 1',
  });
  const decoded = decodeCommand(null, json({ ...deposit, commandId: 'x'.repeat(201) }));
  assert.is(decoded.ok, false);
  if (!decoded.ok) {
    assert.is(decoded.commandId, undefined);
    assert.match(decoded.reason, /^commandId: /);
  }
});

test('a commandId of 200 characters is accepted; 201 is rejected, naming commandId', () => {
  const longest = { ...deposit, commandId: 'c'.repeat(200) };
  assert.equal(decodeCommand(key('acc-1'), json(longest)), { ok: true, value: longest });
  assert.equal(decodeCommand(key('acc-1'), json({ ...deposit, commandId: 'c'.repeat(201) })), {
    ok: false,
    reason: 'commandId: Expected string length less or equal to 200',
  });
});

test('an aggregateId with a control character is rejected, naming aggregateId: the restore marker\'s key cannot be an account', () => {
  for (const id of [restoreMarkerKey, 'acc\n1', 'acc\u007f']) {
    const decoded = decodeCommand(key(id), json({ ...deposit, aggregateId: id }));
    assert.is(decoded.ok, false, JSON.stringify(id));
    if (!decoded.ok) assert.match(decoded.reason, /^aggregateId: Expected string to match/);
  }
  const transfer = decodeCommand(null, json({ ...deposit, type: 'TransferMoney', payload: { transferId: 't', toAccountId: restoreMarkerKey, amount: 1 } }));
  assert.is(transfer.ok, false);
  if (!transfer.ok) assert.match(transfer.reason, /^payload\.toAccountId: Expected string to match/);
  const unicode = { ...deposit, aggregateId: 'konto-\u00e9\u{1f600}' };
  assert.equal(decodeCommand(key(unicode.aggregateId), json(unicode)), { ok: true, value: unicode });
});

test('a lone UTF-16 surrogate in any client text is rejected, naming the field: Redis\'s cjson would refuse the event', () => {
  const lone = 'x\ud800y';
  const cases: Array<[string, unknown, string | null]> = [
    ['commandId', { ...deposit, commandId: lone }, 'acc-1'],
    ['aggregateId', { ...deposit, aggregateId: lone }, lone],
    ['payload.ownerId', encodedOpen({ ownerId: lone }), 'acc-1'],
    ['payload.transferId', { ...deposit, type: 'TransferMoney', payload: { transferId: lone, toAccountId: 'acc-2', amount: 1 } }, 'acc-1'],
    ['payload.toAccountId', { ...deposit, type: 'TransferMoney', payload: { transferId: 't', toAccountId: '\udc00', amount: 1 } }, 'acc-1'],
  ];
  for (const [field, value, recordKey] of cases) {
    const decoded = decodeCommand(recordKey === null ? null : key(recordKey), json(value));
    assert.is(decoded.ok, false, field);
    if (!decoded.ok) assert.ok(decoded.reason.startsWith(`${field}: Expected string to match`), decoded.reason);
  }
  // A surrogate pair (an emoji) is text like any other, and the patterns mean the same under
  // ajv's u flag as under TypeBox's plain RegExp.
  const emoji = { ...encodedOpen({ ownerId: 'owner-\u{1f600}' }), commandId: 'c-\u{1f600}' };
  assert.equal(decodeCommand(key('acc-1'), json(emoji)), { ok: true, value: emoji });
  for (const schema of [OpenAccount.properties.commandId, OpenAccount.properties.aggregateId]) {
    for (const text of ['acc-1', 'a\u{1f600}', lone, '\udc00\ud800']) {
      assert.is(new RegExp(schema.pattern!, 'u').test(text), new RegExp(schema.pattern!).test(text), `${schema.pattern} on ${JSON.stringify(text)}`);
    }
  }
});

test('an aggregateId of 64 characters is accepted; 65 is rejected, naming aggregateId', () => {
  const id64 = 'a'.repeat(64);
  const id65 = 'a'.repeat(65);
  const longest = { ...deposit, aggregateId: id64 };
  assert.equal(decodeCommand(key(id64), json(longest)), { ok: true, value: longest });
  // With its own key and without one: the length, not the key check, rejects it.
  for (const recordKey of [key(id65), null]) {
    assert.equal(decodeCommand(recordKey, json({ ...deposit, aggregateId: id65 })), {
      ok: false,
      reason: 'aggregateId: Expected string length less or equal to 64',
      commandId: 'c-1',
    });
  }
  // Every command type has the limit.
  for (const command of publicCommands) {
    const decoded = decodeCommand(null, encodeCommand({ ...command, aggregateId: id65 }));
    assert.equal(decoded, { ok: false, reason: 'aggregateId: Expected string length less or equal to 64', commandId: command.commandId }, command.type);
  }
});

test('a toAccountId of 64 characters is accepted; 65 is rejected, naming payload.toAccountId', () => {
  const longest = cmd.transfer('acc-1', 'b'.repeat(64), 100, 't-1', { commandId: 'c-tr' });
  assert.equal(decodeCommand(key('acc-1'), encodeCommand(longest)), { ok: true, value: longest });
  const tooLong = cmd.transfer('acc-1', 'b'.repeat(65), 100, 't-1', { commandId: 'c-tr' });
  assert.equal(decodeCommand(key('acc-1'), encodeCommand(tooLong)), {
    ok: false,
    reason: 'payload.toAccountId: Expected string length less or equal to 64',
    commandId: 'c-tr',
  });
});

test('the longest derived refund id (refund:credit:<64-character aggregateId>:<largest safe seq>) decodes as a RefundTransfer', () => {
  const source = 's'.repeat(64);
  const commandId = `refund:credit:${source}:${Number.MAX_SAFE_INTEGER}`;
  assert.is(commandId, `refund:credit:${source}:9007199254740991`);
  assert.is(commandId.length, 95);
  const refund = cmd.refund(source, 't'.repeat(64), 100, 'account closed', 'x'.repeat(128), { commandId });
  const decoded = decodeCommand(key(source), encodeCommand(refund));
  assert.equal(decoded, { ok: true, value: refund });
  assert.is(decoded.ok && decoded.value.type, 'RefundTransfer');
});

test.run();
