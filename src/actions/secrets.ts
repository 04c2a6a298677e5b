// Secrets in action parameters: `{env: NAME}` or `{file: path}`, resolved only when a step runs,
// so passwords and keys never sit in the rules, the store, the API or the log. The API shows a
// reference as it was written (the name of the variable or file, never its content), and
// redacts any inline value under a field whose name says it is a secret.
import { readFileSync } from 'node:fs';
import { ActionConfigError } from './action.js';

export type SecretRef = { env: string } | { file: string };

export function isSecretRef(value: unknown): value is SecretRef {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1) return false;
  const v = (value as Record<string, unknown>)[keys[0]!];
  return (keys[0] === 'env' || keys[0] === 'file') && typeof v === 'string' && v.length > 0;
}

/** Checks a field that must be a secret reference (inline secrets are refused at load time). */
export function checkSecretRef(value: unknown, field: string): void {
  if (!isSecretRef(value))
    throw new ActionConfigError(`${field}: give it as {env: NAME} or {file: path}, never inline`);
}

/** Reads a secret now; throws an ActionConfigError (not retryable by itself) when it is missing. */
export function resolveSecret(ref: SecretRef, field: string): string {
  if ('env' in ref) {
    const v = process.env[ref.env];
    if (!v) throw new ActionConfigError(`${field}: environment variable ${ref.env} is not set`);
    return v;
  }
  try {
    return readFileSync(ref.file, 'utf8').trim();
  } catch (err) {
    throw new ActionConfigError(
      `${field}: cannot read ${ref.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** A value that may be a plain string or a secret reference, resolved now. */
export function stringOrSecret(value: unknown, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (isSecretRef(value)) return resolveSecret(value, field);
  return String(value);
}

const SECRET_NAME = /pass|secret|token|key|auth|credential|signature/i;
const REDACTED = '[redacted]';

/**
 * A copy of a rule (or any parameters) safe to show: inline strings under secret-sounding names
 * are replaced, references are kept (they name where the secret lives, not what it is).
 */
export function redactSecrets<T>(value: T, name = ''): T {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, name)) as T;
  if (value && typeof value === 'object') {
    if (isSecretRef(value)) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v, k)])) as T;
  }
  // `keyId` names a key, it is not one; `secretEnv`/`secretFile` name where one lives; a value
  // that is only a placeholder is filled from the event, not a secret.
  if (
    typeof value === 'string' &&
    SECRET_NAME.test(name) &&
    !/^(keyId|secretEnv|secretFile)$/.test(name) &&
    !/^\{\{[^{}]+\}\}$/.test(value.trim())
  )
    return REDACTED as T;
  return value;
}

/** A rule as the API shows it: the `with:` of its steps, undo steps and notices redacted. */
export function redactRule<T extends object>(rule: T): T {
  const r = rule as Record<string, unknown>;
  const steps = (list: unknown) =>
    Array.isArray(list)
      ? list.map((s: Record<string, unknown>) => (s && s.with ? { ...s, with: redactSecrets(s.with) } : s))
      : list;
  return {
    ...r,
    ...(r.steps ? { steps: steps(r.steps) } : {}),
    ...(r.undo ? { undo: steps(r.undo) } : {}),
    ...(r.notify ? { notify: steps(r.notify) } : {}),
  } as T;
}
