// Simulator input validation: schema errors become a 400 naming the field, and a union (an enum,
// a duration that is a number or a string) is described by what it accepts, not by its first branch.
import type { TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { firstSchemaError } from '../core/validate.js';
import { SimError } from './fleet.js';

interface SchemaNode {
  anyOf?: SchemaNode[];
  const?: unknown;
  type?: string;
  title?: string;
  minimum?: number;
}

/** How one branch of a union reads in a message: its title, else a short phrase from its type. */
function branchLabel(branch: SchemaNode): string {
  if (branch.title) return branch.title;
  if (branch.const !== undefined) return JSON.stringify(branch.const);
  if (branch.type === 'number' || branch.type === 'integer') {
    const kind = branch.type === 'integer' ? 'integer' : 'number';
    return branch.minimum === 0 ? `a non-negative ${kind}` : `a ${kind}`;
  }
  if (branch.type === 'string') return 'a string';
  if (branch.type === 'boolean') return 'true or false';
  if (branch.type === 'object') return 'an object';
  if (branch.type === 'array') return 'an array';
  return 'valid';
}

/**
 * The message for a value that matches no branch of a union (`anyOf`): the allowed values of a
 * union of literals, else what each branch accepts. Undefined for a schema that is not a union.
 */
export function unionMessage(schema: unknown): string | undefined {
  const branches = (schema as SchemaNode | undefined)?.anyOf;
  if (!branches?.length) return undefined;
  if (branches.every((b) => b.const !== undefined))
    return `must be one of ${branches.map((b) => String(b.const)).join(', ')}`;
  return `must be ${branches.map(branchLabel).join(' or ')}`;
}

/** One ajv error as Fastify reports it (verbose: the failing keyword's parent schema included). */
export interface AjvError {
  instancePath?: string;
  schemaPath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
  parentSchema?: unknown;
}

/**
 * The message of a Fastify validation error, e.g. `body/type: must be one of Freeze, Reboot, …`.
 * ajv checks every branch of an `anyOf` and reports each branch's failure (for a union of literals:
 * one `must be equal to constant` per value) before the `anyOf` error itself, so the first error
 * alone never says what was allowed: describe the union the first error belongs to instead.
 */
export function ajvMessage(errors: AjvError[], context: string | undefined, fallback: string): string {
  const first = errors[0];
  const where = `${context ?? 'request'}${first?.instancePath ?? ''}`;
  if (!first) return `${where}: ${fallback}`;
  const extra = first.params?.additionalProperty;
  if (typeof extra === 'string') return `${where}: unknown field ${JSON.stringify(extra)}`;
  const union = errors.find(
    (e) =>
      e.keyword === 'anyOf' &&
      e.instancePath === first.instancePath &&
      first.schemaPath?.startsWith(`${e.schemaPath}/`),
  );
  if (union) {
    const message = unionMessage(union.parentSchema);
    if (message) return `${where}: ${message}`;
    const allowed = errors
      .filter((e) => e.keyword === 'const' && e.schemaPath?.startsWith(`${union.schemaPath}/`))
      .map((e) => String(e.params?.allowedValue));
    if (allowed.length) return `${where}: must be one of ${allowed.join(', ')}`;
  }
  return `${where}: ${first.message ?? fallback}`;
}

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
