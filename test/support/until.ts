/** Resolves once predicate holds, asking every pollMs; fails after timeoutMs saying what it waited for. */
export async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 90_000, pollMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
