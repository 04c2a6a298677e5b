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

// ---- Messages for unions, shared by TypeBox checks and Fastify's ajv errors ----

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
