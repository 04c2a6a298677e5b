// Assembles the simulator: controller, fault injector, rate limiter, metadata routes (per VM
// and default), control API and OpenAPI document, on one Fastify server.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { LoggerOptions } from 'pino';
import { parseDuration } from '../core/time.js';
import { installJsonErrors, reasonOf } from '../http/errors.js';
import { azureMetadataRoutes } from './azure-metadata.js';
import { cloudMetadataRoutes, type CloudMetadataContext } from './cloud-metadata.js';
import { cloudApiRoutes, cloudControlRoutes } from './cloud-apis.js';
import { CloudInventory, type CloudApi, type CloudKey } from './cloud-inventory.js';
import { CloudPusher } from './cloud-pushes.js';
import { TokenStore } from './imds-tokens.js';
import { controlRoutes, type ControlContext } from './control-api.js';
import { Controller, type ApprovalMode } from './controller.js';
import { FaultInjector } from './faults.js';
import { SimError } from './fleet.js';
import { RateLimiter } from './rate-limit.js';
import { RequestLog } from './request-log.js';
import { ScenarioPlayer } from './scenario.js';

export interface SimulatorOptions {
  timeScale?: number;
  /** Requests per second per VM before 429; 0 = off. Default 5, as IMDS. */
  rateLimit?: number;
  etag?: boolean;
  /** Reject StartRequests for unknown or foreign EventIds with 400 instead of ignoring them. */
  strictApprovals?: boolean;
  /** First-call delay of Scheduled Events per VM (cloud time). Off by default. */
  enableDelay?: string | number;
  defaultVm?: string;
  defaultApproval?: ApprovalMode;
  logger?: boolean | LoggerOptions;
  now?: () => number;
  random?: () => number;
  /** Access keys the ECS and CVM APIs accept; default SIM_CLOUD_KEYS. */
  cloudKeys?: Partial<Record<CloudApi, CloudKey[]>>;
}

export interface Simulator {
  app: FastifyInstance;
  controller: Controller;
  faults: FaultInjector;
  player: ScenarioPlayer;
  context: ControlContext;
  /** Disks, snapshots, reinstalls and faults of the simulated control-plane APIs. */
  cloud: CloudInventory;
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

export async function createSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const controller = new Controller({
    now: options.now,
    timeScale: options.timeScale,
    defaultApproval: options.defaultApproval,
  });
  const faults = new FaultInjector(options.random);
  const closing = new AbortController();
  const metadata: CloudMetadataContext = {
    controller,
    tokens: new TokenStore(controller.now),
    faults,
    limiter: new RateLimiter(options.rateLimit ?? 5, controller.now),
    log: new RequestLog(),
    etag: options.etag ?? false,
    strictApprovals: options.strictApprovals ?? false,
    enableDelayMs: options.enableDelay === undefined ? 0 : parseDuration(options.enableDelay),
    enabled: new Set(),
    defaultVm: options.defaultVm,
    closing: closing.signal,
  };
  const player = new ScenarioPlayer(controller, faults);
  const pusher = new CloudPusher(controller);
  const cloud = new CloudInventory(controller, options.cloudKeys);
  const context: ControlContext = Object.assign(metadata, { player, pusher, cloud });

  const app = Fastify({
    logger: options.logger ?? false,
    // Agents poll every second: per-request logs would drown the events worth reading.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    // Hung (fault-injected) and keep-alive connections must not hold up a close.
    forceCloseConnections: true,
    // verbose: each error carries its schema, so a union's error can list what the union accepts.
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, verbose: true },
    },
  });

  installJsonErrors(app, {
    label: 'simulator',
    special: (err, _request, reply) => {
      if (!(err instanceof SimError)) return false;
      void reply.code(err.statusCode).send({ error: reasonOf(err.statusCode), message: err.message });
      return true;
    },
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'forewarn simulator control API',
        version: '1',
        description: 'Drive the simulated cloud. Metadata endpoints are documented in docs/simulator.md.',
      },
    },
  });
  await app.register(azureMetadataRoutes(metadata));
  await app.register(azureMetadataRoutes(metadata), { prefix: '/vm/:vm' });
  await app.register(cloudMetadataRoutes(metadata));
  await app.register(cloudMetadataRoutes(metadata), { prefix: '/vm/:vm' });
  await app.register(controlRoutes(context), { prefix: '/sim' });
  await app.register(cloudControlRoutes(cloud), { prefix: '/sim' });
  await app.register(cloudApiRoutes(cloud));
  app.get('/sim/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.addHook('preClose', async () => {
    closing.abort();
    controller.stop();
    player.stop();
  });

  controller.on('activity', (a, reason: string) =>
    app.log.info(
      { eventId: a.eventId, type: a.type, status: a.status, resources: a.resources, reason },
      'event',
    ),
  );

  return {
    app,
    controller,
    faults,
    player,
    context,
    cloud,
    async listen(port = 0, host = '127.0.0.1') {
      await app.listen({ port, host });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('simulator has no TCP address');
      return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
    },
    async close() {
      await app.close();
    },
  };
}
