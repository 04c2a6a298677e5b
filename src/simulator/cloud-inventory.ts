// The simulated clouds' control-plane state: the disks of each Alibaba ECS instance (one system
// disk and some data disks, seeded per VM and stable across calls), the snapshots taken of them
// (progressing → accomplished after a time-scaled delay), Tencent CVM reinstalls per instance,
// the access keys the APIs accept, and injected control-plane faults. Azure VMs' managed disks
// (ARM resource ids) come from the same per-VM inventory.
import { createHash, randomUUID } from 'node:crypto';
import { toIso } from '../core/time.js';
import { alibabaInstanceId } from './alibaba-metadata.js';
import { awsInstanceId } from './aws-metadata.js';
import type { Controller } from './controller.js';
import { SimError, type SimVm } from './fleet.js';
import { tencentInstanceId } from './tencent-metadata.js';

export interface SimDisk {
  /** Which API serves it: ECS disks (d-…), EC2 volumes (vol-…) or Azure managed disks (ARM ids). */
  cloud: 'ecs' | 'ec2' | 'arm';
  diskId: string;
  vm: string;
  instanceId: string;
  regionId: string;
  zoneId: string;
  type: 'system' | 'data';
  category: string;
  size: number;
  device: string;
}

export interface SimSnapshot {
  cloud: 'ecs' | 'ec2' | 'arm';
  snapshotId: string;
  name: string;
  description: string;
  diskId: string;
  diskType: 'system' | 'data';
  diskSize: number;
  vm: string;
  instanceId: string;
  regionId: string;
  tags: Record<string, string>;
  clientToken?: string;
  createdAt: number;
  doneAt: number;
}

export interface SimReset {
  requestId: string;
  vm: string;
  instanceId: string;
  region: string;
  imageId: string;
  previousImageId: string;
  at: number;
  doneAt: number;
}

export const CLOUD_APIS = ['ecs', 'cvm', 'ec2', 'arm'] as const;
export type CloudApi = (typeof CLOUD_APIS)[number];
export const CLOUD_FAULT_KINDS = ['throttle', 'internal-error', 'unavailable', 'forbidden'] as const;
export type CloudFaultKind = (typeof CLOUD_FAULT_KINDS)[number];

export interface CloudFault {
  api: CloudApi;
  /** Only this action (e.g. CreateSnapshot); default every action of the API. */
  action?: string;
  kind: CloudFaultKind;
  /** Let this many matching calls through first (e.g. throttle the second CreateSnapshot). */
  after?: number;
  /** Affect only this many calls, then clear; default until cleared. */
  count?: number;
}

export interface CloudKey {
  id: string;
  secret: string;
}

/** The keys the simulated APIs accept unless configured otherwise (documented in docs/simulator.md). */
export const SIM_CLOUD_KEYS: Record<CloudApi, CloudKey> = {
  ecs: { id: 'LTAI5tSimulatorKey0001', secret: 'sim-alibaba-access-key-secret' },
  cvm: { id: 'AKIDsimulatorSecretId0001', secret: 'sim-tencent-secret-key' },
  ec2: { id: 'AKIASIMULATORKEY0001', secret: 'sim-aws-secret-access-key' },
  // ARM takes a bearer token: the id is only a label, the secret the token.
  arm: { id: 'sim-azure', secret: 'sim-azure-management-token' },
};

const hash = (...parts: string[]) => createHash('sha256').update(parts.join('/')).digest('hex');

/** The region a VM's cloud reports (as its metadata does): the VM's location unless it is the Azure default. */
export function simRegion(vm: SimVm): string {
  if (vm.location !== 'westeurope') return vm.location;
  return vm.provider === 'tencent' ? 'ap-shanghai' : vm.provider === 'aws' ? 'us-east-1' : 'cn-hangzhou';
}

export class CloudInventory {
  /** Cloud time a snapshot takes to complete, and a reinstall. */
  snapshotMs = 2 * 60_000;
  resetMs = 5 * 60_000;
  /** Data disks of a VM with no count of its own. */
  defaultDataDisks = 1;
  keys: Record<CloudApi, CloudKey[]>;
  private readonly dataDisks = new Map<string, number>();
  private readonly snapshots: SimSnapshot[] = [];
  private readonly tokens = new Map<string, SimSnapshot>();
  private readonly resets: SimReset[] = [];
  private readonly images = new Map<string, string>();
  private faults: CloudFault[] = [];

  constructor(
    private readonly controller: Controller,
    keys: Partial<Record<CloudApi, CloudKey[]>> = {},
  ) {
    this.keys = {
      ecs: keys.ecs ?? [SIM_CLOUD_KEYS.ecs],
      cvm: keys.cvm ?? [SIM_CLOUD_KEYS.cvm],
      ec2: keys.ec2 ?? [SIM_CLOUD_KEYS.ec2],
      arm: keys.arm ?? [SIM_CLOUD_KEYS.arm],
    };
  }

