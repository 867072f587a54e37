import { FormatRegistry, type TSchema, type Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

// TypeBox needs formats declared. 'date-time' (client input) is strict, as fastify's ajv is;
// 'stored-date-time' is what the topics may already hold, written before the range check: their
// readers must keep accepting it, or an old event would stall a replay and an in-flight saga
// command would be dead-lettered.
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isDateTime);
if (!FormatRegistry.Has('stored-date-time')) FormatRegistry.Set('stored-date-time', (value) => rfc3339.test(value) && !Number.isNaN(Date.parse(value)));

// RFC 3339: a zone is required, or Date.parse would read the time in the server's zone.
const rfc3339 = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-](\d\d):(\d\d))$/i;

const daysInMonth = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Each field in range too: V8's Date.parse rolls 2026-02-30 over to March 2 instead of failing.
 * Every string this accepts, Date.parse reads as written. Plain arithmetic: with Date.parse and
 * a Date per call it was 3.7% of the processor's self time (`BENCH_CPU_PROF=dir npm run
 * bench:processor -- --commands 300000 --accounts 30000`, then `npm run profile:summary`).
 */
export function isDateTime(value: string): boolean {
  const m = rfc3339.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : daysInMonth[month - 1]!;
  const zoneOk = m[9] === undefined || (+m[9] <= 23 && +m[10]! <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= days && hour <= 23 && minute <= 59 && second <= 59 && zoneOk;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A compiled validator for one schema, with a reason that names the field that failed. */
export class Codec<S extends TSchema> {
  private readonly check: TypeCheck<S>;

  constructor(readonly schema: S) {
    this.check = TypeCompiler.Compile(schema);
  }

  validate(value: unknown): Decoded<Static<S>> {
    if (this.check.Check(value)) return { ok: true, value };
    const error = this.check.Errors(value).First();
    const field = error?.path ? error.path.slice(1).replaceAll('/', '.') : '(root)';
    return { ok: false, reason: `${field}: ${error?.message ?? 'invalid'}` };
  }
}

/** JSON.parse that reports instead of throwing. */
export function parseJson(bytes: Buffer | null): Decoded<unknown> {
  return parseJsonText(bytes?.toString('utf8') ?? '');
}

export function parseJsonText(text: string): Decoded<unknown> {
  if (text.length === 0) return { ok: false, reason: 'empty value' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
}
