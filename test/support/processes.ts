import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testEnv } from './env.js';

const mainPath = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const startTimeoutMs = 60_000;
const stopTimeoutMs = 40_000;
/** Node's flags for a role process, as `npm start` (package.json) passes them. */
export const roleNodeFlags = ['--max-semi-space-size=128'];

export interface RoleProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  /** The HTTP port it listens on (HTTP_PORT=0 lets the OS choose). */
  readonly port: number;
  /** Graceful stop (SIGTERM), resolving when it exited. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, with no chance to clean up. */
  kill(): Promise<void>;
}

/** Runs `src/main.ts --roles <roles>` as its own process against the test stack. */
export async function startRoles(roles: string, env: Record<string, string>): Promise<RoleProcess> {
  const { brokers, redisUrl } = testEnv();
  // BENCH_CPU_PROF=dir: each role process writes a CPU profile there (node --cpu-prof), as in bench:processor.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, ...roleNodeFlags, '--import', 'tsx', mainPath, '--roles', roles], {
    env: { ...process.env, KAFKA_BROKERS: brokers.join(','), REDIS_URL: redisUrl, HTTP_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    // A role that does not start is killed: it would use the CPU of the tests after it.
    const timer = setTimeout(() => done(() => (child.kill('SIGKILL'), reject(new Error(`${roles} did not start in ${startTimeoutMs} ms:\n${output.slice(-3000)}`)))), startTimeoutMs);
    const poll = setInterval(() => {
      if (output.includes('"msg":"started"')) done(resolve);
      if (child.exitCode !== null) done(() => reject(new Error(`${roles} exited with ${child.exitCode}:\n${output.slice(-3000)}`)));
    }, 50);
    const done = (then: () => void) => {
      clearInterval(poll);
      clearTimeout(timer);
      then();
    };
  });
  const port = Number(/"msg":"http listening","port":(\d+)/.exec(output)?.[1]);
  return {
    child,
    port,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      // The role bounds its own shutdown (SHUTDOWN_TIMEOUT_MS); one that still hangs is killed, and the test fails on its exit code if it checks it.
      const killer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      await exited;
      clearTimeout(killer);
    },
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
