// The `transport: { kind: nats }` section on both sides: defaults, secrets from files, and the
// combinations refused by name.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../agent/config.js';
import { loadHubConfig } from '../hub/config.js';
import { tempDir } from '../../test/helpers/agent.js';
import { vmOfSubject } from './config.js';

const servers = ['nats://127.0.0.1:4222'];

describe('NATS transport config', () => {
  it('agent: defaults, and the password read from its file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pw'), 'secret-pw\n');
    const c = loadAgentConfig(
      undefined,
      {},
      {
        vm: 'web-01',
        transport: { kind: 'nats', servers, user: 'web-01', passwordFile: join(dir, 'pw') },
      },
    );
    expect(c.nats).toEqual({
      servers,
      stream: 'FOREWARN_EVENTS',
      user: 'web-01',
      password: 'secret-pw',
      creds: undefined,
      timeoutMs: 10_000,
      commands: true,
    });
  });

  it('agent: refuses hub-only keys, creds with a password, a password without a user, and Event Grid too', () => {
    const load =
      (transport: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      () =>
        loadAgentConfig(undefined, {}, { transport: { kind: 'nats', servers, ...transport }, ...extra });
    expect(load({ maxAckPending: 5 })).toThrow(/\/transport.*maxAckPending|must not have additional/);
    expect(load({ user: 'a', password: 'b', credsFile: '/x.creds' })).toThrow(/credsFile or user\/password/);
    expect(load({ password: 'b' })).toThrow(/\/transport\/user: required with a password/);
    expect(load({ servers: [] })).toThrow(/\/transport\/servers/);
    expect(load({ user: 'a', passwordFile: '/nonexistent/pw' })).toThrow(
      /\/transport\/passwordFile: cannot read/,
    );
    expect(load({}, { eventGrid: { endpoint: 'https://x', key: 'k' } })).toThrow(
      /NATS transport or eventGrid/,
    );
  });

  it('hub: defaults, durations, and a creds file relative to the config', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'hub.creds'), 'creds');
    writeFileSync(
      join(dir, 'hub.yaml'),
      `transport:\n  kind: nats\n  servers: ["${servers[0]}"]\n  credsFile: hub.creds\n  ackWait: 5s\n  maxAckPending: 8\n`,
    );
    const c = loadHubConfig(join(dir, 'hub.yaml'), {});
    expect(c.nats).toMatchObject({
      stream: 'FOREWARN_EVENTS',
      consumer: 'forewarn-hub',
      maxAckPending: 8,
      ackWaitMs: 5000,
      duplicateWindowMs: 120_000,
      maxAgeMs: 7 * 86_400_000,
      commands: true,
    });
    expect(Buffer.from(c.nats!.creds!).toString()).toBe('creds');
    expect(loadHubConfig(undefined, {}).nats).toBeUndefined();
    expect(() =>
      loadHubConfig(undefined, {}, { transport: { kind: 'nats', servers, ackWait: 'soon' } }),
    ).toThrow(/\/transport\/ackWait/);
    expect(() =>
      loadHubConfig(undefined, {}, { transport: { kind: 'nats', servers, stream: 'a.b' } }),
    ).toThrow(/\/transport\/stream/);
  });

  it('a subject names a VM only as one valid token', () => {
    expect(vmOfSubject('forewarn.events.web-01')).toBe('web-01');
    expect(vmOfSubject('forewarn.events.web.01')).toBeUndefined();
    expect(vmOfSubject('other.events.web-01')).toBeUndefined();
  });
});
