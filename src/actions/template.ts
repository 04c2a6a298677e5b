// Tiny templates for action bodies: `{{event.type}}`-style placeholders in strings, resolved
// against a context object. A string that is exactly one placeholder keeps the value's type.
import { lookup } from '../hub/filters.js';

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.\\[\]-]+)\s*\}\}/g;

export function renderTemplate(template: unknown, context: Record<string, unknown>): unknown {
  if (typeof template === 'string') {
    const whole = /^\{\{\s*([A-Za-z0-9_.\\-]+)\s*\}\}$/.exec(template);
    if (whole) return lookup(context, whole[1]!) ?? null;
    return template.replace(PLACEHOLDER, (_m, key: string) => {
      const v = lookup(context, key);
      return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  }
  if (Array.isArray(template)) return template.map((t) => renderTemplate(t, context));
  if (template && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderTemplate(v, context)]));
  }
  return template;
}
