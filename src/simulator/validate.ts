// Schema validation that names the bad field, for scenario files and other non-HTTP input.
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { SimError } from './fleet.js';

/** Throws SimError(400) naming the first bad field as a slash path under `root`. */
export function assertValid(schema: TSchema, value: unknown, root: string): void {
  const first = Value.Errors(schema, value).First();
  if (!first) return;
  const path = `${root}${first.path}` || '/';
  if (first.message.startsWith('Unexpected property')) {
    throw new SimError(400, `${path}: unknown field`);
  }
  throw new SimError(400, `${path}: ${first.message}`);
}
