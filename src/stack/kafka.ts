import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './ports.js';
import { spawnServer, stopPid, waitUntil, type ServerProcess } from './process.js';

const run = promisify(execFile);
const pomPath = fileURLToPath(new URL('./kafka-pom.xml', import.meta.url));
const brokerReadyTimeoutMs = 90_000;
const mavenTimeoutMs = 10 * 60_000;

export const kafkaVersion = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(pomPath, 'utf8'))![1]!;

/** Cache outside the work tree: jars live in Maven's own repository (~/.m2), the classpath here. */
export function cacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'ledgerstream');
}

/**
 * The broker's classpath. The first call asks Maven (downloading the jars from Maven Central);
 * later calls read the cached list and run no Maven at all, as long as every jar is still there.
 */
export async function kafkaClasspath(): Promise<string> {
  const classpathFile = join(cacheDir(), `kafka-${kafkaVersion}.classpath`);
  if (existsSync(classpathFile)) {
    const cached = readFileSync(classpathFile, 'utf8').trim();
    if (cached && cached.split(':').every((jar) => existsSync(jar))) return cached;
  }
  mkdirSync(cacheDir(), { recursive: true });
  const startedMs = Date.now();
  console.error(`[stack] resolving Apache Kafka ${kafkaVersion} jars with Maven (first run downloads them)...`);
  await run('mvn', ['-q', '-B', '-f', pomPath, 'dependency:build-classpath', `-Dmdep.outputFile=${classpathFile}`], {
    timeout: mavenTimeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: { stdout?: string; message: string }) => {
    throw new Error(`mvn could not resolve the Kafka jars (is Maven installed and Maven Central reachable?)\n${err.stdout ?? err.message}`);
  });
  console.error(`[stack] Kafka jars resolved in ${Date.now() - startedMs} ms`);
  return readFileSync(classpathFile, 'utf8').trim();
}

export interface KafkaServer {
  readonly brokers: string;
  readonly process: ServerProcess;
}

function serverProperties(dir: string, brokerPort: number, controllerPort: number): string {
  // Single node, KRaft combined mode. Internal topics have one replica and few partitions,
  // so the first consumer group or transaction does not wait for 50 partitions to be created.
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${brokerPort}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${join(dir, 'logs')}
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.backoff.ms=1000
`;
}

const jvmArgs = (dir: string) => [
  '-Xms256m',
  '-Xmx1g',
  '-XX:+UseG1GC',
  // C1 only: on a 2-core machine a fresh broker's C2 compiles took most of a core for its first
  // minute, beside our processes. bench:e2e (b), 4 alternated runs each on a fresh broker: p99
  // at 5k commands/s 227-471 ms against 424-1,288 ms, the processor's commit 47-82 against 70-129 ms.
  '-XX:TieredStopAtLevel=1',
  '-Djava.awt.headless=true',
  `-Dorg.slf4j.simpleLogger.logFile=${join(dir, 'server.log')}`,
  '-Dorg.slf4j.simpleLogger.showDateTime=true',
];

/** Formats (first time) and starts a single-node broker in dir, resolving once it answers metadata. */
export async function startKafka(dir: string, detached = false): Promise<KafkaServer> {
  const classpath = await kafkaClasspath();
  mkdirSync(dir, { recursive: true });
  const [brokerPort, controllerPort] = [await freePort(), await freePort()];
  const propsFile = join(dir, 'server.properties');
  writeFileSync(propsFile, serverProperties(dir, brokerPort, controllerPort));
  if (!existsSync(join(dir, 'logs', 'meta.properties'))) {
    const clusterId = randomBytes(16).toString('base64url');
    // "--cluster-id=" form: a base64url id may start with "-" and would read as a flag.
    const format = ['kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '--config', propsFile];
    await run('java', ['-cp', classpath, ...jvmArgs(dir), ...format]).catch((err: { stderr?: string }) => {
      throw new Error(`formatting the Kafka storage in ${dir} failed: ${err.stderr ?? String(err)}`);
    });
  }
  const server = spawnServer('java', ['-cp', classpath, ...jvmArgs(dir), 'kafka.Kafka', propsFile], join(dir, 'stdout.log'), detached);
  const brokers = `127.0.0.1:${brokerPort}`;
  const exitedEarly = server.exited.then((code) => {
    throw new Error(`Kafka exited with code ${code} while starting; see ${join(dir, 'server.log')}`);
  });
  exitedEarly.catch(() => undefined);
  try {
    await Promise.race([waitForBroker(brokers), exitedEarly]);
  } catch (err) {
    await stopPid(server.pid); // never leave a broker that failed to start behind
    throw err;
  }
  return { brokers, process: server };
}

/** Resolves once the broker answers a metadata request and has a controller. */
export async function waitForBroker(brokers: string, timeoutMs = brokerReadyTimeoutMs): Promise<void> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  try {
    await waitUntil(`Kafka at ${brokers}`, timeoutMs, async () => {
      await admin.connect();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0 && cluster.controller !== null;
    });
  } finally {
    await admin.disconnect();
  }
}
