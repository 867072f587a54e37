// npm run stack -- up|down|status : the local Kafka and Redis, in the background.
import { join } from 'node:path';
import { loadConfig } from '../config.js';
import { kafkaVersion } from '../stack/kafka.js';
import { runningStack, stackDown, stackUp } from '../stack/index.js';

const usage = 'usage: npm run stack -- up|down|status';

async function main(verb: string | undefined): Promise<number> {
  const dir = join(loadConfig().dataDir, 'stack');
  switch (verb) {
    case 'up': {
      const state = await stackUp(dir);
      // NAME=value lines: export $(npm run -s stack -- up) puts them in the environment of what the shell runs next
      console.log(`KAFKA_BROKERS=${state.kafka.brokers}`);
      console.log(`REDIS_URL=${state.redis.url}`);
      return 0;
    }
    case 'down':
      console.error((await stackDown(dir)) ? 'stack stopped' : 'no stack was running');
      return 0;
    case 'status': {
      const state = runningStack(dir);
      if (!state) {
        console.log('stack: not running');
        return 1;
      }
      console.log(`kafka ${kafkaVersion}: ${state.kafka.brokers} (pid ${state.kafka.pid}, data in ${join(dir, 'kafka')})`);
      console.log(`redis: ${state.redis.url} (pid ${state.redis.pid})`);
      return 0;
    }
    default:
      console.error(usage);
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
