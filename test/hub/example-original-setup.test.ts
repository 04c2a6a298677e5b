// examples/original-setup is what docs/actions.md walks through: it must load, and its rules must
// send Azure events to the administrator and legacy ones to syslog.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/agent/config.js';
import { loadHubConfig } from '../../src/hub/config.js';
import { startMailCapture, type MailCapture } from '../../src/hub/mail-capture.js';
import { tempDir } from '../helpers/agent.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { parseRecord, rsyslogSkipReason, startRsyslog, type TestRsyslog } from '../helpers/rsyslog.js';
import { selfSignedCert } from '../helpers/tls.js';

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

const skip = rsyslogSkipReason();

describe.skipIf(skip !== undefined)(
  `examples/original-setup end to end${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let rs: TestRsyslog | undefined;
    let smtp: MailCapture | undefined;
    afterEach(async () => {
      await rs?.stop();
      await smtp?.close();
      rs = smtp = undefined;
    });

    it('mails the administrator over STARTTLS with a login, and writes legacy events to rsyslog', async () => {
      const tls = selfSignedCert();
      rs = await startRsyslog();
      smtp = await startMailCapture({ tls, users: { 'forewarn@example.com': 'from-the-env' } });
      process.env.SMTP_PASSWORD = 'from-the-env';
      const secretFile = join(tempDir(), 'agent-secret');
      writeFileSync(secretFile, 'a-long-enough-agent-secret\n');
      const config = loadHubConfig(
        'examples/original-setup/hub.yaml',
        {},
        { 'auth.agentSecretFile': secretFile },
      );
      // Point the example's SMTP server and syslog receiver at the real ones this test started.
      const [mailRule, syslogRule] = config.rules as any[];
      const server = mailRule.steps[0].with.server;
      Object.assign(server, { host: '127.0.0.1', port: smtp.port, caFile: tls.certFile });
      mailRule.steps[0].with.groupWait = '1s';
      syslogRule.steps[0].with.port = rs.tcpPort;
      h = await startHub({ rules: config.rules });

      const azure = maintenance('web-01');
      const legacy = maintenance('web-02', { provider: 'azure-legacy' });
      for (const data of [azure, legacy]) {
        const res = await publishOne(h, h.agentToken(data.vm), cloudEvent(data));
        expect(res.status, res.text).toBe(200);
      }
      const [mail] = await smtp.waitFor(1);
      expect(mail).toMatchObject({ secure: true, user: 'forewarn@example.com', to: ['admin@example.com'] });
      expect(mail!.subject).toMatch(/^\[forewarn\] reboot of web-01 scheduled, NotBefore /);
      expect(mail!.text).toMatch(/\((Europe\/Berlin)\)/);
      const [line] = (await rs.waitForLines(1, 10_000, (l) => l.includes(legacy.eventId))).map(parseRecord);
      expect(line).toMatchObject({
        input: 'imtcp',
        facility: 'local3',
        severity: 'warning',
        appName: 'forewarn',
      });
      expect(line!.structuredData).toContain(`eventId="${legacy.eventId}"`);
      expect(smtp.list()).toHaveLength(1); // the legacy event was not mailed
    }, 30_000);
  },
);
