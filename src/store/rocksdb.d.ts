// The rocksdb package ships no types; this is the part of its abstract-leveldown API we use.
declare module 'rocksdb' {
  type Callback<T = void> = (err: Error | undefined | null, value: T) => void;
  export type BatchOp = { type: 'put'; key: string; value: Buffer | string } | { type: 'del'; key: string };
  export interface RocksIterator {
    next(cb: (err: Error | undefined | null, key?: Buffer, value?: Buffer) => void): void;
    end(cb: Callback): void;
  }
  export interface RocksDB {
    open(options: { createIfMissing?: boolean; errorIfExists?: boolean }, cb: Callback): void;
    close(cb: Callback): void;
    get(key: string, options: { asBuffer: true; fillCache?: boolean }, cb: Callback<Buffer>): void;
    batch(ops: BatchOp[], options: { sync?: boolean }, cb: Callback): void;
    iterator(options: { gte?: string; lt?: string; keys?: boolean; values?: boolean }): RocksIterator;
  }
  export default function rocksdb(location: string): RocksDB;
}
