// Fixes to kafkajs 2.2.4 (its last release): five modules replaced in the module cache before kafkajs
// loads them, and two methods wrapped on their prototypes. Import this module before anything
// imports kafkajs (src/kafka/client.ts does).
import { createRequire } from 'node:module';
import { produceRequestV3 } from './produce-request.js';
import { encodeRecord } from './record-encoder.js';
import { encodeRequestFrame } from './request-frame.js';

/**
 * kafkajs groups a produce request's messages per partition with `[...current, message]`:
 * quadratic in the messages per partition. Our batches put thousands of records into one
 * partition, and it showed as the hottest kafkajs function in the processor's CPU profile.
 * This is a linear version with the same contract.
 */
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

/**
 * read_committed: the broker returns a fetch's records of aborted transactions too, with a list of
 * those transactions, and the client drops them. kafkajs takes that list to be ordered by each
 * transaction's first offset and activates at most one per record. The broker lists them in the
 * order they ended, so when transactions of several producers end in another order than they
 * started (every processor instance's producers write saga commands into each commands partition,
 * and a crash leaves them all open), a record of an aborted transaction got through: the SIGKILL
 * test saw a transfer's credit command twice. This is the Java client's rule: order by first
 * offset, activate every transaction that started at or before the record, a producer's abort
 * marker ends its transaction. test/integration/kafka.test.ts has the case.
 */
interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}
interface AbortedTransaction {
  producerId: string;
  firstOffset: string;
}
const abortMarkerKey = Buffer.from([0, 0, 0, 0]); // control record key: version 0, type 0 (abort)

function filterAbortedMessages({ messages, abortedTransactions }: { messages: FetchedRecord[]; abortedTransactions?: AbortedTransaction[] }): FetchedRecord[] {
  if (!abortedTransactions?.length) return messages;
  const pending = abortedTransactions.map((t) => ({ producerId: t.producerId, firstOffset: BigInt(t.firstOffset) })).sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const aborting = new Set<string>();
  let next = 0;
  return messages.filter((message) => {
    const offset = BigInt(message.offset);
    while (next < pending.length && pending[next]!.firstOffset <= offset) aborting.add(pending[next++]!.producerId);
    const { producerId, inTransaction } = message.batchContext;
    if (message.isControlRecord) {
      if (message.key && abortMarkerKey.equals(message.key)) aborting.delete(producerId);
      return true; // kafkajs drops control records after this
    }
    return !(inTransaction && aborting.has(producerId));
  });
}

const require = createRequire(import.meta.url);
function replaceModule(file: string, exports: unknown): void {
  const path = require.resolve(`kafkajs/src/${file}`);
  if (require.cache[path] === undefined) {
    require.cache[path] = { id: path, filename: path, loaded: true, exports } as unknown as NodeJS.Module;
  } else if (require.cache[path]!.exports !== exports) {
    throw new Error('kafkajs was loaded before src/kafka/kafkajs-patch.ts: import the patch first');
  }
}

replaceModule('producer/groupMessagesPerPartition.js', groupMessagesPerPartition);
replaceModule('consumer/filterAbortedMessages.js', filterAbortedMessages);
replaceModule('protocol/recordBatch/record/v0/index.js', encodeRecord); // same bytes, fewer allocations and copies
replaceModule('protocol/requests/produce/v3/request.js', produceRequestV3); // same bytes, one pass, one buffer
replaceModule('protocol/request.js', encodeRequestFrame); // same bytes, the payload copied once

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
