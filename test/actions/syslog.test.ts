// The syslog action against a real rsyslogd (test/helpers/rsyslog.ts): each transport, both
// formats, facility/severity per event type, and the event id in structured data.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSyslogAction } from '../../src/actions/syslog.js';
import { actionContext, eventRow } from '../helpers/action-context.js';
import { parseRecord, rsyslogSkipReason, startRsyslog, type TestRsyslog } from '../helpers/rsyslog.js';

const skip = rsyslogSkipReason();

describe.skipIf(skip !== undefined)(
  `syslog action against rsyslogd${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let rs: TestRsyslog;
    const action = createSyslogAction();
    beforeAll(async () => {
      rs = await startRsyslog();
    }, 30_000);
    afterAll(async () => {
      await action.close?.();
      await rs?.stop();
    });

    const target = (transport: string) =>
      transport === 'unix'
        ? { transport, path: rs.unixPath }
        : { transport, host: '127.0.0.1', port: transport === 'udp' ? rs.udpPort : rs.tcpPort };

    it.each([
      ['udp', 'imudp'],
      ['tcp', 'imtcp'],
      ['unix', 'imptcp'],
    ])(
      'RFC 5424 over %s: facility/severity by event type, the event id in structured data',
      async (transport, input) => {
        const params = {
          ...target(transport),
          facility: 'local2',
          severity: 'notice',
          byType: { reboot: { severity: 'warning' }, terminate: { facility: 'local5', severity: 'crit' } },
          hostname: 'hub-01',
        };
        action.validate(params);
        const reboot = eventRow({ type: 'reboot', description: 'Host update' });
        const terminate = eventRow({ type: 'terminate' });
        for (const event of [reboot, terminate]) {
          const r = await action.run(actionContext({ event, vm: 'web-01' }), params);
          expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
        }
        const lines = (
          await rs.waitForLines(2, 10_000, (l) => l.includes(reboot.eventId) || l.includes(terminate.eventId))
        ).map(parseRecord);
        const r1 = lines.find((l) => l.raw.includes(reboot.eventId))!;
        const r2 = lines.find((l) => l.raw.includes(terminate.eventId))!;
        expect(r1).toMatchObject({
          input,
          facility: 'local2',
          severity: 'warning',
          hostname: 'hub-01',
          appName: 'forewarn',
          msgId: 'scheduled',
        });
        expect(r1.structuredData).toContain(`[forewarn@32473 eventId="${reboot.eventId}"`);
        expect(r1.structuredData).toContain('vm="web-01"');
        expect(r1.msg).toMatch(
          /^reboot of web-01 scheduled, NotBefore \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(in 1[45]m\d*s?\), platform: Host update$/,
        );
        expect(r2).toMatchObject({ facility: 'local5', severity: 'crit' });
      },
    );

    it('RFC 3164 for old receivers, with a custom message template', async () => {
      const params = {
        ...target('tcp'),
        format: 'rfc3164',
        message: 'MAINT {{vm}} {{type}} {{eventId}}',
        appName: 'maint',
      };
      action.validate(params);
      const event = eventRow({ type: 'freeze' });
      expect((await action.run(actionContext({ event, vm: 'db-01' }), params)).ok).toBe(true);
      const [line] = (await rs.waitForLines(1, 10_000, (l) => l.includes(event.eventId))).map(parseRecord);
      expect(line!.raw).toMatch(
        /^<133>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ maint: scheduled MAINT db-01 freeze \S+ \[forewarn@32473 eventId=/,
      );
      expect(line).toMatchObject({ appName: 'maint', facility: 'local0', severity: 'notice' });
    });

    it('a receiver that is not there is a retryable failure (tcp, unix)', async () => {
      const tcp = await action.run(actionContext(), { transport: 'tcp', host: '127.0.0.1', port: 1 });
      expect(tcp).toMatchObject({ ok: false, retryable: true });
      const unix = await action.run(actionContext(), { transport: 'unix', path: `${rs.dir}/nobody.sock` });
      expect(unix).toMatchObject({ ok: false, retryable: true });
    });
  },
);

describe('syslog action config', () => {
  it.each([
    ['no host', { transport: 'udp' }, /host/],
    ['unix without path', { transport: 'unix' }, /path/],
    [
      'a bad transport',
      { transport: 'carrier-pigeon', host: 'x' },
      /transport must be one of udp, tcp, unix/,
    ],
    ['a bad facility', { host: 'x', facility: 'local9' }, /facility must be one of/],
    [
      'a bad per-type severity',
      { host: 'x', byType: { reboot: { severity: 'loud' } } },
      /byType\/reboot\/severity/,
    ],
    ['a bad template', { host: 'x', message: '{{nope}}' }, /message: unknown placeholder/],
  ])('refuses %s', (_n, params, message) => {
    expect(() => createSyslogAction().validate(params)).toThrow(message);
  });
});
