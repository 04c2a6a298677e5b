// examples/original-setup is what docs/actions.md walks through: it must load, and its rules must
// send Azure events to the administrator and legacy ones to syslog.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/agent/config.js';
import { loadHubConfig } from '../../src/hub/config.js';
import { tempDir } from '../helpers/agent.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { maintenance } from '../helpers/hub-publish.js';

let h: TestHub | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('examples/original-setup', () => {
  it('loads, and routes Azure events to the admin mail and legacy ones to syslog', async () => {
    const secretFile = join(tempDir(), 'agent-secret');
    writeFileSync(secretFile, 'a-long-enough-agent-secret\n');
    const config = loadHubConfig(
      'examples/original-setup/hub.yaml',
      {},
      { 'auth.agentSecretFile': secretFile },
    );
    expect(config.rules).toHaveLength(2);
    h = await startHub({ rules: config.rules });
    const explain = async (provider: string, transition: string) => {
      const res = await h!.api(
        'POST',
        '/api/v1/rules/test',
        { event: maintenance('web-01', { provider }), transition },
        READER,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return Object.fromEntries(res.body.results.map((r: any) => [r.rule, r.matched]));
    };
    expect(await explain('azure', 'scheduled')).toEqual({ 'mail-admin': true, 'legacy-to-syslog': false });
    expect(await explain('azure-legacy', 'started')).toEqual({
      'mail-admin': false,
      'legacy-to-syslog': true,
    });
    const listed = await h.api('GET', '/api/v1/rules', undefined, READER);
    expect(listed.body.rules[0].steps[0].with.server.password).toEqual({ env: 'SMTP_PASSWORD' });
    expect(listed.body.rules[0].notify[0].on).toEqual(['completed']);
  });

  it('the agent config watches both endpoints', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'agent.token'), 'x'.repeat(32));
    const config = loadAgentConfig(
      'examples/original-setup/agent.yaml',
      {},
      {
        vm: 'web-01',
        stateDir: dir,
        'hub.tokenFile': join(dir, 'agent.token'),
      },
    ) as any;
    expect(config.metadata ?? config).toMatchObject({ legacy: true, scheduledEvents: true });
  });
});
