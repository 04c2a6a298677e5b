// Tiny templates for action bodies: `{{event.type}}`-style placeholders in strings, resolved
// against a context object. A string that is exactly one placeholder keeps the value's type.
import { lookup } from '../hub/filters.js';
import { ActionConfigError } from './action.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.\\[\]-]+)\s*\}\}/g;

function asText(v: unknown): string {
  return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function renderTemplate(template: unknown, context: Record<string, unknown>): unknown {
  if (typeof template === 'string') {
    const whole = /^\{\{\s*([A-Za-z0-9_.\\-]+)\s*\}\}$/.exec(template);
    if (whole) return lookup(context, whole[1]!) ?? null;
    return renderString(template, context);
  }
  if (Array.isArray(template)) return template.map((t) => renderTemplate(t, context));
  if (template && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderTemplate(v, context)]));
  }
  return template;
}

/** Always a string; `escape` is applied to every substituted value (e.g. HTML escaping). */
export function renderString(
  template: string,
  context: Record<string, unknown>,
  escape: (s: string) => string = (s) => s,
): string {
  return template.replace(PLACEHOLDER, (_m, key: string) => escape(asText(lookup(context, key))));
}

export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/**
 * Load-time check of every string in a template: `{{` must close, and each placeholder must start
 * with one of `roots` (a typo such as `{{evnt.type}}` would otherwise render as nothing at 3 a.m.).
 */
export function checkTemplate(template: unknown, roots: readonly string[], field: string): void {
  if (typeof template === 'string') {
    const stripped = template.replace(PLACEHOLDER, (_m, key: string) => {
      const root = key.split(/[.[]/)[0]!;
      if (!roots.some((r) => r.toLowerCase() === root.toLowerCase()))
        throw new ActionConfigError(
          `${field}: unknown placeholder {{${key}}}; it may start with ${roots.join(', ')}`,
        );
      return '';
    });
    if (stripped.includes('{{') || stripped.includes('}}'))
      throw new ActionConfigError(`${field}: a placeholder is not closed or not of the form {{name}}`);
    return;
  }
  if (Array.isArray(template)) template.forEach((t, i) => checkTemplate(t, roots, `${field}/${i}`));
  else if (template && typeof template === 'object')
    for (const [k, v] of Object.entries(template)) checkTemplate(v, roots, `${field}/${k}`);
}
