// npm run bench:record-encoding [-- --records 1000 --rounds 300]
// One produce record encoded by kafkajs's own record/v0 module against src/kafka/record-encoder.ts,
// on event-like records, alternating, in the same process: µs per record and the ratio. The
// per-call argument spread is the one kafkajs's produce request makes, so both pay it.
// Then our encoder on messages of the several shapes the processor produces, called as kafkajs's
// produce request does ({ ...message, offsetDelta, timestampDelta }) and as
// src/kafka/produce-request.ts does (the message's fields).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { encodeRecord, type RecordArgs } from '../../src/kafka/record-encoder.js';

const { values: args } = parseArgs({ options: { records: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '300' } } });
const [recordsTotal, rounds] = [Number(args.records), Number(args.rounds)];
const kafkajsRecord = createRequire(import.meta.url)('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (args: RecordArgs) => { buffer: Buffer };

const records = Array.from({ length: recordsTotal }, (_, i) => ({
  key: `acc-${i}`,
  value: JSON.stringify({ eventId: `acc-${i}:5`, aggregateId: `acc-${i}`, seq: 5, type: 'MoneyDeposited', payload: { amount: 500, balance: 12_345 }, commandId: `c-${i}`, occurredAt: '2026-01-01T00:00:00Z' }),
  partition: 3,
}));

function usPerRecord(encode: (args: RecordArgs) => { buffer: Buffer }): number {
  const startedMs = performance.now();
  let bytes = 0;
  for (let r = 0; r < rounds; r++) for (let i = 0; i < records.length; i++) bytes += encode({ ...records[i], offsetDelta: i, timestampDelta: 0 }).buffer.length;
  if (bytes === 0) throw new Error('nothing encoded');
  return ((performance.now() - startedMs) * 1000) / (rounds * records.length);
}

// The shapes of the processor's outputs: events and results, DLQ records with headers, snapshots as Buffers.
type Message = { key: string | Buffer; value: string | Buffer; partition: number; headers?: Record<string, string>; timestamp?: number };
const shapes: ((r: (typeof records)[number]) => Message)[] = [
  (r) => ({ key: r.key, value: r.value, partition: r.partition }),
  (r) => ({ key: r.key, value: r.value, partition: r.partition, headers: { 'dlq-reason': 'invalid' } }),
  (r) => ({ partition: r.partition, key: r.key, value: Buffer.from(r.value) }),
  (r) => ({ key: Buffer.from(r.key), value: r.value, timestamp: undefined, partition: r.partition }),
];
const mixed = records.map((r, i) => shapes[i % shapes.length]!(r));
function usPerMixedRecord(spread: boolean): number {
  const startedMs = performance.now();
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < mixed.length; i++) {
      const m = mixed[i]!;
      bytes += (spread ? encodeRecord({ ...m, offsetDelta: i, timestampDelta: 0 }) : encodeRecord({ key: m.key, value: m.value, headers: m.headers, offsetDelta: i, timestampDelta: 0 })).buffer.length;
    }
  }
  if (bytes === 0) throw new Error('nothing encoded');
  return ((performance.now() - startedMs) * 1000) / (rounds * mixed.length);
}

const results = { kafkajs: [] as number[], ours: [] as number[], spread: [] as number[], fields: [] as number[] };
for (let round = 0; round < 5; round++) {
  results.kafkajs.push(usPerRecord(kafkajsRecord));
  results.ours.push(usPerRecord(encodeRecord));
  results.spread.push(usPerMixedRecord(true));
  results.fields.push(usPerMixedRecord(false));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${records.length} event records × ${rounds}, median of 5 alternating rounds:`);
console.log(`  kafkajs record/v0:          ${median(results.kafkajs).toFixed(2)} µs per record`);
console.log(`  src/kafka/record-encoder:   ${median(results.ours).toFixed(2)} µs per record  (${(median(results.kafkajs) / median(results.ours)).toFixed(2)}× faster)`);
console.log(`our encoder, messages of ${shapes.length} shapes (median of 5 alternating rounds):`);
console.log(`  kafkajs's per-record spread:  ${median(results.spread).toFixed(2)} µs per record`);
console.log(`  the message's fields:         ${median(results.fields).toFixed(2)} µs per record  (${(median(results.spread) / median(results.fields)).toFixed(2)}× faster)`);
console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
