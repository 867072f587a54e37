import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { encodeRecord, type RecordArgs } from '../../src/kafka/record-encoder.js';
import { kafkajsOriginal } from '../support/kafkajs-original.js';

const require = createRequire(import.meta.url);

const kafkajsRecord = kafkajsOriginal<(args: RecordArgs) => { buffer: Buffer }>('kafkajs/src/protocol/recordBatch/record/v0/index.js');
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') as (decoder: unknown, batchContext: object) => { key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | Buffer[]>; offset: string };
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => { readVarInt(): number };

const cases: [string, RecordArgs][] = [
  ['string key and JSON value', { key: 'acc-1', value: '{"commandId":"c-1","amount":500}', offsetDelta: 0, timestampDelta: 0 }],
  ['Buffer key and value', { key: Buffer.from('k'), value: Buffer.from([0, 1, 2, 255]), offsetDelta: 3, timestampDelta: 12 }],
  ['null key, empty value', { key: null, value: '', offsetDelta: 127, timestampDelta: 128 }],
  ['null value (a tombstone)', { key: 'acc-2', value: null, offsetDelta: 128 }],
  ['non-ASCII', { key: 'ü€😀', value: 'Zoë ✓ 😀'.repeat(40), offsetDelta: 16_383 }],
  ['negative and large timestamp deltas', { key: 'a', value: 'b', offsetDelta: 16_384, timestampDelta: -1 }],
  ['a delta past 32 bits', { key: 'a', value: 'b', offsetDelta: 2_000_000, timestampDelta: 1_795_387_605_457 }],
  ['headers, one repeated', { key: 'acc-3', value: 'v', headers: { 'dlq-reason': 'payload.amount: must be > 0', 'x-trace': [Buffer.from('a'), 'b'], empty: '' } }],
  ['a large value', { key: 'big', value: 'x'.repeat(70_000), offsetDelta: 9 }],
  ['varint length edges', { key: 'k'.repeat(63), value: 'v'.repeat(8_191), offsetDelta: 2_097_151, timestampDelta: -64 }],
  // Own keys only, and an array's holes skipped, as kafkajs's Object.keys and flatMap do.
  ['inherited header keys and a sparse header array', { key: 'a', value: 'b', headers: Object.assign(Object.create({ inherited: 'no' }) as Record<string, string | string[]>, { own: ['x', , 'y'] as string[] }) }],
];

test('encodes every case byte for byte as kafkajs does', () => {
  for (const [name, args] of cases) assert.equal(encodeRecord(args).buffer, kafkajsRecord(args).buffer, name);
});

test('kafkajs decodes what it encodes back to the same key, value and headers', () => {
  const [, args] = cases[7]!;
  const encoded = encodeRecord(args).buffer;
  const decoder = new Decoder(encoded);
  decoder.readVarInt(); // the record's length
  const record = decodeRecord(decoder, { firstOffset: '0', firstTimestamp: '0', magicByte: 2 });
  assert.is(record.key?.toString(), 'acc-3');
  assert.is(record.value?.toString(), 'v');
  assert.is(record.headers['dlq-reason']?.toString(), 'payload.amount: must be > 0');
  assert.equal((record.headers['x-trace'] as Buffer[]).map(String), ['a', 'b']);
});

test('random keys, values and deltas', () => {
  for (let i = 0; i < 500; i++) {
    const text = (n: number) => Array.from({ length: n }, () => String.fromCodePoint(Math.random() < 0.9 ? 32 + Math.floor(Math.random() * 95) : 0x80 + Math.floor(Math.random() * 0x2000))).join('');
    const args: RecordArgs = {
      key: Math.random() < 0.1 ? null : text(Math.floor(Math.random() * 40)),
      value: Math.random() < 0.5 ? text(Math.floor(Math.random() * 600)) : Buffer.from(text(Math.floor(Math.random() * 600))),
      offsetDelta: Math.floor(Math.random() * 100_000),
      timestampDelta: Math.floor((Math.random() - 0.2) * 10 ** Math.floor(Math.random() * 13)),
    };
    assert.equal(encodeRecord(args).buffer, kafkajsRecord(args).buffer, JSON.stringify({ ...args, value: String(args.value).slice(0, 40) }));
  }
});

test.run();
