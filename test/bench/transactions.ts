// npm run bench:transactions [-- --producers 4 --seconds 10 --records 100 --alternate]
// Where a Kafka transaction's time goes with kafkajs: each producer loops { send records to three
// topics, sendOffsets, commit }, like a processor partition. Prints the mean time of each phase,
// the transaction p50/p99, and the count and mean duration of every request kafkajs sent.
// --alternate: each partition has two transactional producers taking turns; a transaction sends
// once the previous one's records are written, and sends its offsets and commits once the
// previous one committed (the order a processor partition would need).
import '../../src/kafka/kafkajs-patch.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config.js';
import { createKafka } from '../../src/kafka/client.js';
import { retriable } from '../../src/kafka/retry.js';
import { setLogLevel } from '../../src/log.js';
import { acquireStack } from '../../src/stack/index.js';

const { values: args } = parseArgs({ options: { producers: { type: 'string', default: '4' }, seconds: { type: 'string', default: '10' }, records: { type: 'string', default: '100' }, alternate: { type: 'boolean', default: false } } });
const producersTotal = Number(args.producers);
const seconds = Number(args.seconds);
const recordsPerTopic = Number(args.records);
const outputTopics = ['out-a', 'out-b', 'out-c'];

async function main(): Promise<void> {
  setLogLevel('error');
  const dir = mkdtempSync(join(tmpdir(), 'bench-tx-'));
  const stack = await acquireStack(join(dir, 'stack'), loadConfig());
  try {
    const kafka = createKafka(stack.kafkaBrokers.split(','), 'bench-tx');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [...outputTopics, 'in'].map((topic) => ({ topic, numPartitions: producersTotal })) });
    // Waits until the group's coordinator is loaded on the fresh broker: TxnOffsetCommit would fail until then.
    await retriable(() => admin.fetchOffsets({ groupId: 'bench-tx', topics: ['in'] }));
    const requests = new Map<string, { n: number; ms: number }>();
    const phaseMs = { send: 0, offsets: 0, commit: 0 };
    const totalsMs: number[] = [];
    await Promise.all(
      Array.from({ length: producersTotal }, async (_, partition) => {
        const producers = Array.from({ length: args.alternate ? 2 : 1 }, (_, i) => {
          const producer = kafka.producer({ transactionalId: `bench-tx-${partition}-${i}`, idempotent: true, maxInFlightRequests: 1, retry: { initialRetryTime: 10, maxRetryTime: 1_000, retries: 20 } });
          producer.on(producer.events.REQUEST, ({ payload }) => {
            const r = requests.get(payload.apiName) ?? { n: 0, ms: 0 };
            requests.set(payload.apiName, { n: r.n + 1, ms: r.ms + payload.duration });
          });
          return producer;
        });
        await Promise.all(producers.map((p) => p.connect()));
        const messages = Array.from({ length: recordsPerTopic }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(150), partition }));
        // One transaction; it sends after sentBefore and commits after committedBefore.
        const transaction = async (k: number, sentBefore: Promise<void>, committedBefore: Promise<void>, sent: () => void) => {
          await sentBefore;
          const t0 = performance.now();
          const tx = await producers[k % producers.length]!.transaction();
          await tx.sendBatch({ topicMessages: outputTopics.map((topic) => ({ topic, messages })) });
          sent();
          const t1 = performance.now();
          await committedBefore;
          await tx.sendOffsets({ consumerGroupId: 'bench-tx', topics: [{ topic: 'in', partitions: [{ partition, offset: String(k + 1) }] }] });
          const t2 = performance.now();
          await tx.commit();
          const t3 = performance.now();
          phaseMs.send += t1 - t0;
          phaseMs.offsets += t2 - t1;
          phaseMs.commit += t3 - t2;
          totalsMs.push(t3 - t0);
        };
        let sentBefore = Promise.resolve();
        let committed = [Promise.resolve(), Promise.resolve()]; // the last two transactions
        for (let k = 0, endMs = Date.now() + seconds * 1000; Date.now() < endMs; k++) {
          let sent!: () => void;
          const thisSent = new Promise<void>((resolve) => (sent = resolve));
          const done = transaction(k, sentBefore, committed[1]!, sent);
          done.catch(() => sent());
          // The next one may start once this one's records are written and its producer's previous transaction ended.
          await Promise.all([thisSent, args.alternate ? committed[1] : done]);
          committed = [committed[1]!, done];
          sentBefore = thisSent;
        }
        await Promise.all(committed);
        await Promise.all(producers.map((p) => p.disconnect()));
      }),
    );
    await admin.disconnect();
    const n = totalsMs.length;
    totalsMs.sort((a, b) => a - b);
    console.log(`${producersTotal} partitions, ${args.alternate ? 'two transactional producers taking turns on each' : 'one transactional producer each'}, ${seconds} s: ${n} transactions (${recordsPerTopic} records to each of ${outputTopics.length} topics, then offsets)`);
    console.log(`per transaction, mean ms: send ${(phaseMs.send / n).toFixed(1)}, sendOffsets ${(phaseMs.offsets / n).toFixed(1)}, commit ${(phaseMs.commit / n).toFixed(1)}; total p50 ${totalsMs[Math.floor(n / 2)]!.toFixed(1)}, p99 ${totalsMs[Math.floor(n * 0.99)]!.toFixed(1)}`);
    console.log(`requests (count, mean ms, per transaction):`);
    for (const [api, r] of [...requests].sort((a, b) => b[1].n - a[1].n)) console.log(`  ${api.padEnd(20)} ${String(r.n).padStart(7)} ${(r.ms / r.n).toFixed(1).padStart(6)} ms ${(r.n / n).toFixed(2).padStart(6)}`);
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
