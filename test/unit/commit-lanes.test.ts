import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TopicPartitionOffsetAndMetadata } from 'kafkajs';
import { CommitLanes, type LaneConsumer } from '../../src/projector/commit-lanes.js';

/** Records what the lanes ask of the consumer. */
function recordingConsumer() {
  const calls: string[] = [];
  const consumer: LaneConsumer = {
    commitOffsets: async (offsets: TopicPartitionOffsetAndMetadata[]) => void calls.push(...offsets.map((o) => `commit ${o.offset}`)),
    seek: ({ offset }) => void calls.push(`seek ${offset}`),
    pause: () => void calls.push('pause'),
    resume: () => void calls.push('resume'),
  };
  return { consumer, calls };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

test('offsets commit in order, each once its batch and every earlier one were applied', async () => {
  const { consumer, calls } = recordingConsumer();
  const lanes = new CommitLanes(consumer, 4);
  let applyFirst!: () => void;
  const first = new Promise<void>((resolve) => (applyFirst = resolve));
  await lanes.add('events', 0, '0', '100', first);
  await lanes.add('events', 0, '100', '200', Promise.resolve());
  await settle();
  assert.equal(calls, [], 'the second batch waits for the first');
  applyFirst();
  await lanes.settled(1_000);
  assert.equal(calls.filter((c) => c.startsWith('commit')).at(-1), 'commit 200');
});

test('after a failure, a batch fetched before the seek commits nothing: the records between were never applied', async () => {
  const { consumer, calls } = recordingConsumer();
  const lanes = new CommitLanes(consumer, 4);
  await lanes.add('events', 0, '0', '100', Promise.reject(new Error('redis down')));
  await settle();
  assert.equal(calls, ['seek 0', 'pause']);
  // A marker-only batch kafkajs fetched before the seek, handled after it.
  await lanes.add('events', 0, '251', '252', Promise.resolve());
  await lanes.settled(1_000);
  assert.not.ok(calls.includes('commit 252'), 'no commit past the unapplied records');
  // The batch fetched again from the seek offset commits as usual, and later ones after it.
  await lanes.add('events', 0, '0', '100', Promise.resolve());
  await lanes.add('events', 0, '100', '252', Promise.resolve());
  await lanes.settled(1_000);
  assert.equal(calls.filter((c) => c.startsWith('commit')).at(-1), 'commit 252');
});

test('after a failure, a fresh batch from beyond the seek offset seeks again; the third in a row is taken (the log lost those records)', async () => {
  const { consumer, calls } = recordingConsumer();
  const lanes = new CommitLanes(consumer, 4);
  await lanes.add('events', 0, '0', '100', Promise.reject(new Error('redis down')), true);
  await settle();
  for (let i = 0; i < 2; i++) await lanes.add('events', 0, '500', '600', Promise.resolve(), true);
  await lanes.settled(1_000);
  assert.equal(calls, ['seek 0', 'pause', 'seek 0', 'seek 0']);
  await lanes.add('events', 0, '500', '600', Promise.resolve(), true);
  await lanes.settled(1_000);
  assert.equal(calls.at(-1), 'commit 600');
});

test('a rewind (Redis lost data): the batch in flight commits nothing, the partition is fetched and committed from the rewind offset', async () => {
  const { consumer, calls } = recordingConsumer();
  const lanes = new CommitLanes(consumer, 4);
  await lanes.add('events', 0, '0', '100', Promise.resolve());
  await lanes.settled(1_000);
  let applyInFlight!: () => void;
  await lanes.add('events', 0, '100', '200', new Promise<void>((resolve) => (applyInFlight = resolve)));
  lanes.rewind('events', 0, '0');
  applyInFlight();
  await lanes.settled(1_000);
  assert.equal(calls, ['commit 100', 'seek 0', 'commit 0']);
  // A rewound partition this member held no lane for (idle since its assignment) is sought too.
  lanes.rewind('events', 1, '7');
  await lanes.settled(1_000);
  assert.equal(calls.slice(3), ['seek 7', 'commit 7']);
  await lanes.add('events', 0, '0', '200', Promise.resolve(), true);
  await lanes.settled(1_000);
  assert.equal(calls.at(-1), 'commit 200');
});

test('a partition whose batches keep failing is reported stalled once long enough, until one is applied', async () => {
  const { consumer } = recordingConsumer();
  const lanes = new CommitLanes(consumer, 4);
  await lanes.add('events', 2, '0', '100', Promise.reject(new Error('a gap')));
  await settle();
  const startedMs = Date.now();
  assert.equal(lanes.stalled(60_000, startedMs), [], 'not yet: a Redis restart is over in seconds');
  await lanes.add('events', 2, '0', '100', Promise.reject(new Error('a gap again')));
  await settle();
  const [stalled] = lanes.stalled(60_000, startedMs + 60_000);
  assert.equal([stalled?.topic, stalled?.partition, stalled?.error], ['events', 2, 'Error: a gap again']);
  assert.ok(stalled!.sinceMs <= startedMs, 'counted from the first failure');
  await lanes.add('events', 2, '0', '100', Promise.resolve());
  await lanes.settled(1_000);
  assert.equal(lanes.stalled(0), []);
});

test.run();
