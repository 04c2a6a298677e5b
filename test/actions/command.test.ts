// The command action runs a real script: env and stdin carry the event, exit codes map to
// success / retryable / non-retryable, a timeout kills the whole process group, output is kept.
import { existsSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { commandAction } from '../../src/actions/command.js';
import { actionContext, eventRow } from '../helpers/action-context.js';
import { tempDir } from '../helpers/agent.js';

function script(body: string): { dir: string; path: string } {
  const dir = tempDir('forewarn-cmd-');
  const path = join(dir, 'hook.sh');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return { dir, path };
}

describe('command', () => {
  it('runs argv without a shell, with the event in FOREWARN_* variables and as JSON on stdin', async () => {
    const { dir, path } = script(
      'cat > "$1/stdin.json"; env | grep ^FOREWARN_ | sort > "$1/env.txt"; echo done for "$2"',
    );
    const params = { argv: [path, dir, '{{vm}}; rm -rf /'], env: { EXTRA: 'yes' } };
    commandAction.validate(params);
    const event = eventRow({ type: 'redeploy', resources: ['web-07'] });
    const ctx = actionContext({ event, vm: 'web-07' });
    const r = await commandAction.run(ctx, params);
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, detail: 'exit 0' });
    // The placeholder became one argument, never shell syntax.
    expect((r.output as any).stdout).toBe('done for web-07; rm -rf /\n');
    const env = readFileSync(join(dir, 'env.txt'), 'utf8');
    expect(env).toContain('FOREWARN_VM=web-07');
    expect(env).toContain('FOREWARN_EVENT_TYPE=redeploy');
    expect(env).toContain(`FOREWARN_EVENT_ID=${event.eventId}`);
    expect(env).toContain(`FOREWARN_NOT_BEFORE=${event.notBefore}`);
    expect(env).toContain(`FOREWARN_IDEMPOTENCY_KEY=${ctx.idempotencyKey}`);
    const stdin = JSON.parse(readFileSync(join(dir, 'stdin.json'), 'utf8'));
    expect(stdin).toMatchObject({
      vm: 'web-07',
      rule: 'tell-admin',
      event: { eventId: event.eventId, type: 'redeploy' },
    });
  });

  it('shell: true runs one command line through /bin/sh', async () => {
    const dir = tempDir('forewarn-cmd-');
    const params = {
      argv: [`echo "$FOREWARN_VM $FOREWARN_EVENT_TYPE" > ${dir}/out.txt && echo ok`],
      shell: true,
    };
    commandAction.validate(params);
    const r = await commandAction.run(actionContext({ vm: 'web-02' }), params);
    expect(r.ok).toBe(true);
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('web-02 reboot\n');
  });

  it('a non-zero exit is a retryable failure with the tail of stderr; listed codes are not retryable', async () => {
    const { path } = script('echo "working"; echo "disk full" >&2; exit "$1"');
    const retry = await commandAction.run(actionContext(), { argv: [path, '3'] });
    expect(retry).toMatchObject({ ok: false, retryable: true, detail: `${path} exited with 3: disk full` });
    expect(retry.output).toMatchObject({ exitCode: 3, stdout: 'working\n', stderr: 'disk full\n' });
    const permanent = await commandAction.run(actionContext(), { argv: [path, '2'], nonRetryableCodes: [2] });
    expect(permanent).toMatchObject({ ok: false, retryable: false });
  });

  it('a timeout kills the process group, children included', async () => {
    const { dir, path } = script('sleep 30 & echo $! > "$1/child.pid"; wait; touch "$1/finished"');
    const r = await commandAction.run(actionContext(), { argv: [path, dir], timeout: '1s' });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.detail).toMatch(/timed out after 1s/);
    const childPid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    // The backgrounded sleep was in the group: it is gone too.
    let alive = true;
    for (let i = 0; i < 100 && alive; i++) {
      try {
        process.kill(childPid, 0);
        await sleep(50);
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
    expect(existsSync(join(dir, 'finished'))).toBe(false);
  });

  it('the step timeout (its abort signal) also kills the script', async () => {
    const { dir, path } = script('sleep 30; touch "$1/finished"');
    const r = await commandAction.run(actionContext({ signal: AbortSignal.timeout(500) }), {
      argv: [path, dir],
    });
    expect(r).toMatchObject({ ok: false, retryable: true });
    expect(r.detail).toMatch(/step timed out/);
  });

  it('keeps only the tail of long output', async () => {
    const { path } = script('i=0; while [ $i -lt 2000 ]; do echo "line $i"; i=$((i+1)); done');
    const r = await commandAction.run(actionContext(), { argv: [path], maxOutput: 100 });
    const out = (r.output as any).stdout as string;
    expect(out).toMatch(/^\[… \d+ bytes cut\]\n/);
    expect(out.endsWith('line 1999\n')).toBe(true);
    expect(out.length).toBeLessThan(140);
  });

  it('a program that does not exist is not retryable', async () => {
    const r = await commandAction.run(actionContext(), { argv: ['/nonexistent/forewarn-hook'] });
    expect(r).toMatchObject({ ok: false, retryable: false });
  });

  it.each([
    ['no argv', {}, /argv/],
    ['a string argv', { argv: 'echo hi' }, /argv/],
    ['placeholders in a shell line', { argv: ['echo {{vm}}'], shell: true }, /\$FOREWARN_/],
    ['a bad timeout', { argv: ['x'], timeout: 'soon' }, /timeout/],
    ['bad codes', { argv: ['x'], nonRetryableCodes: [0] }, /nonRetryableCodes/],
    ['an unknown placeholder', { argv: ['x', '{{vmm}}'] }, /unknown placeholder/],
  ])('validate refuses %s', (_n, params, message) => {
    expect(() => commandAction.validate(params)).toThrow(message);
  });
});
