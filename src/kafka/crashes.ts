import type { Consumer } from 'kafkajs';
import type { Logger } from '../log.js';

/**
 * Logs a consumer's crashes and keeps the one kafkajs will not restart from (an error it deems
 * not retriable): the role's /health check reports it. onStopped runs once that happens.
 * Returns what stopped the consumer for good, if anything did.
 */
export function watchCrashes(consumer: Consumer, log: Logger, onStopped?: (reason: string) => void): () => string | undefined {
  let stoppedForGood: string | undefined;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    log.error('consumer crashed', { error: String(payload.error), restart: payload.restart });
    if (payload.restart) return;
    stoppedForGood = String(payload.error);
    onStopped?.(stoppedForGood);
  });
  return () => stoppedForGood;
}
