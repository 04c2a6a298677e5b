// `forewarn demo` (the README's main command) end to end, as a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { waitFor } from '../helpers/wait.js';

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

describe('forewarn demo', () => {
  it('runs the whole flow: events reported by agents, a user reboot drained and approved, the VM put back', async () => {
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'demo',
        '--port',
        '0',
        '--sim-port',
        '0',
        '--data',
        tempDir('forewarn-demo-'),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(
      () => out.includes('ACTION  user-reboots-now/approve for worker-01: succeeded'),
      40_000,
      100,
    );
    await waitFor(() => out.includes('LB      worker-01 back in the pool'), 40_000, 100);
    // The platform's freeze of two VMs reached the administrator as one digest mail, captured by
    // the demo's own SMTP server and listed by the API.
    await waitFor(
      () =>
        /MAIL\s+to admin@demo\.invalid: \[forewarn\] \d+ maintenance events: .*freeze scheduled ×2/.test(out),
      40_000,
      100,
    );
    const hubUrl = /hub API\s+(http:\/\/127\.0\.0\.1:\d+)\/api\/v1\/events\s+\(token: (\S+)\)/.exec(out)!;
    const res = await fetch(`${hubUrl[1]}/api/v1/demo/mail`, {
      headers: { authorization: `Bearer ${hubUrl[2]}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      mails: { subject: string; text: string; html: string; to: string[] }[];
    };
    const digest = body.mails.find((m) => m.subject.includes('freeze scheduled ×2'))!;
    // The approval's lifecycle notice went to the same administrator (in a digest, or alone).
    expect(
      body.mails.some((m) =>
        `${m.subject}\n${m.text}`.includes('approved: user-reboots-now approve for worker-01'),
      ),
    ).toBe(true);
    expect(digest.to).toEqual(['admin@demo.invalid']);
    expect(digest.text).toMatch(/VM:\s+web-01/);
    expect(digest.text).toMatch(/VM:\s+web-04/);
    expect(digest.text).toMatch(/\(Europe\/Berlin\)/);
    expect(digest.html).toContain('<a href="http://127.0.0.1:');
    expect((await fetch(`${hubUrl[1]}/api/v1/demo/mail`)).status).toBe(401);
    expect(out).toMatch(/hub API\s+http:\/\/127\.0\.0\.1:\d+\/api\/v1\/events/);
    const dashboard =
      /dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\/\s+\(log in with the operator token (\S+)\)/.exec(out);
    expect(dashboard).not.toBeNull();
    const me = await fetch(`${dashboard![1]}/api/v1/dashboard/me`, {
      headers: { authorization: `Bearer ${dashboard![2]}` },
    });
    expect(await me.json()).toEqual({ name: 'demo', role: 'admin' });
    expect(out).toMatch(/EVENT\s+freeze of web-01,web-04 scheduled/);
    expect(out).toMatch(/EVENT\s+reboot of worker-01 started/);
    expect(out).not.toMatch(/"level":50/); // no error logged
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
