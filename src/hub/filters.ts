// Event Grid advanced filters (delivery-semantics.md §1.4) with the sharp edges filed off (§6.2.9):
// no value caps, keys may escape dots (`data.tags.app\.tier`), arrays match per element, and a
// missing key never matches a negative filter unless `matchMissing: true` says so.
import { Type, type Static } from '@sinclair/typebox';

const OPERATORS = [
  'NumberIn', 'NumberNotIn', 'NumberLessThan', 'NumberGreaterThan', 'NumberLessThanOrEquals',
  'NumberGreaterThanOrEquals', 'NumberInRange', 'NumberNotInRange', 'BoolEquals', 'StringIn',
  'StringNotIn', 'StringContains', 'StringNotContains', 'StringBeginsWith', 'StringNotBeginsWith',
  'StringEndsWith', 'StringNotEndsWith', 'IsNullOrUndefined', 'IsNotNull',
] as const; // prettier-ignore
export type Operator = (typeof OPERATORS)[number];

export const AdvancedFilter = Type.Object(
  {
    operatorType: Type.Union(OPERATORS.map((o) => Type.Literal(o))),
    key: Type.String({ minLength: 1, maxLength: 512 }),
    value: Type.Optional(Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
    values: Type.Optional(
      Type.Array(
        Type.Union([Type.String(), Type.Number(), Type.Array(Type.Number(), { minItems: 2, maxItems: 2 })]),
      ),
    ),
    caseSensitive: Type.Optional(Type.Boolean({ description: 'default false, as Event Grid' })),
    matchMissing: Type.Optional(
      Type.Boolean({ description: 'negative operators match a missing key (Event Grid does, silently)' }),
    ),
  },
  { additionalProperties: false },
);
export type AdvancedFilterT = Static<typeof AdvancedFilter>;

/** `data.a\.b.c` → ['data', 'a.b', 'c'] */
export function splitKey(key: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < key.length; i++) {
    const ch = key[i]!;
    if (ch === '\\' && key[i + 1] === '.') {
      cur += '.';
      i++;
    } else if (ch === '.') {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

export function lookup(doc: unknown, key: string): unknown {
  let node: unknown = doc;
  for (const part of splitKey(key)) {
    if (node === null || typeof node !== 'object') return undefined;
    // Case-insensitive key lookup, like Event Grid.
    const obj = node as Record<string, unknown>;
    const hit = part in obj ? part : Object.keys(obj).find((k) => k.toLowerCase() === part.toLowerCase());
    node = hit === undefined ? undefined : obj[hit];
  }
  return node;
}

const NEGATIVE = new Set<Operator>([
  'NumberNotIn',
  'NumberNotInRange',
  'StringNotIn',
  'StringNotContains',
  'StringNotBeginsWith',
  'StringNotEndsWith',
]);

/** Whether one scalar satisfies the filter. */
function scalarMatches(f: AdvancedFilterT, v: unknown): boolean {
  const list = f.values ?? (f.value !== undefined ? [f.value] : []);
  const norm = (s: string) => (f.caseSensitive ? s : s.toLowerCase());
  const strs = list.filter((x): x is string => typeof x === 'string').map(norm);
  const nums = list.filter((x): x is number => typeof x === 'number');
  const ranges = list.filter((x): x is number[] => Array.isArray(x));
  const s = typeof v === 'string' ? norm(v) : undefined;
  const n = typeof v === 'number' ? v : undefined;
  switch (f.operatorType) {
    case 'NumberIn': return n !== undefined && nums.includes(n);
    case 'NumberNotIn': return n !== undefined && !nums.includes(n);
    case 'NumberLessThan': return n !== undefined && n < Number(f.value);
    case 'NumberGreaterThan': return n !== undefined && n > Number(f.value);
    case 'NumberLessThanOrEquals': return n !== undefined && n <= Number(f.value);
    case 'NumberGreaterThanOrEquals': return n !== undefined && n >= Number(f.value);
    case 'NumberInRange': return n !== undefined && ranges.some(([lo, hi]) => n >= lo! && n <= hi!);
    case 'NumberNotInRange': return n !== undefined && !ranges.some(([lo, hi]) => n >= lo! && n <= hi!);
    case 'BoolEquals': return typeof v === 'boolean' && v === f.value;
    case 'StringIn': return s !== undefined && strs.includes(s);
    case 'StringNotIn': return s !== undefined && !strs.includes(s);
    case 'StringContains': return s !== undefined && strs.some((x) => s.includes(x));
    case 'StringNotContains': return s !== undefined && !strs.some((x) => s.includes(x));
    case 'StringBeginsWith': return s !== undefined && strs.some((x) => s.startsWith(x));
    case 'StringNotBeginsWith': return s !== undefined && !strs.some((x) => s.startsWith(x));
    case 'StringEndsWith': return s !== undefined && strs.some((x) => s.endsWith(x));
    case 'StringNotEndsWith': return s !== undefined && !strs.some((x) => s.endsWith(x));
    default: return false;
  }
} // prettier-ignore

/** Evaluates one filter against a document; returns whether it matched and why. */
export function evaluateFilter(f: AdvancedFilterT, doc: unknown): { matched: boolean; reason: string } {
  const v = lookup(doc, f.key);
  const shown = JSON.stringify(v);
  if (f.operatorType === 'IsNullOrUndefined')
    return { matched: v === undefined || v === null, reason: `${f.key} is ${shown ?? 'missing'}` };
  if (f.operatorType === 'IsNotNull')
    return { matched: v !== undefined && v !== null, reason: `${f.key} is ${shown ?? 'missing'}` };
  if (v === undefined || v === null) {
    const matched = NEGATIVE.has(f.operatorType) && f.matchMissing === true;
    return { matched, reason: `${f.key} is missing${matched ? ' (matchMissing)' : ''}` };
  }
  // Arrays of scalars match when any element does (negative operators: when every element does).
  const items = Array.isArray(v) ? v : [v];
  const matched = NEGATIVE.has(f.operatorType)
    ? items.every((x) => scalarMatches(f, x))
    : items.some((x) => scalarMatches(f, x));
  return {
    matched,
    reason: `${f.key} = ${shown} ${matched ? 'satisfies' : 'fails'} ${f.operatorType} ${JSON.stringify(f.values ?? f.value)}`,
  };
}
