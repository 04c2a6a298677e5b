// SyslogSender against a real rsyslogd: every transport and format, ordering, multi-byte text,
// and a receiver restart mid-stream.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyslogError, SyslogSender, type SyslogSenderOptions } from '../../src/agent/syslog.js';
import type { SyslogMessage } from '../../src/core/syslog-format.js';
import { parseRecord, rsyslogSkipReason, startRsyslog, type TestRsyslog } from '../helpers/rsyslog.js';

const skip = rsyslogSkipReason();
const SD_ID = 'forewarn@32473';

/** Polls `cond` until true, at most `timeoutMs`. */
async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() >= deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
}

function message(eventId: string, overrides: Partial<SyslogMessage> = {}): SyslogMessage {
  return {
    facility: 'local3',
    severity: 'warning',
    timestamp: new Date('2024-03-05T07:08:09.012Z'),
    hostname: 'web-01',
    appName: 'forewarn',
    procId: '4242',
    msgId: 'scheduled',
    structuredData: { [SD_ID]: { eventId, type: 'reboot', note: 'say "hi" \\o/ [x]' } },
    message: `reboot scheduled for web-01 (${eventId})`,
    ...overrides,
  };
}

const ESCAPED_NOTE = 'note="say \\"hi\\" \\\\o/ [x\\]"';

