// The simulated fleet: VMs and how they group. Grouping decides who sees an event:
// Azure shows an event to every VM of the same availability set or scale-set placement group.
import { randomUUID } from 'node:crypto';
import type { SimProvider } from './cloud-types.js';

export type { SimProvider } from './cloud-types.js';

export interface SimVm {
  name: string;
  /** Azure vmId (a GUID). */
  id: string;
  provider: SimProvider;
  pool?: string;
  availabilitySet?: string;
  scaleSet?: string;
  zone?: string;
  faultDomain: number;
  updateDomain: number;
  tags: Record<string, string>;
  resourceGroup: string;
  location: string;
  vmSize: string;
  subscriptionId: string;
  privateIp: string;
  /** AWS/Alibaba IMDS token mode: `optional` accepts plain GETs, `required` only with a session token. */
  httpTokens?: 'optional' | 'required';
  createdAt: string;
}

export type SimVmInput = Partial<Omit<SimVm, 'name' | 'createdAt'>> & { name: string };

/** Which VMs an event or action targets. All given criteria must hold (AND). */
export interface Targets {
  vms?: string[];
  pool?: string;
  availabilitySet?: string;
  scaleSet?: string;
  zone?: string;
  faultDomain?: number;
  updateDomain?: number;
  tags?: Record<string, string>;
}

export class SimError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'SimError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SUBSCRIPTION = '8d10da13-8125-4ba9-a717-bf7490507b3d';

export class Fleet {
  private readonly vms = new Map<string, SimVm>();
  private ipCounter = 4;

  constructor(private readonly now: () => number) {}

  /** Validates everything before storing anything, so a bad VM changes no state. */
  add(input: SimVmInput): SimVm {
    if (!NAME.test(input.name)) {
      throw new SimError(
        400,
        `invalid VM name ${JSON.stringify(input.name)}: letters, digits, '_', '.', '-'`,
      );
    }
    if (this.vms.has(input.name)) throw new SimError(409, `VM ${input.name} already exists`);
    for (const key of ['faultDomain', 'updateDomain'] as const) {
      const value = input[key];
      if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 19)) {
        throw new SimError(400, `${key} of ${input.name} must be an integer from 0 to 19`);
      }
    }
    const vm: SimVm = {
      provider: 'azure',
      id: randomUUID(),
      faultDomain: 0,
      updateDomain: 0,
      tags: {},
      resourceGroup: 'forewarn-sim',
      location: 'westeurope',
      vmSize: 'Standard_D2s_v5',
      subscriptionId: SUBSCRIPTION,
      privateIp: `10.0.${Math.floor(this.ipCounter / 250)}.${(this.ipCounter % 250) + 4}`,
      ...input,
      createdAt: new Date(this.now()).toISOString(),
    };
    this.ipCounter++;
    this.vms.set(vm.name, vm);
    return vm;
  }

  remove(name: string): SimVm {
    const vm = this.require(name);
    this.vms.delete(name);
    return vm;
  }

  get(name: string): SimVm | undefined {
    return this.vms.get(name);
  }

  require(name: string): SimVm {
    const vm = this.vms.get(name);
    if (!vm) throw new SimError(404, `unknown VM ${JSON.stringify(name)}`);
    return vm;
  }

  list(): SimVm[] {
    return [...this.vms.values()];
  }

  first(): SimVm | undefined {
    return this.vms.values().next().value;
  }

  clear(): void {
    this.vms.clear();
  }

  /** VMs matching every given criterion; unknown names in `vms` are an error, not a silent miss. */
  resolve(targets: Targets): SimVm[] {
    const named = targets.vms?.map((n) => this.require(n));
    const candidates = named ?? this.list();
    const matches = candidates.filter(
      (vm) =>
        (targets.pool === undefined || vm.pool === targets.pool) &&
        (targets.availabilitySet === undefined || vm.availabilitySet === targets.availabilitySet) &&
        (targets.scaleSet === undefined || vm.scaleSet === targets.scaleSet) &&
        (targets.zone === undefined || vm.zone === targets.zone) &&
        (targets.faultDomain === undefined || vm.faultDomain === targets.faultDomain) &&
        (targets.updateDomain === undefined || vm.updateDomain === targets.updateDomain) &&
        Object.entries(targets.tags ?? {}).every(([k, v]) => vm.tags[k] === v),
    );
    if (matches.length === 0) throw new SimError(400, `no VM matches targets ${JSON.stringify(targets)}`);
    return matches;
  }

  /**
   * The broadcast group: availability set, else scale set, else the VM alone. Only Azure shows an
   * event to siblings; every other cloud's metadata speaks of the instance alone.
   */
  static groupOf(vm: SimVm): string {
    if (vm.provider !== 'azure') return `vm:${vm.name}`;
    if (vm.availabilitySet) return `as:${vm.availabilitySet}`;
    if (vm.scaleSet) return `vmss:${vm.scaleSet}`;
    return `vm:${vm.name}`;
  }

  /** Every VM that sees an event about `resources`: the resources and their group siblings. */
  audienceOf(resources: SimVm[]): string[] {
    const groups = new Set(resources.map(Fleet.groupOf));
    return this.list()
      .filter((vm) => groups.has(Fleet.groupOf(vm)))
      .map((vm) => vm.name);
  }
}
