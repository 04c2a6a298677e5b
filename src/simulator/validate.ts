// Simulator input validation: schema errors become a 400 naming the field, and a union (an enum,
// a duration that is a number or a string) is described by what it accepts, not by its first branch.
import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { firstSchemaError } from '../core/validate.js';
import { SimError } from './fleet.js';

export { ajvMessage, unionMessage, type AjvError } from '../core/validate.js';
import { unionMessage } from '../core/validate.js';

/** How far into the value an error got; a missing property counts as its parent object. */
function depth(error: ValueError): number {
  const segments = error.path.split('/').length;
  return error.type === ValueErrorType.ObjectRequiredProperty ? segments - 1 : segments;
}

/**
 * A union error, made specific: when one branch got deeper into the value than the union itself
 * (a VM entry with an unknown field, a generator with a bad count), that branch's error; otherwise
 * what the union accepts.
 */
function explain(error: ValueError): { path: string; message: string } {
  if (error.errors.length) {
    let best: ValueError | undefined;
    let bestDepth = depth(error);
    for (const branch of error.errors) {
      const first = branch.First();
      if (first && depth(first) > bestDepth) [best, bestDepth] = [first, depth(first)];
    }
    if (best) return explain(best);
  }
  if (error.message.startsWith('Unexpected property')) return { path: error.path, message: 'unknown field' };
  return { path: error.path, message: unionMessage(error.schema) ?? error.message };
}

export function assertValid(schema: TSchema, value: unknown, root: string): void {
  // firstSchemaError also registers the string formats TypeBox needs.
  if (!firstSchemaError(schema, value, root)) return;
  const first = Value.Errors(schema, value).First()!;
  const { path, message } = explain(first);
  throw new SimError(400, `${`${root}${path}` || '/'}: ${message}`);
}
