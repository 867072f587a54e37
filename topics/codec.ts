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

/** Each field in range too: V8's Date.parse rolls 2026-02-30 over to March 2 instead of failing. */
export function isDateTime(value: string): boolean {
  const m = rfc3339.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const zoneOk = m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 59 && zoneOk && !Number.isNaN(Date.parse(value));
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
