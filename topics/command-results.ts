import { Type, type Static } from '@sinclair/typebox';
import { Codec } from './codec.js';
import { retention, type TopicSpec } from './spec.js';

/** The outcome of every command (accepted, rejected, duplicate), keyed by aggregateId. */
export const commandResultsTopic = (partitions: number, prefix = ''): TopicSpec => ({
  name: `${prefix}command-results`,
  partitions,
  configs: retention.days(7),
});

export const CommandResult = Type.Object({
  commandId: Type.String(),
  aggregateId: Type.String(),
  status: Type.Union([Type.Literal('accepted'), Type.Literal('rejected'), Type.Literal('duplicate')]),
  /** Why it was rejected; for a duplicate, the original rejection's reason. */
  reason: Type.Optional(Type.String()),
  /** The aggregate's version after the command (for a duplicate: after the original). */
  version: Type.Optional(Type.Integer()),
});
export type CommandResult = Static<typeof CommandResult>;
export const commandResultCodec = new Codec(CommandResult);
