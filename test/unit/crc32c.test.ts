import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { crc32c } from '../../src/kafka/crc32c.js';

const require = createRequire(import.meta.url);
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (buffer: Buffer) => number;

test('the check value of CRC-32C', () => {
  assert.is(crc32c(Buffer.from('123456789')), 0xe3069283);
});

test('equals kafkajs on every length from 0 to 64 and on random buffers, whole and in ranges', () => {
  for (let length = 0; length <= 64; length++) {
    const bytes = randomBytes(length);
    assert.is(crc32c(bytes), kafkajsCrc32c(bytes), `length ${length}`);
  }
  for (let i = 0; i < 200; i++) {
    const bytes = randomBytes(1 + Math.floor(Math.random() * 5_000));
    const start = Math.floor(Math.random() * bytes.length);
    const end = start + Math.floor(Math.random() * (bytes.length - start));
    assert.is(crc32c(bytes), kafkajsCrc32c(bytes));
    assert.is(crc32c(bytes, start, end), kafkajsCrc32c(bytes.subarray(start, end)), `range ${start}-${end} of ${bytes.length}`);
  }
});

test.run();
