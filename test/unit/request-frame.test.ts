import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import '../../src/kafka/kafkajs-patch.js';
import { encodeRequestFrame } from '../../src/kafka/request-frame.js';
import { kafkajsOriginal } from '../support/kafkajs-original.js';

const require = createRequire(import.meta.url);
type Frame = (args: object) => Promise<{ buffer: Buffer }>;
const Encoder = require('kafkajs/src/protocol/encoder.js') as new () => { writeBuffer(b: Buffer): unknown };


test('frames requests byte for byte as kafkajs does', async () => {
  const original = kafkajsOriginal<Frame>('kafkajs/src/protocol/request.js');
  const payloads = [Buffer.alloc(0), Buffer.from('x'), Buffer.from('payload \u00e9'.repeat(50_000))];
  for (const clientId of ['app', 'cli\u00e9nt-\u{1f600}', null]) {
    for (const [i, payload] of payloads.entries()) {
      const request = { apiKey: 0, apiVersion: 3, encode: async () => { const e = new Encoder(); e.writeBuffer(payload); return e; } };
      const args = { correlationId: 2_000_000_000 + i, clientId, request };
      assert.equal((await encodeRequestFrame(args as never)).buffer, (await original(args)).buffer, `${clientId} ${payload.length}`);
    }
  }
});

test.run();
