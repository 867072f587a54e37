// A projector actor per read model: it turns a batch of records into the Redis calls that apply
// them, in order. Thin: the mapping is the pure function it is given (read-models.ts).
import { spawn, type Ref } from 'nact';
import type { RedisOp } from './read-models.js';

export interface Project<T> {
  readonly records: T[];
  readonly reply: (ops: RedisOp[]) => void;
}

export function spawnProjector<T>(parent: Ref<unknown>, name: string, toOps: (records: T[]) => RedisOp[]): Ref<Project<T>> {
  return spawn(
    parent as never,
    (state: undefined, msg: Project<T>) => {
      msg.reply(toOps(msg.records));
      return state;
    },
    name,
  ) as Ref<Project<T>>;
}
