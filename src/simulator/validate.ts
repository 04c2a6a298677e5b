// Schema validation that names the bad field, for scenario files and other non-HTTP input.
import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SimError } from './fleet.js';

// TypeBox's checker knows no string formats by itself; Fastify's ajv does. Keep them in step.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set(
    'date-time',
    (v) =>
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(v) &&
      !Number.isNaN(Date.parse(v)),
  );
}

/** Throws SimError(400) naming the first bad field as a slash path under `root`. */
export function assertValid(schema: TSchema, value: unknown, root: string): void {
  const first = Value.Errors(schema, value).First();
  if (!first) return;
  const path = `${root}${first.path}` || '/';
  if (first.message.startsWith('Unexpected property')) {
    throw new SimError(400, `${path}: unknown field`);
  }
  // A union of literals is an enum to a reader: list the allowed values.
  const options = (first.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const);
  if (options?.length && options.every((o) => o !== undefined)) {
    throw new SimError(400, `${path}: must be one of ${options.join(', ')}`);
  }
  throw new SimError(400, `${path}: ${first.message}`);
}
