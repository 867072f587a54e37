import { logger } from '../log.js';

const log = logger('kafka');

/**
 * Runs a consumer's pause, resume or seek. kafkajs throws these once the consumer has stopped
 * (shutting down, or restarting after a crash), when they no longer matter: a consumer starts
 * again from the committed offsets with nothing paused. Thrown from a commit's callback or a
 * timer, the error would otherwise end the process.
 */
export function unlessStopped(call: () => void): void {
  try {
    call();
  } catch (err) {
    log.debug('consumer stopped; pause/resume/seek skipped', { error: String(err) });
  }
}
