// Auth runs before the body is parsed or validated: a caller without a valid token learns nothing
// from a route's schema (400 naming a field) and costs the hub no parsing. Every route the hub
// registers that takes a body and needs a token is sent a malformed and a schema-violating body
// with no token and with a bad one: 401 each time.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCESS } from '../../drills/auth-matrix.js';
import { startHub, type TestHub } from '../helpers/hub.js';

let h: TestHub;
beforeEach(async () => {
  h = await startHub();
});
afterEach(async () => {
  await h.close();
});

describe('auth before validation', () => {
  it('every route with a body answers 401 to a bad body without a valid token', async () => {
    const withBody = h.hub.routes
      .map((r) => `${r.method} ${r.url}`)
      .filter((k) => ACCESS[k] && ACCESS[k]!.access !== 'public' && /^(POST|PUT|PATCH) /.test(k));
    expect(withBody.length).toBeGreaterThan(10);
    const bodies = ['{"not json', JSON.stringify({ unexpected: [1, 2, 3] })];
    for (const key of withBody) {
      const spec = ACCESS[key]!;
      for (const body of bodies)
        for (const authorization of [undefined, 'Bearer not-a-token']) {
          const res = await fetch(new URL(spec.path, h.url), {
            method: key.split(' ')[0],
            headers: {
              'content-type': spec.type ?? 'application/json',
              ...(authorization ? { authorization } : {}),
            },
            body,
          });
          expect({ key, body, authorization, status: res.status }).toEqual({
            key,
            body,
            authorization,
            status: 401,
          });
        }
    }
  });
});
