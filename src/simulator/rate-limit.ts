// IMDS allows 5 requests per second per VM and answers 429 beyond that (metadata-apis.md §1.8).

export class RateLimiter {
  private readonly hits = new Map<string, number[]>();

  /** `limit` requests per `windowMs`; 0 turns limiting off. */
  constructor(
    public limit: number,
    private readonly now: () => number,
    private readonly windowMs = 1000,
  ) {}

  /** Records a request and says whether it is within the limit. Rejected requests do not count. */
  allow(key: string): boolean {
    if (this.limit <= 0) return true;
    const now = this.now();
    const recent = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (recent.length >= this.limit) {
      this.hits.set(key, recent);
      return false;
    }
    recent.push(now);
    this.hits.set(key, recent);
    return true;
  }

  reset(): void {
    this.hits.clear();
  }
}