  secretOf(api: CloudApi, id: string): string | undefined {
    return this.keys[api].find((k) => k.id === id)?.secret;
  }

  /** Real cloud time scaled down, as the controller does for events. */
  private scaled(ms: number): number {
    return ms / this.controller.timeScale;
  }

  requireVm(name: string): SimVm {
    const vm = this.controller.fleet.require(name);
    if (vm.provider !== 'alibaba' && vm.provider !== 'aws' && vm.provider !== 'azure')
      throw new SimError(400, `${name} is not an Alibaba, AWS or Azure VM (provider ${vm.provider})`);
    return vm;
  }

  setDataDisks(vm: string, count: number): void {
    this.requireVm(vm);
    if (!Number.isInteger(count) || count < 0 || count > 16)
      throw new SimError(400, 'dataDisks: an integer from 0 to 16');
    this.dataDisks.set(vm, count);
  }

  /** Every Alibaba, AWS and Azure VM's disks: the system (OS, root) disk first, then the data disks. */
  disks(): SimDisk[] {
    return this.controller.fleet
      .list()
      .filter((vm) => vm.provider === 'alibaba' || vm.provider === 'aws' || vm.provider === 'azure')
      .flatMap((vm) => this.disksOf(vm));
  }

  disksOf(vm: SimVm): SimDisk[] {
    if (vm.provider === 'azure') return this.azureDisksOf(vm);
    const count = this.dataDisks.get(vm.name) ?? this.defaultDataDisks;
    const regionId = simRegion(vm);
    const aws = vm.provider === 'aws';
    const base = {
      cloud: aws ? ('ec2' as const) : ('ecs' as const),
      vm: vm.name,
      instanceId: aws ? awsInstanceId(vm) : alibabaInstanceId(vm),
      regionId,
      zoneId: aws ? `${regionId}${vm.zone ?? 'a'}` : `${regionId}-${vm.zone ?? 'h'}`,
      category: aws ? 'gp3' : 'cloud_essd',
    };
    return Array.from({ length: count + 1 }, (_, i) => ({
      ...base,
      diskId: aws
        ? `vol-0${hash(vm.id, String(i)).slice(0, 16)}`
        : `d-bp1${hash(vm.id, String(i)).slice(0, 17)}`,
      type: i === 0 ? ('system' as const) : ('data' as const),
      size: i === 0 ? (aws ? 8 : 40) : 100,
      device: aws && i === 0 ? '/dev/xvda' : `/dev/xvd${String.fromCharCode(97 + i)}`,
    }));
  }

  /** An Azure VM's managed disks, named as the portal names them (`<vm>_OsDisk_1_<hex>`). */
  private azureDisksOf(vm: SimVm): SimDisk[] {
    const count = this.dataDisks.get(vm.name) ?? this.defaultDataDisks;
    const group = `/subscriptions/${vm.subscriptionId}/resourceGroups/${vm.resourceGroup}`;
    return Array.from({ length: count + 1 }, (_, i) => ({
      cloud: 'arm' as const,
      diskId: `${group}/providers/Microsoft.Compute/disks/${
        i === 0 ? `${vm.name}_OsDisk_1_${hash(vm.id, 'os').slice(0, 32)}` : `${vm.name}_DataDisk_${i - 1}`
      }`,
      vm: vm.name,
      instanceId: vm.id,
      regionId: vm.location,
      zoneId: vm.zone ?? '',
      type: i === 0 ? ('system' as const) : ('data' as const),
      category: 'Premium_LRS',
      size: i === 0 ? 30 : 128,
      device: i === 0 ? 'os' : `lun${i - 1}`,
    }));
  }

  /** The Azure VM of that subscription, resource group (case-insensitive, as in ARM) and name. */
  armVm(subscriptionId: string, resourceGroup: string, name: string): SimVm | undefined {
    return this.controller.fleet
      .list()
      .find(
        (vm) =>
          vm.provider === 'azure' &&
          vm.name === name &&
          vm.subscriptionId === subscriptionId &&
          vm.resourceGroup.toLowerCase() === resourceGroup.toLowerCase(),
      );
  }

  ecsInstance(instanceId: string): SimVm | undefined {
    return this.controller.fleet
      .list()
      .find((vm) => vm.provider === 'alibaba' && alibabaInstanceId(vm) === instanceId);
  }

  ec2Instance(instanceId: string): SimVm | undefined {
    return this.controller.fleet
      .list()
      .find((vm) => vm.provider === 'aws' && awsInstanceId(vm) === instanceId);
  }

