/** A topic's contract: its name, its partition count and the configs it is created with. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly configs: Readonly<Record<string, string>>;
}

const dayMs = 24 * 60 * 60 * 1000;
export const retention = {
  forever: { 'retention.ms': '-1', 'retention.bytes': '-1' },
  days: (days: number) => ({ 'retention.ms': String(days * dayMs) }),
} as const;
