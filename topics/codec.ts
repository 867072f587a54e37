import { FormatRegistry, type TSchema, type Static } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';

// The same JSON Schemas serve the HTTP routes (fastify's ajv knows date-time); TypeBox needs it declared.
if (!FormatRegistry.Has('date-time')) {
  // RFC 3339: a zone is required, or Date.parse would read the time in the server's zone.
  const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i;
  FormatRegistry.Set('date-time', (value) => rfc3339.test(value) && !Number.isNaN(Date.parse(value)));
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
