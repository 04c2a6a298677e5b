// Local responses with no hub at all: every transition reaches a real rsyslog, and a syslog
// outage delays lines without losing them.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAgent } from '../helpers/agent.js';
import { parseRecord, rsyslogSkipReason, startRsyslog, type TestRsyslog } from '../helpers/rsyslog.js';
import { startSim, type TestSim } from '../helpers/sim.js';

const skip = rsyslogSkipReason();
let rsyslog: TestRsyslog;
let t: TestSim;
let agent: ReturnType<typeof startAgent> | undefined;

describe.skipIf(skip)(`agent → real rsyslog${skip ? ` (skipped: ${skip})` : ''}`, () => {
  beforeAll(async () => {
    rsyslog = await startRsyslog();
  });
  afterAll(async () => {
    await rsyslog?.stop();
  });
  beforeEach(async () => {
    t = await startSim();
  });
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
    await t.close();
  });

  const forEvent = (eventId: string) => (line: string) => line.includes(eventId);

  it('writes each transition once, RFC 5424 with the event in structured data, no hub needed', async () => {
    agent = startAgent({
      vm: 'web-01',
      'metadata.url': `${t.url}/vm/web-01`,
      'syslog.transport': 'tcp',
      'syslog.port': rsyslog.tcpPort,
      'syslog.facility': 'local4',
    });
    const c = t.sim.controller;
    const [e] = c.schedule({ type: 'Reboot', targets: { vms: ['web-01'] }, notice: '15m' });
    const [sib] = c.schedule({ type: 'Freeze', targets: { vms: ['web-02'] } });
    await rsyslog.waitForLines(1, 15_000, forEvent(e!.eventId));
    c.start(e!.eventId);
    await rsyslog.waitForLines(2, 15_000, forEvent(e!.eventId));
    c.complete(e!.eventId);
    const lines = (await rsyslog.waitForLines(3, 15_000, forEvent(e!.eventId))).map(parseRecord);
    expect(lines.map((l) => [l.msgId, l.severity, l.facility])).toEqual([
      ['scheduled', 'warning', 'local4'],
      ['started', 'warning', 'local4'],
      ['completed', 'notice', 'local4'],
    ]);
    expect(lines[0]!.appName).toBe('forewarn-agent');
    expect(lines[0]!.structuredData).toContain(`eventId="${e!.eventId}"`);
    expect(lines[0]!.structuredData).toContain(`id="azure/${e!.eventId}/scheduled"`);
    expect(lines[0]!.msg).toMatch(
      /^reboot of web-01 scheduled, not before \d{4}-.*Z \(in 1[45]m(\d+s)?\): Host server/,
    );
    const sibling = (await rsyslog.waitForLines(1, 15_000, forEvent(sib!.eventId))).map(parseRecord);
    expect(sibling[0]).toMatchObject({ severity: 'info', msgId: 'scheduled' });
    expect(sibling[0]!.msg).toContain('sibling web-02 (seen from web-01)');
  });

  it('holds lines while rsyslog is down and writes them, in order, when it is back', async () => {
    agent = startAgent({
      vm: 'solo',
      'metadata.url': `${t.url}/vm/solo`,
      'syslog.transport': 'tcp',
      'syslog.port': rsyslog.tcpPort,
    });
    const c = t.sim.controller;
    const [warm] = c.schedule({ type: 'Freeze', targets: { vms: ['solo'] } });
    await rsyslog.waitForLines(1, 15_000, forEvent(warm!.eventId));
    await rsyslog.stopDaemon();
    const [e] = c.schedule({ type: 'Redeploy', targets: { vms: ['solo'] } });
    c.start(e!.eventId);
    await new Promise((r) => setTimeout(r, 600)); // a few polls while the receiver is gone
    await rsyslog.startDaemon();
    // TCP syslog has no acks: the one line written before the sender saw the receiver's FIN can be
    // lost (RELP would fix that). Every line after it is held and retried: `started` must arrive.
    const lines = (
      await rsyslog.waitForLines(1, 15_000, (l) => forEvent(e!.eventId)(l) && l.includes('"msgId":"started"'))
    ).map(parseRecord);
    expect(lines).toHaveLength(1);
    const all = (await rsyslog.readLines()).filter(forEvent(e!.eventId)).map((l) => parseRecord(l).msgId);
    expect(all.at(-1)).toBe('started');
    expect(all.filter((m) => m === 'started')).toHaveLength(1);
  });
});
