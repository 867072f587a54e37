import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const lifelinePath = fileURLToPath(new URL('./lifeline.sh', import.meta.url));

export interface ServerProcess {
  readonly pid: number;
  /** Resolves with the exit code once the process has gone. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts a server process with its output in logFile.
 * - owned (default): tied to this process by lifeline.sh; it stops when we exit or die.
 * - detached: outlives us (`npm run stack -- up`); stopped later by pid.
 */
export function spawnServer(cmd: string, args: string[], logFile: string, detached = false): ServerProcess {
  const log = openSync(logFile, 'a');
  const child: ChildProcess = detached
    ? spawn(cmd, args, { detached: true, stdio: ['ignore', log, log] })
    : spawn(lifelinePath, [String(process.pid), cmd, ...args], { stdio: ['ignore', log, log] });
  closeSync(log);
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  if (detached) child.unref();
  return { pid: child.pid, exited };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the pid is gone. */
export async function stopPid(pid: number, graceMs = 30_000): Promise<void> {
  const pollMs = 100;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let waitedMs = 0; waitedMs < graceMs; waitedMs += pollMs) {
    if (!isAlive(pid)) return;
    await sleep(pollMs);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls probe until it resolves true or timeoutMs passes; the last error explains a timeout. */
export async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(200);
  }
  const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`${what} not ready after ${timeoutMs} ms${detail}`);
}