describe.skipIf(skip !== undefined)(
  `SyslogSender against a real rsyslogd${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    let rs: TestRsyslog;
    const senders: SyslogSender[] = [];

    beforeAll(async () => {
      rs = await startRsyslog();
    }, 30_000);

    afterAll(async () => {
      await Promise.all(senders.map((s) => s.close()));
      await rs?.stop();
    });

    function sender(opts: SyslogSenderOptions): SyslogSender {
      const s = new SyslogSender({
        host: '127.0.0.1',
        port: opts.transport === 'udp' ? rs.udpPort : rs.tcpPort,
        path: opts.transport === 'logger' ? rs.dgramPath : rs.unixPath,
        ...opts,
      });
      senders.push(s);
      return s;
    }

    const withId = (id: string) => (line: string) => line.includes(id);
    const INPUT = { udp: 'imudp', tcp: 'imtcp', unix: 'imptcp' } as const;

    for (const transport of ['udp', 'tcp', 'unix'] as const) {
      it(`${transport} rfc5424: PRI, header fields, structured data with the event id`, async () => {
        const s = sender({ transport, format: 'rfc5424' });
        const eventId = `E-${randomUUID()}`;
        await s.send(message(eventId));
        await s.send(
          message(eventId, { facility: 'daemon', severity: 'err', msgId: 'started', procId: undefined }),
        );
        const records = (await rs.waitForLines(2, 5000, withId(eventId))).map(parseRecord);
        const first = records.find((r) => r.msgId === 'scheduled')!;
        const second = records.find((r) => r.msgId === 'started')!;
        expect(first).toMatchObject({
          pri: '156',
          facility: 'local3',
          severity: 'warning',
          hostname: 'web-01',
          appName: 'forewarn',
          procId: '4242',
          msgId: 'scheduled',
          structuredData: `[${SD_ID} eventId="${eventId}" type="reboot" ${ESCAPED_NOTE}]`,
          msg: `reboot scheduled for web-01 (${eventId})`,
          input: INPUT[transport],
        });
        expect(first.timestamp).toMatch(/^2024-03-05T07:08:09\.012(Z|\+00:00)$/);
        expect(first.raw).toMatch(/^<156>1 2024-03-05T07:08:09\.012Z web-01 forewarn 4242 scheduled \[/);
        expect(second).toMatchObject({ pri: '27', facility: 'daemon', severity: 'err', procId: '-' });
      });

      it(`${transport} rfc3164: PRI, tag[pid], structured data appended to the message`, async () => {
        const s = sender({ transport, format: 'rfc3164' });
        const eventId = `E-${randomUUID()}`;
        const now = new Date();
        await s.send(message(eventId, { timestamp: now, facility: 'user', severity: 'notice' }));
        const [record] = (await rs.waitForLines(1, 5000, withId(eventId))).map(parseRecord);
        expect(record).toMatchObject({
          pri: '13',
          facility: 'user',
          severity: 'notice',
          hostname: 'web-01',
          appName: 'forewarn',
          procId: '4242',
          msgId: '-',
          structuredData: '-',
          input: INPUT[transport],
        });
        // rsyslog keeps the space after "TAG:" in MSG for RFC 3164.
        expect(record!.msg.trim()).toBe(
          `scheduled reboot scheduled for web-01 (${eventId}) [${SD_ID} eventId="${eventId}" type="reboot" ${ESCAPED_NOTE}]`,
        );
        expect(record!.raw).toMatch(
          /^<13>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d web-01 forewarn\[4242\]: scheduled /,
        );
      });

      it(`${transport}: a message with multi-byte characters arrives intact, and so does the next`, async () => {
        const s = sender({ transport });
        const eventId = `E-${randomUUID()}`;
        const text = `Wartung für web-01: Neustart ✓ 😀 — ${eventId}`;
        await s.send(
          message(eventId, { message: text, structuredData: { [SD_ID]: { eventId, who: 'Zoë' } } }),
        );
        await s.send(message(eventId, { message: `after ${eventId}`, msgId: 'after' }));
        const records = (await rs.waitForLines(2, 5000, withId(eventId))).map(parseRecord);
        expect(records.map((r) => r.msg).sort()).toEqual([`after ${eventId}`, text].sort());
        expect(records.find((r) => r.msg === text)!.structuredData).toBe(
          `[${SD_ID} eventId="${eventId}" who="Zoë"]`,
        );
      });
    }

    for (const transport of ['tcp', 'unix'] as const) {
      it(`${transport}: 100 messages sent in a row all arrive, in order, over one connection`, async () => {
        const s = sender({ transport });
        const run = `R-${randomUUID()}`;
        await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            s.send(message(run, { msgId: 'seq', message: `${run} #${String(i).padStart(3, '0')}` })),
          ),
        );
        const lines = await rs.waitForLines(100, 10_000, withId(run));
        expect(lines).toHaveLength(100);
        expect(lines.map((l) => parseRecord(l).msg)).toEqual(
          Array.from({ length: 100 }, (_, i) => `${run} #${String(i).padStart(3, '0')}`),
        );
      });
    }

    it('udp: a 10 KB message arrives in one datagram; one over 65,507 bytes is rejected, not sent', async () => {
      const s = sender({ transport: 'udp' });
      const eventId = `E-${randomUUID()}`;
      const big = `${eventId} ${'x'.repeat(10_000)}`;
      await s.send(message(eventId, { message: big }));
      const [record] = (await rs.waitForLines(1, 5000, withId(eventId))).map(parseRecord);
      expect(record!.msg).toBe(big);

      const err = await s.send(message(eventId, { message: 'y'.repeat(70_000) })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SyslogError);
      expect((err as SyslogError).retryable).toBe(false);
      expect((err as Error).message).toMatch(/more than fits in one UDP datagram \(65507\)/);
    });

    it('logger transport: reaches a datagram log socket like /dev/log with the fields logger can set', async () => {
      const s = sender({ transport: 'logger' });
      const eventId = `E-${randomUUID()}`;
      await s.send(message(eventId));
      const [record] = (await rs.waitForLines(1, 5000, withId(eventId))).map(parseRecord);
      expect(record).toMatchObject({
        pri: '156',
        appName: 'forewarn',
        procId: '4242',
        msgId: 'scheduled',
        structuredData: `[${SD_ID} eventId="${eventId}" type="reboot" ${ESCAPED_NOTE}]`,
        msg: `reboot scheduled for web-01 (${eventId})`,
        input: 'imuxsock',
      });
      // logger writes its own host name and time.
      expect(record!.hostname).toBe(hostname().split('.')[0]);

      const threeOneSixFour = sender({ transport: 'logger', format: 'rfc3164' });
      const id2 = `E-${randomUUID()}`;
      await threeOneSixFour.send(message(id2, { severity: 'info' }));
      const [r2] = (await rs.waitForLines(1, 5000, withId(id2))).map(parseRecord);
      expect(r2).toMatchObject({ pri: '158', appName: 'forewarn', procId: '4242' });
      expect(r2!.msg.trim()).toBe(
        `scheduled reboot scheduled for web-01 (${id2}) [${SD_ID} eventId="${id2}" type="reboot" ${ESCAPED_NOTE}]`,
      );

      const err = await s.send(message(eventId, { facility: 'kern' })).catch((e: unknown) => e);
      expect((err as SyslogError).retryable).toBe(false);
      expect((err as Error).message).toMatch(/facility kern is not supported by logger/);
    });

    for (const transport of ['tcp', 'unix'] as const) {
      it(`${transport}: receiver restart mid-stream: a clear rejection while down, no crash, works again after`, async () => {
        const s = sender({ transport });
        const run = `R-${randomUUID()}`;
        for (let i = 0; i < 5; i++) await s.send(message(run, { message: `${run} before ${i}` }));
        await rs.waitForLines(5, 5000, withId(run));
        expect(s.connected).toBe(true);

        await rs.stopDaemon();
        // rsyslogd closed the connection; the sender notices through the socket's 'end'.
        await until(() => !s.connected, 'sender sees the connection closed');

        const down = await s.send(message(run, { message: `${run} while down` })).catch((e: unknown) => e);
        expect(down).toBeInstanceOf(SyslogError);
        expect((down as SyslogError).retryable).toBe(true);
        expect((down as Error).message).toMatch(
          transport === 'tcp'
            ? /^syslog tcp:\/\/127\.0\.0\.1:\d+: cannot connect: .*ECONNREFUSED/
            : /^syslog unix:.*stream\.sock: cannot connect: .*(ENOENT|ECONNREFUSED)/,
        );

        await rs.startDaemon();
        await s.send(message(run, { message: `${run} after` }));
        const lines = await rs.waitForLines(6, 5000, withId(run));
        expect(lines.map((l) => parseRecord(l).msg)).toEqual([
          ...Array.from({ length: 5 }, (_, i) => `${run} before ${i}`),
          `${run} after`,
        ]);
      });
    }

    it('a message that cannot be formatted is rejected without poisoning the queue', async () => {
      const s = sender({ transport: 'tcp' });
      const eventId = `E-${randomUUID()}`;
      const bad = s.send(message(eventId, { structuredData: { 'bad id': {} } }));
      const good = s.send(message(eventId, { message: `good ${eventId}` }));
      await expect(bad).rejects.toThrow(/cannot format message: syslog: invalid SD-ID "bad id"/);
      await expect(bad).rejects.toMatchObject({ retryable: false });
      await good;
      const [record] = (await rs.waitForLines(1, 5000, withId(eventId))).map(parseRecord);
      expect(record!.msg).toBe(`good ${eventId}`);
    });
  },
);

