// nats-server's own authorization, as `forewarn nats-config` writes it, keeps each VM to its own
// subjects: vm-a cannot publish vm-b's transitions or read anyone's, while the hub user consumes.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStream } from '../../src/hub/nats-ingest.js';
import { program } from '../../src/cli/program.js';
import { subjects } from '../../src/nats/config.js';
import { tempDir } from '../helpers/agent.js';
import { natsOrSkip, startNats, vmPassword, HUB_PASSWORD, type TestNats } from '../helpers/nats.js';

const ready = natsOrSkip();

describe.skipIf(!ready)('NATS permissions per VM', () => {
  let nats: TestNats;
  const open: NatsConnection[] = [];
  const as = async (user: string, password: string, inboxPrefix?: string) => {
    const nc = await connect({ servers: nats.url, user, pass: password, inboxPrefix });
    open.push(nc);
    return nc;
  };
  beforeAll(async () => {
    nats = await startNats(['vm-a', 'vm-b']);
  });
  afterAll(async () => {
    await Promise.all(open.map((nc) => nc.close()));
    await nats?.stop();
  });

  it('vm-a publishes on its own subject, is refused on vm-b’s, and the hub user consumes', async () => {
    const hub = await as('hub', HUB_PASSWORD);
    await ensureStream(hub, nats.hub(), pino({ level: 'silent' }));
    const a = await as('vm-a', vmPassword('vm-a'), subjects.inbox('vm-a'));
    const js = jetstream(a);
    const ok = await js.publish(subjects.events('vm-a'), '{"mine":true}', { msgID: 'a-1' });
    expect(ok.seq).toBe(1);

    // The server refuses the publish: a permissions violation, and nothing reaches the stream.
    const denied: string[] = [];
    void (async () => {
      for await (const s of a.status()) if (s.type === 'error') denied.push(String(s.error?.message));
    })();
    await expect(
      js.publish(subjects.events('vm-b'), '{"forged":true}', { msgID: 'a-forged', timeout: 1500 }),
    ).rejects.toThrow(/permission|timeout/i);
    await expect
      .poll(() => denied.join('\n'))
      .toMatch(/Permissions Violation for Publish to "forewarn\.events\.vm-b"/);

    // Nor may vm-a read the stream's subjects or another VM's inbox.
    const sub = a.subscribe(subjects.allEvents);
    await expect
      .poll(() => denied.join('\n'))
      .toMatch(/Permissions Violation for Subscription to "forewarn\.events\.\*"/);
    sub.unsubscribe();

    const consumer = await jetstream(hub).consumers.get(nats.hub().stream, nats.hub().consumer);
    const m = await consumer.next({ expires: 5000 });
    expect(m?.subject).toBe('forewarn.events.vm-a');
    expect(m?.string()).toBe('{"mine":true}');
    await m!.ackAck();
    const info = await consumer.info();
    expect(info.num_pending).toBe(0); // the forged message never got in
  });

  it('nats-config writes the authorization block and one private password file per VM', async () => {
    const out = join(tempDir('forewarn-natscfg-'), 'nats');
    await program().parseAsync(['node', 'forewarn', 'nats-config', '--vms', 'web-1,web-2', '--out', out]);
    const conf = readFileSync(join(out, 'nats-auth.conf'), 'utf8');
    expect(conf).toContain('"forewarn.events.web-1"');
    expect(conf).toContain('"_INBOX.forewarn.web-2.>"');
    const pw = readFileSync(join(out, 'web-1.password'), 'utf8').trim();
    expect(pw.length).toBeGreaterThan(20);
    expect(conf).toContain(JSON.stringify(pw));
    expect(statSync(join(out, 'web-1.password')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(out, 'hub.password'), 'utf8').trim()).not.toBe(pw);
  });
});
