import { aggregatesChangelogTopic } from './aggregates-changelog.js';
import { commandResultsTopic } from './command-results.js';
import { commandsDlqTopic } from './commands-dlq.js';
import { commandsTopic } from './commands.js';
import { eventsTopic } from './events.js';
import type { TopicSpec } from './spec.js';

export type { TopicSpec } from './spec.js';

/** Every topic the application owns, for creation at start-up. */
export function topicSpecs(appId: string, partitions: number): TopicSpec[] {
  return [
    commandsTopic(partitions),
    eventsTopic(partitions),
    commandResultsTopic(partitions),
    commandsDlqTopic(partitions),
    aggregatesChangelogTopic(appId, partitions),
  ];
}

/** Topics whose partition p must line up with commands/p. */
export function coPartitionedTopics(appId: string): string[] {
  return [commandsTopic(1).name, aggregatesChangelogTopic(appId, 1).name];
}
