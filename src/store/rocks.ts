import { mkdirSync } from 'node:fs';
import rocksdb, { type BatchOp, type RocksDB } from 'rocksdb';

export type { BatchOp } from 'rocksdb';

/** A promise-shaped key-value store over one RocksDB directory. */
export class RocksStore {
  private constructor(private readonly db: RocksDB) {}

  static async open(location: string): Promise<RocksStore> {
    mkdirSync(location, { recursive: true });
    const db = rocksdb(location);
    await new Promise<void>((resolve, reject) => db.open({ createIfMissing: true }, (err) => (err ? reject(err) : resolve())));
    return new RocksStore(db);
  }

  get(key: string): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) =>
      this.db.get(key, { asBuffer: true }, (err, value) => {
        if (err && /NotFound/i.test(err.message)) resolve(undefined);
        else if (err) reject(err);
        else resolve(value);
      }),
    );
  }

  /** Atomic: all of the batch or none of it survives a crash. */
  write(ops: BatchOp[]): Promise<void> {
    return new Promise((resolve, reject) => this.db.batch(ops, { sync: false }, (err) => (err ? reject(err) : resolve())));
  }

  /** Every entry whose key starts with prefix, in key order. */
  async *entries(prefix = ''): AsyncGenerator<[string, Buffer]> {
    const it = this.db.iterator({ gte: prefix, lt: `${prefix}\uffff` });
    try {
      for (;;) {
        const entry = await new Promise<[Buffer, Buffer] | undefined>((resolve, reject) =>
          it.next((err, key, value) => (err ? reject(err) : resolve(key && value ? [key, value] : undefined))),
        );
        if (!entry) return;
        yield [entry[0].toString(), entry[1]];
      }
    } finally {
      await new Promise<void>((resolve) => it.end(() => resolve()));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}
