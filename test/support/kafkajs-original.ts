import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** kafkajs's own module, even where src/kafka/kafkajs-patch.ts already replaced it in the module cache. */
export function kafkajsOriginal<T>(id: string): T {
  const path = require.resolve(id);
  const patched = require.cache[path];
  delete require.cache[path];
  try {
    return require(path) as T;
  } finally {
    if (patched) require.cache[path] = patched;
  }
}
