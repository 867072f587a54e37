import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { queueIsFull } from '../../src/processor/partition-worker.js';

const MiB = 1024 * 1024;
const limits = { batchesInFlightPerPartitionMax: 4, bytesInFlightPerPartitionMax: 2 * MiB, batchBytesMax: MiB };
const queue = (...sizes: number[]) => sizes.map((bytes) => ({ bytes }));

test('an empty queue is never full, even with a bound smaller than a fetch', () => {
  assert.is(queueIsFull([], limits), false);
  assert.is(queueIsFull([], { ...limits, bytesInFlightPerPartitionMax: 1024 }), false);
});

test('full by count: small batches queue up to the count', () => {
  assert.is(queueIsFull(queue(100, 100, 100), limits), false);
  assert.is(queueIsFull(queue(100, 100, 100, 100), limits), true);
});

test('full by bytes when one more fetch would pass the bound: two large fetches, not three', () => {
  assert.is(queueIsFull(queue(0.9 * MiB), limits), false);
  assert.is(queueIsFull(queue(0.9 * MiB, 0.9 * MiB), limits), true);
  assert.is(queueIsFull(queue(MiB), limits), false, 'exactly one fetch of room left');
  assert.is(queueIsFull(queue(MiB + 1), limits), true);
  // A commit of the head batch can leave the queue full still: its waiters must wait on.
  assert.is(queueIsFull(queue(0.6 * MiB, 0.6 * MiB), limits), true);
});

test.run();
