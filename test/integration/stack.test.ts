import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { isAlive, sleep } from '../../src/stack/process.js';
import { acquireStack } from '../../src/stack/index.js';
import { tempDir } from '../support/env.js';

const goneWithinMs = 5_000;

test('LOCAL_STACK=0: a missing KAFKA_BROKERS or REDIS_URL fails naming it, and nothing is started', async () => {
  const dir = tempDir('no-local-stack');
  const refused = (env: Parameters<typeof acquireStack>[1], need?: { redis: boolean }) => acquireStack(dir, { ...env, localStack: false }, need).then(() => 'started', (err: Error) => err.message);
  assert.match(await refused({}), /^KAFKA_BROKERS and REDIS_URL not set, and LOCAL_STACK is off/);
  assert.match(await refused({ kafkaBrokers: ['127.0.0.1:9'] }), /^REDIS_URL not set, and LOCAL_STACK is off/);
  // A role without Redis (the processor alone) needs no REDIS_URL, and none is started for it.
  const stack = await acquireStack(dir, { kafkaBrokers: ['127.0.0.1:9'], localStack: false }, { redis: false });
  assert.equal([stack.kafkaBrokers, stack.redisUrl], ['127.0.0.1:9', '']);
  await stack.stop();
});

test('a redis-server started by a process that is SIGKILLed does not outlive it', async () => {
  const dir = tempDir('lifeline');
  const script = `import { startRedis } from './src/stack/redis.ts';
    const r = await startRedis(${JSON.stringify(dir)}); console.log(r.process.pid, r.url); setInterval(() => {}, 1000);`;
  const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [pid, url] = (await new Promise<string>((resolve) => owner.stdout.once('data', (d: Buffer) => resolve(d.toString())))).trim().split(' ');
  const wrapperPid = Number(pid);
  const port = Number(new URL(url!).port);
  assert.ok(await accepts(port), 'redis answers before the kill');
  assert.ok(isAlive(wrapperPid), 'redis wrapper runs');
  owner.kill('SIGKILL');
  let waitedMs = 0;
  while (isAlive(wrapperPid) && waitedMs < goneWithinMs) {
    await sleep(100);
    waitedMs += 100;
  }
  assert.not.ok(isAlive(wrapperPid), `still running after ${goneWithinMs} ms`);
  assert.not.ok(await accepts(port), 'the redis-server itself is gone: its port is closed');
});

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test.run();