describe('SyslogSender without a receiver', () => {
  it('rejects clearly when the unix socket does not exist, and after close()', async () => {
    const s = new SyslogSender({ transport: 'unix', path: '/nonexistent/forewarn.sock' });
    await expect(s.send(message('E-1'))).rejects.toThrow(
      /^syslog unix:\/nonexistent\/forewarn\.sock: cannot connect: .*ENOENT/,
    );
    await s.close();
    await expect(s.send(message('E-1'))).rejects.toThrow(/sender is closed/);
    await s.close(); // idempotent
  });

  it('tcp: a connection that breaks under a send is re-opened once and the message goes through', async () => {
    // A plain Node server stands in for the receiver so the connection can be reset at a precise
    // moment: reset, then send in the same tick, so the write itself fails (ECONNRESET/EPIPE).
    const received: string[] = [];
    const conns: net.Socket[] = [];
    const server = net.createServer((c) => {
      conns.push(c);
      c.setEncoding('utf8').on('data', (d: string) => received.push(d));
      c.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const s = new SyslogSender({ transport: 'tcp', port });
    try {
      await s.send(message('E-1', { message: 'first' }));
      await until(() => received.join('').includes('first'), 'server got the first message');
      expect(conns).toHaveLength(1);
      expect(s.connected).toBe(true);

      conns[0]!.resetAndDestroy();
      await s.send(message('E-1', { message: 'second' }));
      await until(() => received.join('').includes('second'), 'server got the second message');
      expect(conns).toHaveLength(2);

      // Reset again and refuse new connections: one reconnect attempt, then a clear rejection.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        conns[1]!.resetAndDestroy();
      });
      const err = await s.send(message('E-1', { message: 'third' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SyslogError);
      expect((err as SyslogError).retryable).toBe(true);
      expect((err as Error).message).toMatch(
        /^syslog tcp:\/\/127\.0\.0\.1:\d+: connection broken \(.*ECONNRESET.*\) and reconnecting failed: .*ECONNREFUSED/,
      );
    } finally {
      await s.close();
      server.close();
    }
  });

  it('rejects bad options at construction', () => {
    expect(() => new SyslogSender({ transport: 'unix' })).toThrow(/needs a socket path/);
    expect(() => new SyslogSender({ transport: 'tcp', port: 70_000 })).toThrow(/invalid port/);
    expect(() => new SyslogSender({ transport: 'smtp' as never })).toThrow(/unknown transport/);
  });

  it('logger transport: a missing logger binary is a clear, non-retryable error', async () => {
    const s = new SyslogSender({
      transport: 'logger',
      loggerPath: '/nonexistent/logger',
      path: '/nonexistent/log',
    });
    await expect(s.send(message('E-1'))).rejects.toMatchObject({
      retryable: false,
      message: expect.stringMatching(/\/nonexistent\/logger not found/),
    });
  });
});
