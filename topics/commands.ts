import { retention, type TopicSpec } from './spec.js';

/** Commands from clients and from sagas. Key = aggregateId, so one aggregate stays on one partition. */
export const commandsTopic = (partitions: number): TopicSpec => ({
  name: 'commands',
  partitions,
  configs: retention.days(7),
});
