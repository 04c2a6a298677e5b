// Digest grouping, like Alertmanager's group_wait: the first item for a key opens a window; items
// for the same key that arrive before it closes are delivered together, once, and every item gets
// the outcome of that one delivery. An item whose step times out while waiting leaves the group.
export interface DigestMember<T, R> {
  item: T;
  resolve: (r: R) => void;
}

export class Digester<T, R> {
  private readonly open = new Map<string, { members: DigestMember<T, R>[]; timer: NodeJS.Timeout }>();

  constructor(
    private readonly deliver: (key: string, items: T[]) => Promise<R>,
    /** The outcome when deliver() itself throws (it should turn failures into results). */
    private readonly failed: (err: unknown) => R,
  ) {}

  /**
   * Joins the open group for `key` (or opens one for `waitMs`) and resolves with the delivery's
   * outcome. `onAbort` gives the result for an item whose signal fires before delivery starts.
   */
  add(
    key: string,
    item: T,
    waitMs: number,
    maxSize: number,
    signal: AbortSignal,
    onAbort: () => R,
  ): Promise<R> {
    if (signal.aborted) return Promise.resolve(onAbort());
    return new Promise<R>((resolve) => {
      const member = { item, resolve };
      let group = this.open.get(key);
      if (!group) {
        const timer = setTimeout(() => this.flush(key), waitMs);
        group = { members: [], timer };
        this.open.set(key, group);
      }
      group.members.push(member);
      const g = group;
      signal.addEventListener(
        'abort',
        () => {
          const i = g.members.indexOf(member);
          if (i < 0 || this.open.get(key) !== g) return; // already being delivered
          g.members.splice(i, 1);
          resolve(onAbort());
        },
        { once: true },
      );
      if (g.members.length >= maxSize) this.flush(key);
    });
  }

  /** Number of groups waiting (tests, shutdown). */
  get pending(): number {
    return this.open.size;
  }

  private flush(key: string): void {
    const group = this.open.get(key);
    if (!group) return;
    this.open.delete(key);
    clearTimeout(group.timer);
    const { members } = group;
    if (!members.length) return;
    this.deliver(
      key,
      members.map((m) => m.item),
    ).then(
      (r) => members.forEach((m) => m.resolve(r)),
      (err: unknown) => members.forEach((m) => m.resolve(this.failed(err))),
    );
  }
}
