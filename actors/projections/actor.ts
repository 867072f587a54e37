// A projector actor per read model: it turns a batch of records into the Redis calls that apply
// them, in order. Thin: the mapping is the pure function it is given (read-models.ts).
import { spawn, type Ref } from 'nact';
import type { RedisOp } from './read-models.js';

export interface Project<T> {
  readonly records: T[];
  /** The calls, or the error the mapping threw (a bug): the batch then fails at once. */
  readonly reply: (ops: RedisOp[] | Error) => void;
}

export function spawnProjector<T>(parent: Ref<unknown>, name: string, toOps: (records: T[]) => RedisOp[]): Ref<Project<T>> {
  return spawn(
    parent as never,
    (state: undefined, msg: Project<T>) => {
      // Caught here: a throw would stop the actor (nact's default supervision), and every later
      // batch of its read model would wait out its timeout.
      let ops: RedisOp[] | Error;
      try {
        ops = toOps(msg.records);
      } catch (err) {
        ops = err instanceof Error ? err : new Error(String(err));
      }
      msg.reply(ops);
      return state;
    },
    name,
  ) as Ref<Project<T>>;
}
