// The test run: starts the stack once (unless KAFKA_BROKERS / REDIS_URL are set), runs every
// test file with uvu, stops the stack whatever happened, and ends with "N passed, N failed".
import '../src/kafka/kafkajs-patch.js'; // first: it must precede every import of kafkajs
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.js';
import { setLogLevel } from '../src/log.js';
import { acquireStack, type Stack } from '../src/stack/index.js';
import { startContainerStack } from './support/containers.js';

type UvuRun = () => Promise<[errors: string | true, ran: number, skipped: number, total: number]>;
const uvu = globalThis as unknown as { UVU_DEFER: number; UVU_INDEX: number; UVU_QUEUE: Array<Array<string | UvuRun>> };

const testRoot = new URL('.', import.meta.url).pathname;
const dirsInOrder = ['unit', 'integration']; // fast, I/O-free tests first

function testFiles(filter: string | undefined): string[] {
  return dirsInOrder.flatMap((dir) =>
    readdirSync(join(testRoot, dir))
      .filter((name) => name.endsWith('.test.ts') && (!filter || `${dir}/${name}`.includes(filter)))
      .sort()
      .map((name) => join(testRoot, dir, name)),
  );
}

async function startStack(dir: string): Promise<Stack> {
  const startedMs = Date.now();
  const stack = process.env.LEDGER_TEST_STACK === 'docker' ? await startContainerStack() : await acquireStack(dir, loadConfig());
  console.log(`stack ready in ${Date.now() - startedMs} ms: kafka ${stack.kafkaBrokers}, redis ${stack.redisUrl}`);
  return stack;
}

async function runAll(files: string[]): Promise<{ passed: number; failed: number }> {
  uvu.UVU_DEFER = 1;
  await import('uvu');
  for (const [index, file] of files.entries()) {
    uvu.UVU_INDEX = index;
    uvu.UVU_QUEUE.push([relative(testRoot, file)]);
    await import(pathToFileURL(file).href);
  }
  let passed = 0;
  let failed = 0;
  for (const group of uvu.UVU_QUEUE) {
    const name = group.shift();
    if (typeof name === 'string') process.stdout.write(`\n${name}\n`);
    for (const run of group as UvuRun[]) {
      const [errors, ran, , total] = await run();
      passed += ran;
      // uvu reports a throwing before/after hook as "0 ran" with no error text: count those as failed.
      failed += total - ran;
      if (errors !== true) process.stdout.write(`\n${errors}\n`);
      else if (ran < total) process.stdout.write(`\n  a hook failed: ${total - ran} tests did not run\n`);
    }
  }
  return { passed, failed };
}

async function main(): Promise<number> {
  process.env.LOG_LEVEL ??= 'error'; // keep the run readable; LOG_LEVEL=debug npm test for more
  setLogLevel(loadConfig().logLevel);
  const dir = mkdtempSync(join(tmpdir(), 'ledgerstream-test-'));
  process.env.TEST_TMP_DIR = dir;
  let stack: Stack | undefined;
  const cleanUp = async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  let result = { passed: 0, failed: 0 };
  try {
    const files = testFiles(process.argv[2]);
    if (files.some((file) => !file.includes('/unit/'))) {
      stack = await startStack(join(dir, 'stack'));
      process.env.KAFKA_BROKERS = stack.kafkaBrokers;
      process.env.REDIS_URL = stack.redisUrl;
    }
    result = await runAll(files);
  } catch (err) {
    console.error(err);
    result.failed += 1;
  } finally {
    await cleanUp();
  }
  console.log(`\n${result.passed} passed, ${result.failed} failed`);
  return result.failed === 0 && result.passed > 0 ? 0 : 1;
}

main().then((code) => process.exit(code));
