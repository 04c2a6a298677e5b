// Comparing a presented secret (token, key, signature) with the expected one in constant time, so
// the time taken says nothing about how much of it was right.
import { timingSafeEqual } from 'node:crypto';

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
