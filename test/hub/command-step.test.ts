// A command step through a real hub: the script runs for the matched VM, writes a file, and its
// output (truncated) is kept in the step's attempt; a failing script retries, then dead-letters.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/agent.js';
import { READER, startHub, type TestHub } from '../helpers/hub.js';
import { cloudEvent, maintenance, publishOne } from '../helpers/hub-publish.js';
import { waitFor } from '../helpers/wait.js';

let h: TestHub | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('command steps through the hub', () => {
  it('run the script with the event, keep its output in the attempt, retry a failure up to the limit', async () => {
    const dir = tempDir('forewarn-cmd-hub-');
    const script = join(dir, 'on-maintenance.sh');
    writeFileSync(
      script,
      '#!/bin/sh\necho "$FOREWARN_VM $FOREWARN_EVENT_TYPE" >> "$1/ran.txt"\necho "hello from $FOREWARN_VM"\n[ "$FOREWARN_VM" = web-01 ] || { echo "not this one" >&2; exit 7; }\n',
    );
    chmodSync(script, 0o755);
    h = await startHub({
      rules: [
        {
          name: 'run-script',
          match: {},
          steps: [
            { name: 'script', action: 'command', retry: { maxAttempts: 2 }, with: { argv: [script, dir] } },
          ],
        },
      ],
    });
    for (const vm of ['web-01', 'web-02']) {
      const res = await publishOne(h, h.agentToken(vm), cloudEvent(maintenance(vm)));
      expect(res.status).toBe(200);
    }
    const steps = await waitFor(async () => {
      const s = (await h!.api('GET', '/api/v1/steps', undefined, READER)).body.steps as any[];
      return s.length === 2 && s.every((x) => x.status === 'succeeded' || x.status === 'dead')
        ? s
        : undefined;
    }, 15_000);
    const ok = steps.find((s) => s.vm === 'web-01');
    const bad = steps.find((s) => s.vm === 'web-02');
    expect(ok.status).toBe('succeeded');
    expect(bad).toMatchObject({ status: 'dead', deadReason: 'MaxDeliveryAttemptsExceeded' });
    const okAttempts = (await h.api('GET', `/api/v1/steps/${ok.id}`, undefined, READER)).body.attempts;
    expect(okAttempts[0].output).toMatchObject({ exitCode: 0, stdout: 'hello from web-01\n', stderr: '' });
    const badAttempts = (await h.api('GET', `/api/v1/steps/${bad.id}`, undefined, READER)).body.attempts;
    expect(badAttempts).toHaveLength(2);
    expect(badAttempts[1]).toMatchObject({
      ok: false,
      retryable: true,
      output: { exitCode: 7, stderr: 'not this one\n' },
    });
    expect(badAttempts[1].detail).toMatch(/exited with 7: not this one$/);
    expect(readFileSync(join(dir, 'ran.txt'), 'utf8').split('\n').filter(Boolean).sort()).toEqual([
      'web-01 reboot',
      'web-02 reboot',
      'web-02 reboot',
    ]);
  });
});
