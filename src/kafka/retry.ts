/**
 * Retries a call while it fails with a retriable kafkajs error. Some admin calls (fetchOffsets)
 * do not retry NOT_COORDINATOR themselves, e.g. while a new group's coordinator loads.
 */
export async function retriable<T>(call: () => Promise<T>, attemptsMax = 20, delayMs = 200): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err as { retriable?: boolean }).retriable || attempt >= attemptsMax) throw err;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
