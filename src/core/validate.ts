// Schema validation that names the bad field as a slash path, for files and other non-HTTP input.
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

// TypeBox's checker knows no string formats by itself; Fastify's ajv does. Keep them in step.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (v) =>
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(v) &&
      !Number.isNaN(Date.parse(v)),
  );
}

/** The first problem of `value` against `schema`, as "path: message", or undefined when valid. */
export function firstSchemaError(
  schema: TSchema,
  value: unknown,
  root = '',
): { path: string; message: string } | undefined {
  const first = Value.Errors(schema, value).First();
  if (!first) return undefined;
  const path = `${root}${first.path}` || '/';
  if (first.message.startsWith('Unexpected property')) return { path, message: 'unknown field' };
  // A union of literals is an enum to a reader: list the allowed values.
  const options = (first.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const);
  if (options?.length && options.every((o) => o !== undefined)) {
    return { path, message: `must be one of ${options.join(', ')}` };
  }
  return { path, message: first.message };
}
