// A bounded log of metadata requests, so tests and operators can see what an agent asked.

export interface RequestRecord {
  at: string;
  vm: string;
  method: string;
  url: string;
  status: number;
  ms: number;
  faults?: string[];
}

export class RequestLog {
  private entries: RequestRecord[] = [];

  constructor(private readonly capacity = 5000) {}

  add(entry: RequestRecord): void {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  list(filter: { vm?: string; limit?: number } = {}): RequestRecord[] {
    const matching = filter.vm ? this.entries.filter((e) => e.vm === filter.vm) : this.entries;
    return matching.slice(-(filter.limit ?? 1000));
  }

  clear(): void {
    this.entries = [];
  }
}