  cvmInstance(instanceId: string): SimVm | undefined {
    return this.cvmInstances().find((vm) => tencentInstanceId(vm) === instanceId);
  }

  cvmInstances(): SimVm[] {
    return this.controller.fleet.list().filter((vm) => vm.provider === 'tencent');
  }

  snapshotByToken(token: string): SimSnapshot | undefined {
    return this.tokens.get(token);
  }

  createSnapshot(
    disk: SimDisk,
    input: {
      name: string;
      description: string;
      tags: Record<string, string>;
      clientToken?: string;
      /** ARM names its snapshots itself (the resource id); the other clouds get a generated id. */
      snapshotId?: string;
    },
  ): SimSnapshot {
    const now = this.controller.now();
    const s: SimSnapshot = {
      cloud: disk.cloud,
      ...input,
      snapshotId:
        input.snapshotId ??
        (disk.cloud === 'ec2'
          ? `snap-0${hash(randomUUID()).slice(0, 16)}`
          : `s-bp1${hash(randomUUID()).slice(0, 17)}`),
      diskId: disk.diskId,
      diskType: disk.type,
      diskSize: disk.size,
      vm: disk.vm,
      instanceId: disk.instanceId,
      regionId: disk.regionId,
      createdAt: now,
      doneAt: now + this.scaled(this.snapshotMs),
    };
    this.snapshots.push(s);
    if (input.clientToken) this.tokens.set(input.clientToken, s);
    return s;
  }

  listSnapshots(): SimSnapshot[] {
    return [...this.snapshots];
  }

  snapshotStatus(s: SimSnapshot): { status: 'progressing' | 'accomplished'; progress: number } {
    const now = this.controller.now();
    if (now >= s.doneAt) return { status: 'accomplished', progress: 100 };
    const span = Math.max(1, s.doneAt - s.createdAt);
    return { status: 'progressing', progress: Math.min(99, Math.floor(((now - s.createdAt) / span) * 100)) };
  }

  imageOf(vm: SimVm): string {
    return this.images.get(vm.name) ?? `img-${hash(vm.id, 'image').slice(0, 8)}`;
  }

  latestReset(vm: SimVm): SimReset | undefined {
    return this.resets.filter((r) => r.vm === vm.name).pop();
  }

  resetInstance(vm: SimVm, region: string, imageId: string | undefined, requestId: string): SimReset {
    const now = this.controller.now();
    const previousImageId = this.imageOf(vm);
    const r: SimReset = {
      requestId,
      vm: vm.name,
      instanceId: tencentInstanceId(vm),
      region,
      imageId: imageId ?? previousImageId,
      previousImageId,
      at: now,
      doneAt: now + this.scaled(this.resetMs),
    };
    this.images.set(vm.name, r.imageId);
    this.resets.push(r);
    return r;
  }

  resetState(r: SimReset): 'OPERATING' | 'SUCCESS' {
    return this.controller.now() >= r.doneAt ? 'SUCCESS' : 'OPERATING';
  }

  listResets(): SimReset[] {
    return [...this.resets];
  }

  setFaults(faults: CloudFault[]): void {
    this.faults = faults.map((f) => ({ ...f }));
  }

  listFaults(): CloudFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** The fault this call meets, if any; a counted fault is used up by it. */
  faultFor(api: CloudApi, action: string): CloudFaultKind | undefined {
    const i = this.faults.findIndex((f) => f.api === api && (f.action === undefined || f.action === action));
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (f.after) {
      f.after -= 1;
      return undefined;
    }
    if (f.count !== undefined && --f.count <= 0) this.faults.splice(i, 1);
    return f.kind;
  }

  view() {
    return {
      snapshots: this.snapshots.map((s) => ({
        cloud: s.cloud,
        snapshotId: s.snapshotId,
        name: s.name,
        diskId: s.diskId,
        diskType: s.diskType,
        vm: s.vm,
        instanceId: s.instanceId,
        tags: s.tags,
        ...this.snapshotStatus(s),
        createdAt: toIso(s.createdAt),
      })),
      resets: this.resets.map((r) => ({
        requestId: r.requestId,
        vm: r.vm,
        instanceId: r.instanceId,
        region: r.region,
        imageId: r.imageId,
        previousImageId: r.previousImageId,
        state: this.resetState(r),
        at: toIso(r.at),
      })),
    };
  }

  /** POST /sim/reset: snapshots, reinstalls and faults go; disk counts and keys are config and stay. */
  reset(): void {
    this.snapshots.length = 0;
    this.resets.length = 0;
    this.tokens.clear();
    this.images.clear();
    this.faults = [];
  }
}
