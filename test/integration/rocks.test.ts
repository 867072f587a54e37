import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { RocksStore } from '../../src/store/rocks.js';
import { tempDir } from '../support/env.js';

test('a write batch survives close and reopen; deletes too', async () => {
  const location = join(tempDir('rocks'), 'p0');
  const store = await RocksStore.open(location);
  await store.write([
    { type: 'put', key: 'agg:acc-1', value: JSON.stringify({ balance: 500 }) },
    { type: 'put', key: 'agg:acc-2', value: JSON.stringify({ balance: 7 }) },
    { type: 'put', key: 'meta:offset', value: '42' },
  ]);
  await store.write([{ type: 'del', key: 'agg:acc-2' }]);
  await store.close();

  const reopened = await RocksStore.open(location);
  assert.is((await reopened.get('meta:offset'))?.toString(), '42');
  assert.is(await reopened.get('agg:acc-2'), undefined);
  const aggregates: Array<[string, string]> = [];
  for await (const [key, value] of reopened.entries('agg:')) aggregates.push([key, value.toString()]);
  assert.equal(aggregates, [['agg:acc-1', '{"balance":500}']]);
  await reopened.close();
});

test.run();
