// Fault injection for metadata endpoints, per VM or global. Each fault fires at a rate (0..1);
// `count` limits how many requests it touches before it clears itself.

/** Azure's three, then one per other cloud's metadata reads, and the AWS/Alibaba token PUT apart. */
export const ENDPOINTS = [
  'scheduledevents',
  'instance',
  'legacy',
  'aws',
  'aws-token',
  'gcp',
  'alibaba',
  'alibaba-token',
  'tencent',
] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
export const MALFORMED_KINDS = ['truncated', 'garbage', 'empty', 'wrong-shape'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface FaultSpec {
  /** Answer with `errorStatus` (default 500) at this rate. */
  errorRate?: number;
  errorStatus?: number;
  /** Seconds to send in a Retry-After header with the injected error (a throttling 429 or 503). */
  retryAfter?: number;
  /** Added delay on every affected request. */
  latencyMs?: number;
  /** Hold the response for `hangMs` (default 120000) at this rate: past any sane client timeout. */
  hangRate?: number;
  hangMs?: number;
  /** Serve a broken body at this rate. */
  malformedRate?: number;
  malformedKind?: MalformedKind;
  /** Serve an incarnation lower than the current one at this rate. */
  incarnationBackwardsRate?: number;
  /** Serve the document without its events (incarnation unchanged) at this rate: events vanish without starting. */
  vanishRate?: number;
  /** Affect only this many requests, then clear. */
  count?: number;
  /** Which endpoints are affected; default all. */
  endpoints?: Endpoint[];
}

/** What to do to one request, decided once up front. */
export interface FaultDecision {
  latencyMs: number;
  hangMs?: number;
  errorStatus?: number;
  retryAfter?: number;
  malformed?: MalformedKind;
  incarnationBackwards: boolean;
  vanish: boolean;
  labels: string[];
}

const NONE: FaultDecision = { latencyMs: 0, incarnationBackwards: false, vanish: false, labels: [] };

export class FaultInjector {
  private global?: FaultSpec;
  private readonly perVm = new Map<string, FaultSpec>();

  constructor(private readonly random: () => number = Math.random) {}

  set(spec: FaultSpec, vm?: string): void {
    if (vm) this.perVm.set(vm, { ...spec });
    else this.global = { ...spec };
  }

  clear(vm?: string): void {
    if (vm) this.perVm.delete(vm);
    else this.global = undefined;
  }

  clearAll(): void {
    this.global = undefined;
    this.perVm.clear();
  }

  get(vm?: string): FaultSpec | undefined {
    return vm ? this.perVm.get(vm) : this.global;
  }

  all(): { global?: FaultSpec; vms: Record<string, FaultSpec> } {
    return { global: this.global, vms: Object.fromEntries(this.perVm) };
  }

  /** A VM's own faults replace the global ones for that VM. */
  decide(vm: string, endpoint: Endpoint): FaultDecision {
    const own = this.perVm.get(vm);
    const spec = own ?? this.global;
    if (!spec || (spec.endpoints && !spec.endpoints.includes(endpoint))) return NONE;
    const hit = (rate?: number) => rate !== undefined && rate > 0 && this.random() < rate;
    const d: FaultDecision = {
      latencyMs: spec.latencyMs ?? 0,
      incarnationBackwards: false,
      vanish: false,
      labels: [],
    };
    if (d.latencyMs > 0) d.labels.push(`latency ${d.latencyMs}ms`);
    if (hit(spec.hangRate)) {
      d.hangMs = spec.hangMs ?? 120_000;
      d.labels.push(`hang ${d.hangMs}ms`);
    }
    if (hit(spec.errorRate)) {
      d.errorStatus = spec.errorStatus ?? 500;
      if (spec.retryAfter !== undefined) d.retryAfter = spec.retryAfter;
      d.labels.push(`status ${d.errorStatus}`);
    } else if (hit(spec.malformedRate)) {
      d.malformed = spec.malformedKind ?? 'truncated';
      d.labels.push(`malformed ${d.malformed}`);
    } else {
      if (hit(spec.incarnationBackwardsRate)) {
        d.incarnationBackwards = true;
        d.labels.push('incarnation backwards');
      }
      if (hit(spec.vanishRate)) {
        d.vanish = true;
        d.labels.push('events vanished');
      }
    }
    if (spec.count !== undefined) {
      spec.count -= 1;
      if (spec.count <= 0) this.clear(own ? vm : undefined);
    }
    return d;
  }
}

/** Breaks a JSON body the way a flaky proxy or a half-written buffer would. */
export function malform(body: string, kind: MalformedKind): string {
  switch (kind) {
    case 'truncated':
      return body.slice(0, Math.max(1, Math.floor(body.length / 2)));
    case 'garbage':
      return '<html><body>502 Bad Gateway</body></html>';
    case 'empty':
      return '';
    case 'wrong-shape':
      return JSON.stringify({ DocumentIncarnation: 'seven', Events: { EventId: 42 } });
  }
}
