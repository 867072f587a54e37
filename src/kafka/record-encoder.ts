// One record of a produce request (Kafka record format v2), as kafkajs's
// protocol/recordBatch/record/v0 encodes it: same arguments, same bytes (test/unit/record-encoder.test.ts
// compares them), written into one buffer of the exact size. kafkajs's generic Encoder takes a
// zero-filled 512-byte buffer per record and a 64-bit Long class for the timestamp; its produce
// encoding was 36% inclusive of the processor's CPU profile in bench:processor (README, Design).

type Bytes = Buffer | string | null | undefined;

export interface RecordArgs {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, Bytes | Bytes[]>;
}

/** What kafkajs's RecordBatch reads of an encoded record (it takes kafkajs Encoders). */
export interface EncodedRecord {
  readonly buf: Buffer;
  readonly buffer: Buffer;
}

/** Zig-zag, as Kafka's signed varints: exact for |n| < 2^52, which offsets and ms deltas are. */
const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

function varintSize(unsigned: number): number {
  let size = 1;
  for (let u = unsigned; u >= 128; u = Math.floor(u / 128)) size++;
  return size;
}

function writeVarint(buf: Buffer, at: number, unsigned: number): number {
  let u = unsigned;
  while (u >= 128) {
    buf[at++] = (u % 128) | 128;
    u = Math.floor(u / 128);
  }
  buf[at++] = u;
  return at;
}

/** A bytes field's size on the wire: its length as a varint, then its content. */
const fieldSize = (length: number): number => varintSize(zigzag(length)) + Math.max(length, 0);

/** A bytes field: its content length, -1 for null. Strings are UTF-8, anything else String()'d, as kafkajs does. */
const lengthOf = (value: Bytes): number => (value == null ? -1 : Buffer.isBuffer(value) ? value.length : Buffer.byteLength(String(value), 'utf8'));

function writeBytes(buf: Buffer, at: number, value: Bytes, length: number): number {
  at = writeVarint(buf, at, zigzag(length));
  if (value == null) return at;
  if (Buffer.isBuffer(value)) value.copy(buf, at);
  else buf.write(String(value), at, length, 'utf8');
  return at + length;
}

const noHeaders: { key: string; keyLength: number; value: Bytes; valueLength: number }[] = [];

export function encodeRecord({ offsetDelta = 0, timestampDelta = 0, key, value, headers }: RecordArgs): EncodedRecord {
  let headerList = noHeaders;
  // Own keys only, as kafkajs (Object.keys); an array's holes are skipped as kafkajs's forEach does.
  if (headers) {
    for (const name of Object.keys(headers)) {
      if (headerList === noHeaders) headerList = [];
      const values = headers[name];
      const list = Array.isArray(values) ? values : [values];
      list.forEach((v) => headerList.push({ key: name, keyLength: Buffer.byteLength(name, 'utf8'), value: v, valueLength: lengthOf(v) }));
    }
  }
  const keyLength = lengthOf(key);
  const valueLength = lengthOf(value);
  let bodySize = 1 + varintSize(zigzag(timestampDelta)) + varintSize(zigzag(offsetDelta)) + fieldSize(keyLength) + fieldSize(valueLength) + varintSize(zigzag(headerList.length));
  for (const h of headerList) bodySize += fieldSize(h.keyLength) + fieldSize(h.valueLength);

  const buf = Buffer.allocUnsafe(varintSize(zigzag(bodySize)) + bodySize);
  let at = writeVarint(buf, 0, zigzag(bodySize));
  buf[at++] = 0; // attributes: none used
  at = writeVarint(buf, at, zigzag(timestampDelta));
  at = writeVarint(buf, at, zigzag(offsetDelta));
  at = writeBytes(buf, at, key, keyLength);
  at = writeBytes(buf, at, value, valueLength);
  at = writeVarint(buf, at, zigzag(headerList.length));
  for (const h of headerList) {
    at = writeBytes(buf, at, h.key, h.keyLength);
    at = writeBytes(buf, at, h.value, h.valueLength);
  }
  if (at !== buf.length) throw new Error(`record encoding wrote ${at} of ${buf.length} bytes`);
  return { buf, buffer: buf };
}
