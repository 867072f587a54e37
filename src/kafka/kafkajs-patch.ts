// kafkajs 2.2.4 (its last release) groups a produce request's messages per partition with
// `[...current, message]`: quadratic in the messages per partition. Our batches put thousands of
// records into one partition, and it showed as the hottest kafkajs function in the processor's
// CPU profile. This installs a linear version with the same contract in the module cache before
// kafkajs loads it. Import this module before anything imports kafkajs (src/kafka/client.ts does).
import { createRequire } from 'node:module';

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: unknown[];
  partitioner: Partitioner;
}

function groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, unknown[]> {
  if (partitionMetadata.length === 0) return {};
  const result: Record<number, unknown[]> = {};
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
}

const require = createRequire(import.meta.url);
const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
if (require.cache[path] === undefined) {
  require.cache[path] = { id: path, filename: path, loaded: true, exports: groupMessagesPerPartition } as unknown as NodeJS.Module;
} else if (require.cache[path]!.exports !== groupMessagesPerPartition) {
  throw new Error('kafkajs was loaded before src/kafka/kafkajs-patch.ts: import the patch first');
}

// kafkajs asks the broker for the group or transaction coordinator (FindCoordinator) before
// every AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn: four extra round trips
// per transaction (measured: 4.3 FindCoordinator requests per transaction). The answer is kept
// for coordinatorCacheMs. A coordinator that moved meanwhile answers NOT_COORDINATOR, which
// kafkajs retries; the retries reach the new one once the entry expired.
export const coordinatorCacheMs = 1_000;
type FindCoordinatorMetadata = (args: { groupId: string; coordinatorType?: number }) => Promise<unknown>;
const clusterPrototype = (require('kafkajs/src/cluster/index.js') as { prototype: { findGroupCoordinatorMetadata: FindCoordinatorMetadata } }).prototype;
const findCoordinator = clusterPrototype.findGroupCoordinatorMetadata;
const coordinatorCaches = new WeakMap<object, Map<string, { atMs: number; found: Promise<unknown> }>>();
clusterPrototype.findGroupCoordinatorMetadata = function (this: object, args) {
  let cache = coordinatorCaches.get(this);
  if (!cache) coordinatorCaches.set(this, (cache = new Map()));
  const key = `${args.coordinatorType ?? 0}:${args.groupId}`;
  const cached = cache.get(key);
  if (cached && Date.now() - cached.atMs < coordinatorCacheMs) return cached.found;
  const found = findCoordinator.call(this, args);
  cache.set(key, { atMs: Date.now(), found });
  found.catch(() => cache.get(key)?.found === found && cache.delete(key));
  return found;
};

// A transaction's first AddPartitionsToTxn often meets CONCURRENT_TRANSACTIONS: the broker is
// still writing the previous transaction's markers, a few ms. kafkajs then logs an error,
// refreshes the whole cluster metadata and retries the send after its exponential backoff.
// Like the Java client, ask again here after a short pause instead, within a bound; past it the
// error goes up to kafkajs's own retries as before.
export const concurrentTransactionsRetry = { pauseMs: 2, waitMaxMs: 1_000 };
type AddPartitionsToTxn = (request: unknown) => Promise<unknown>;
const brokerPrototype = (require('kafkajs/src/broker/index.js') as { prototype: { addPartitionsToTxn: AddPartitionsToTxn } }).prototype;
const addPartitionsToTxn = brokerPrototype.addPartitionsToTxn;
brokerPrototype.addPartitionsToTxn = async function (this: object, request) {
  const deadlineMs = Date.now() + concurrentTransactionsRetry.waitMaxMs;
  for (;;) {
    try {
      return await addPartitionsToTxn.call(this, request);
    } catch (err) {
      if ((err as { type?: string }).type !== 'CONCURRENT_TRANSACTIONS' || Date.now() >= deadlineMs) throw err;
      await new Promise((resolve) => setTimeout(resolve, concurrentTransactionsRetry.pauseMs));
    }
  }
};
