// The thin actor: one per live aggregate, so its commands are handled one at a time, in order.
import { dispatch, spawn, type Ref } from 'nact';
import type { AggregateSnapshot } from '../../topics/aggregates-changelog.js';
import type { Command } from '../../topics/commands.js';
import { handleCommand, type CommandOutcome } from './host.js';

/** One message per aggregate per batch: its commands in order. */
export interface HandleCommands {
  readonly commands: Command[];
  readonly replyTo: Ref<HandledCommands>;
}
export interface HandledCommands {
  readonly outcomes: CommandOutcome[];
  /** The snapshot after the commands; undefined when nothing changed (only duplicates or errors). */
  readonly snapshot: AggregateSnapshot | undefined;
}

export function spawnAccountActor(parent: Ref<unknown>, name: string, snapshot: AggregateSnapshot): Ref<HandleCommands> {
  return spawn(
    parent as never,
    (state: AggregateSnapshot = snapshot, msg: HandleCommands) => {
      let current = state;
      const outcomes = msg.commands.map((command) => {
        const handled = handleCommand(current, command);
        current = handled.snapshot;
        return handled.outcome;
      });
      dispatch(msg.replyTo, { outcomes, snapshot: current === state ? undefined : current });
      return current;
    },
    name,
    { initialState: snapshot },
  ) as Ref<HandleCommands>;
}
