// Replacements for two kafkajs 2.2.4 modules (its last release), installed in the module cache
// before kafkajs loads them. Import this module before anything imports kafkajs (src/kafka/client.ts does).
import { createRequire } from 'node:module';

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
