// Prometheus metrics of the hub, on one registry per hub (tests run several hubs in a process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class HubMetrics {
  readonly registry = new Registry();
  readonly ingested = new Counter({
    name: 'forewarn_transitions_ingested_total',
    help: 'Transitions received, by outcome (new, duplicate, merged) and transport',
    labelNames: ['outcome', 'via'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'forewarn_ingest_rejected_total',
    help: 'Ingest requests refused, by HTTP status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly deliveryLag = new Histogram({
    name: 'forewarn_agent_delivery_lag_seconds',
    help: 'Agent observed a transition → hub stored it',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly noticeLeft = new Histogram({
    name: 'forewarn_notice_left_seconds',
    help: 'Time left before NotBefore when a scheduled transition was stored',
    buckets: [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 86_400],
    registers: [this.registry],
  });
  readonly agentsSeen = new Gauge({
    name: 'forewarn_agents',
    help: 'Agents known to the hub, by heartbeat freshness',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'forewarn_hub_' });
  }
}
