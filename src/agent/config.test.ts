// Agent config: defaults, file < env < flags, and a bad value fails naming its path.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentConfigSchema, ConfigError, loadAgentConfig, POLL_FLOOR_MS } from './config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'forewarn-config-'));
  dirs.push(d);
  return d;
}

function file(text: string, name = 'agent.yaml'): string {
  const path = join(tmp(), name);
  writeFileSync(path, text);
  return path;
}

/** The ConfigError message of a load that must fail. */
function configError(
  path: string | undefined,
  env: NodeJS.ProcessEnv = {},
  overrides: Record<string, unknown> = {},
): string {
  try {
    loadAgentConfig(path, env, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError, the config loaded');
}

const HUB = { 'hub.url': 'http://hub.example:8080', 'hub.token': 'secret' };

describe('loadAgentConfig: defaults', () => {
  it('with no file, no env and no flags', () => {
    expect(loadAgentConfig(undefined, {}, {})).toEqual({
      vm: undefined,
      stateDir: './data/agent',
      provider: 'azure',
      source: {},
      metadataUrl: 'http://169.254.169.254',
      apiVersion: '2020-07-01',
      metadataTimeoutMs: 5000,
      scheduledEvents: true,
      legacy: false,
      pollIntervalMs: 1000,
      maxBackoffMs: 30_000,
      hub: undefined,
      eventGrid: undefined,
      outboxLimit: 10_000,
      batch: 100,
      syslog: undefined,
      hooks: [],
      logLevel: 'info',
    });
  });

  it('an empty file is the defaults too', () => {
    expect(loadAgentConfig(file(''), {}, {})).toEqual(loadAgentConfig(undefined, {}, {}));
    expect(loadAgentConfig(file('# only a comment\n'), {}, {}).pollIntervalMs).toBe(1000);
  });

  it('hub and hook defaults', () => {
    const c = loadAgentConfig(
      file('hub:\n  url: https://hub:8443\n  token: t\nhooks:\n  - name: drain\n    command: [/bin/true]\n'),
      {},
    );
    expect(c.hub).toEqual({
      url: 'https://hub:8443',
      token: 't',
      heartbeatMs: 30_000,
      timeoutMs: 10_000,
      commands: true,
    });
    expect(c.hooks).toEqual([
      {
        name: 'drain',
        command: ['/bin/true'],
        timeoutMs: 60_000,
        on: { transitions: ['scheduled'] },
        remote: false,
        env: undefined,
      },
    ]);
  });

  it('the shipped example config is valid', () => {
    const c = loadAgentConfig(
      join(import.meta.dirname, '../../deploy/agent.example.yaml'),
      {},
      {
        'hub.token': 'x', // the example points at a token file that does not exist here
      },
    );
    expect(c.pollIntervalMs).toBe(1000);
    expect(c.hub?.url).toMatch(/^https:/);
    expect(c.hooks.map((h) => h.name)).toEqual(['drain', 'graceful-shutdown']);
  });
});

describe('loadAgentConfig: file, env and flags', () => {
  const yaml = [
    'vm: from-file',
    'stateDir: /var/lib/file',
    'poll:',
    '  interval: 5s',
    '  maxBackoff: 2m',
    'metadata:',
    '  url: http://file:1',
    '  timeout: 750ms',
    'hub:',
    '  url: http://file-hub:1',
    '  token: file-token',
    '  heartbeat: PT1M',
    'log:',
    '  level: warn',
  ].join('\n');

  it('reads every value of the file, durations in any format', () => {
    const c = loadAgentConfig(file(yaml), {});
    expect(c).toMatchObject({
      vm: 'from-file',
      stateDir: '/var/lib/file',
      pollIntervalMs: 5000,
      maxBackoffMs: 120_000,
      metadataUrl: 'http://file:1',
      metadataTimeoutMs: 750,
      hub: { url: 'http://file-hub:1', token: 'file-token', heartbeatMs: 60_000 },
      logLevel: 'warn',
    });
  });

  it('env beats the file, flags beat env; unset and empty ones change nothing', () => {
    const path = file(yaml);
    const env = {
      FOREWARN_POLL_INTERVAL: '2s',
      FOREWARN_VM: 'from-env',
      FOREWARN_HUB_TOKEN: 'env-token',
      FOREWARN_METADATA_URL: '', // empty: ignored
      UNRELATED: 'x',
    };
    const flags = { 'poll.interval': '300ms', vm: undefined, 'log.level': 'debug' };
    const c = loadAgentConfig(path, env, flags);
    expect(c.pollIntervalMs).toBe(300); // flag > env > file
    expect(c.vm).toBe('from-env'); // env > file; an undefined flag is "not given"
    expect(c.hub).toMatchObject({ url: 'http://file-hub:1', token: 'env-token' }); // merged, not replaced
    expect(c.metadataUrl).toBe('http://file:1');
    expect(c.logLevel).toBe('debug');
    expect(c.stateDir).toBe('/var/lib/file');
    expect(loadAgentConfig(path, env, {}).pollIntervalMs).toBe(2000);
    expect(loadAgentConfig(path, {}, {}).pollIntervalMs).toBe(5000);
  });

  it('env and flags alone make a complete config', () => {
    const c = loadAgentConfig(
      undefined,
      { FOREWARN_HUB_URL: 'http://hub:1', FOREWARN_HUB_TOKEN: 't', FOREWARN_STATE_DIR: '/tmp/x' },
      { 'metadata.legacy': true, 'metadata.scheduledEvents': false, 'outbox.limit': 50 },
    );
    expect(c).toMatchObject({
      hub: { url: 'http://hub:1', token: 't' },
      stateDir: '/tmp/x',
      legacy: true,
      scheduledEvents: false,
      outboxLimit: 50,
    });
  });

  it('reads tokenFile and trims it; an inline token wins over the file', () => {
    const tokenFile = join(tmp(), 'agent.token');
    writeFileSync(tokenFile, '  s3cret-token\n\n');
    const c = loadAgentConfig(undefined, {}, { 'hub.url': 'http://hub:1', 'hub.tokenFile': tokenFile });
    expect(c.hub?.token).toBe('s3cret-token');
    const viaEnv = loadAgentConfig(
      undefined,
      { FOREWARN_HUB_TOKEN_FILE: tokenFile },
      { 'hub.url': 'http://h:1' },
    );
    expect(viaEnv.hub?.token).toBe('s3cret-token');
    const both = loadAgentConfig(
      undefined,
      {},
      { 'hub.url': 'http://h:1', 'hub.tokenFile': tokenFile, 'hub.token': 'inline' },
    );
    expect(both.hub?.token).toBe('inline');
  });

  it('reads the Event Grid key from keyFile', () => {
    const keyFile = join(tmp(), 'eg.key');
    writeFileSync(keyFile, 'sas-key\n');
    const c = loadAgentConfig(
      undefined,
      {},
      { 'eventGrid.endpoint': 'https://t/api/events', 'eventGrid.keyFile': keyFile },
    );
    expect(c.eventGrid).toEqual({ endpoint: 'https://t/api/events', key: 'sas-key', timeoutMs: 10_000 });
  });

  it(`accepts the ${POLL_FLOOR_MS} ms floor itself`, () => {
    expect(loadAgentConfig(undefined, {}, { 'poll.interval': `${POLL_FLOOR_MS}ms` }).pollIntervalMs).toBe(
      POLL_FLOOR_MS,
    );
  });
});

describe('loadAgentConfig: errors name the field', () => {
  it('an unknown field, at the top level and nested', () => {
    const top = file('pollInterval: 1s\n');
    expect(configError(top)).toBe(`config ${top}: /pollInterval: unknown field`);
    expect(configError(file('poll:\n  intervall: 1s\n'))).toMatch(/: \/poll\/intervall: unknown field$/);
    expect(configError(file('hooks:\n  - name: a\n    command: [x]\n    when: now\n'))).toMatch(
      /\/hooks\/0\/when: unknown field/,
    );
  });

  it('a wrong type', () => {
    expect(configError(file('poll:\n  interval: 5\n'))).toMatch(/\/poll\/interval: .*string/i);
    expect(configError(file('metadata:\n  legacy: "yes"\n'))).toMatch(/\/metadata\/legacy: .*boolean/i);
    expect(configError(file('hooks:\n  - name: a\n    command: /bin/true\n'))).toMatch(/\/hooks\/0\/command/);
    expect(configError(file('outbox:\n  limit: 5\n'))).toMatch(/\/outbox\/limit/);
    expect(configError(file('metadata:\n  url: ftp://x\n'))).toMatch(/\/metadata\/url/);
  });

  it('an enum value lists the allowed ones', () => {
    expect(configError(undefined, { FOREWARN_LOG_LEVEL: 'loud' })).toMatch(
      /\/log\/level: must be one of fatal, error, warn, info, debug, trace, silent/,
    );
    expect(configError(file('syslog:\n  transport: carrier-pigeon\n'))).toMatch(
      /\/syslog\/transport: must be one of/,
    );
  });

  it('a bad duration, wherever it is', () => {
    expect(configError(file('poll:\n  interval: soon\n'))).toMatch(/\/poll\/interval: invalid time "soon"/);
    expect(configError(undefined, { FOREWARN_POLL_INTERVAL: '5 parsecs' })).toMatch(/\/poll\/interval/);
    expect(configError(file('metadata:\n  timeout: 1x\n'))).toMatch(/\/metadata\/timeout/);
    expect(configError(undefined, {}, { ...HUB, 'hub.heartbeat': 'often' })).toMatch(/\/hub\/heartbeat/);
    expect(
      configError(
        file('hooks:\n  - name: a\n    command: [x]\n  - name: b\n    command: [x]\n    timeout: 1y\n'),
      ),
    ).toMatch(/\/hooks\/1\/timeout/);
  });

  it(`a poll interval below the ${POLL_FLOOR_MS} ms floor`, () => {
    expect(configError(undefined, {}, { 'poll.interval': '10ms' })).toBe(
      `config: /poll/interval: 10 ms is below the ${POLL_FLOOR_MS} ms floor`,
    );
    expect(configError(file('poll:\n  interval: 199ms\n'))).toMatch(/\/poll\/interval: 199 ms/);
  });

  it('hub and eventGrid both set', () => {
    expect(
      configError(
        undefined,
        {},
        { ...HUB, 'eventGrid.endpoint': 'https://t/api/events', 'eventGrid.key': 'k' },
      ),
    ).toMatch(/\/eventGrid: choose hub or eventGrid, not both/);
  });

  it('a missing token or key, and an unreadable tokenFile', () => {
    expect(configError(undefined, {}, { 'hub.url': 'http://hub:1' })).toMatch(
      /\/hub\/token: required \(or tokenFile\)/,
    );
    expect(configError(undefined, {}, { 'eventGrid.endpoint': 'https://t/api/events' })).toMatch(
      /\/eventGrid\/key: required \(or keyFile\)/,
    );
    const missing = join(tmp(), 'no-such.token');
    expect(configError(undefined, {}, { 'hub.url': 'http://hub:1', 'hub.tokenFile': missing })).toMatch(
      new RegExp(`/hub/tokenFile: cannot read ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
    );
    // A token with no hub url names the url.
    expect(configError(undefined, { FOREWARN_HUB_TOKEN: 't' })).toMatch(/\/hub\/url/);
  });

  it('syslog unix without path, udp/tcp without port', () => {
    expect(configError(file('syslog:\n  transport: unix\n'))).toMatch(
      /\/syslog\/path: required for the unix/,
    );
    expect(configError(file('syslog:\n  transport: udp\n  host: 127.0.0.1\n'))).toMatch(/\/syslog\/port/);
    expect(configError(file('syslog:\n  transport: tcp\n'))).toMatch(/\/syslog\/port/);
  });

  it('duplicate hook names name the second one', () => {
    const text =
      'hooks:\n  - name: drain\n    command: [a]\n  - name: other\n    command: [b]\n  - name: drain\n    command: [c]\n';
    expect(configError(file(text))).toMatch(/\/hooks\/2\/name: drain is defined twice/);
  });

  it('both sources disabled', () => {
    expect(configError(undefined, {}, { 'metadata.scheduledEvents': false })).toMatch(/\/metadata: enable/);
  });

  it('a top level that is not a mapping', () => {
    for (const text of ['- a\n- b\n', 'just a string\n', '42\n']) {
      const path = file(text);
      expect(configError(path)).toBe(`config ${path}: the top level must be a mapping`);
    }
  });

  it('invalid YAML names the file and the position', () => {
    const path = file('poll:\n  interval: [1s\n');
    expect(configError(path)).toMatch(new RegExp(`^config ${path} is not valid YAML: .*line`, 's'));
    expect(configError(file('vm: a\nvm: b\n'))).toMatch(/not valid YAML/); // duplicate keys
  });

  it('an unreadable or missing file', () => {
    const missing = join(tmp(), 'nope.yaml');
    expect(configError(missing)).toMatch(new RegExp(`^cannot read config ${missing}: .*ENOENT`));
    expect(configError(tmp())).toMatch(/^cannot read config .*EISDIR/);
    if (process.getuid?.() !== 0) {
      const locked = file('vm: a\n');
      chmodSync(locked, 0o000);
      expect(configError(locked)).toMatch(/^cannot read config .*EACCES/);
    }
  });

  it('the schema is a published JSON Schema with an id', () => {
    expect(AgentConfigSchema.$id).toBe('https://forewarn.dev/schemas/agent-config.json');
    expect(AgentConfigSchema.additionalProperties).toBe(false);
  });
});

describe('loadAgentConfig: source', () => {
  it('picks each cloud, its default metadata URL and its options', () => {
    const aws = loadAgentConfig(
      file('source:\n  provider: aws\n  tokenTtl: 1h\n  v1Fallback: true\n'),
      {},
      {},
    );
    expect(aws).toMatchObject({
      provider: 'aws',
      metadataUrl: 'http://169.254.169.254',
      source: { tokenTtlSeconds: 3600, v1Fallback: true },
      scheduledEvents: false,
      legacy: false,
    });
    const gcp = loadAgentConfig(undefined, { FOREWARN_PROVIDER: 'gcp' }, { 'source.longPoll': '30s' });
    expect(gcp).toMatchObject({
      provider: 'gcp',
      metadataUrl: 'http://metadata.google.internal',
      source: { longPollSeconds: 30 },
    });
    expect(loadAgentConfig(undefined, {}, { 'source.provider': 'alibaba' }).metadataUrl).toBe(
      'http://100.100.100.200',
    );
    expect(loadAgentConfig(undefined, {}, { 'source.provider': 'tencent' }).metadataUrl).toBe(
      'http://metadata.tencentyun.com',
    );
    expect(loadAgentConfig(undefined, {}, { 'source.provider': 'azure-legacy' })).toMatchObject({
      legacy: true,
      scheduledEvents: false,
    });
  });

  it.each([
    ['an unknown cloud', 'source:\n  provider: oracle\n', /\/source\/provider/],
    ['no provider', 'source:\n  tokenTtl: 1h\n', /\/source.*provider/],
    [
      'an option of another cloud',
      'source:\n  provider: tencent\n  longPoll: 30s\n',
      /\/source\/longPoll: only for provider gcp, not tencent/,
    ],
    [
      'a TTL above 6h',
      'source:\n  provider: aws\n  tokenTtl: 7h\n',
      /\/source\/tokenTtl: whole seconds from 1 to 21600/,
    ],
    ['a bad duration', 'source:\n  provider: gcp\n  longPoll: soon\n', /\/source\/longPoll/],
    [
      'an Azure metadata option on AWS',
      'source:\n  provider: aws\nmetadata:\n  apiVersion: 2020-07-01\n',
      /\/metadata\/apiVersion: only for provider azure/,
    ],
    ['an unknown field', 'source:\n  provider: aws\n  region: x\n', /\/source\/region/],
  ])('refuses %s, naming the field', (_name, text, message) => {
    expect(configError(file(text))).toMatch(message);
  });
});
