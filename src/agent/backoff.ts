// Exponential backoff with full jitter (AWS architecture blog's "full jitter"): spreads a fleet's
// retries so a recovering hub or metadata service is not hit by every agent at once.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  // Never below base/2: a tight loop against a failing service helps nobody.
  return Math.max(options.baseMs / 2, Math.round(random() * ceiling));
}
