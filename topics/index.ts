import { aggregatesChangelogTopic } from './aggregates-changelog.js';
import { commandResultsTopic } from './command-results.js';
import { commandsDlqTopic } from './commands-dlq.js';
import { commandsTopic } from './commands.js';
import { eventsTopic } from './events.js';
import type { TopicSpec } from './spec.js';

export type { TopicSpec } from './spec.js';

/** Every topic the application owns. TOPIC_PREFIX (default none) lets several deployments share a cluster. */
export interface Topology {
  readonly commands: TopicSpec;
  readonly events: TopicSpec;
  readonly commandResults: TopicSpec;
  readonly commandsDlq: TopicSpec;
  readonly changelog: TopicSpec;
}

export function topology(appId: string, partitions: number, prefix = ''): Topology {
  return {
    commands: commandsTopic(partitions, prefix),
    events: eventsTopic(partitions, prefix),
    commandResults: commandResultsTopic(partitions, prefix),
    commandsDlq: commandsDlqTopic(partitions, prefix),
    changelog: aggregatesChangelogTopic(appId, partitions, prefix),
  };
}
