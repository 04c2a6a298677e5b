import { describe, expect, it } from 'vitest';
import { Authenticator, deriveAgentToken } from './auth.js';

describe('Authenticator: derived agent tokens', () => {
  const secret = 'fleet-secret';

  it('accepts a VM’s derived token, again from memory, and never another forged one for it', () => {
    const auth = new Authenticator({ agentSecret: secret });
    const good = deriveAgentToken(secret, 'web-01');
    expect(auth.bearer(good)).toEqual({ kind: 'agent', vm: 'web-01' });
    expect(auth.bearer(good)).toEqual({ kind: 'agent', vm: 'web-01' }); // the remembered path
    const forged = `${good.slice(0, -4)}AAAA`;
    expect(auth.bearer(forged)).toBeUndefined();
    expect(auth.bearer(deriveAgentToken('other-secret', 'web-01'))).toBeUndefined();
    // Another VM's valid token does not pass for this VM, nor this one's for it.
    expect(auth.bearer(`fwa.web-02.${good.split('.').pop()}`)).toBeUndefined();
    expect(auth.bearer(deriveAgentToken(secret, 'web-02'))).toEqual({ kind: 'agent', vm: 'web-02' });
  });

  it('a refused token is not remembered: the right one still works after many wrong ones', () => {
    const auth = new Authenticator({ agentSecret: secret });
    for (let i = 0; i < 1000; i++) expect(auth.bearer(`fwa.vm-${i}.bogus`)).toBeUndefined();
    expect(auth.bearer(deriveAgentToken(secret, 'vm-7'))).toEqual({ kind: 'agent', vm: 'vm-7' });
  });

  it('a second authenticator with a new secret does not accept the old tokens', () => {
    const old = deriveAgentToken(secret, 'web-01');
    expect(new Authenticator({ agentSecret: secret }).bearer(old)).toBeDefined();
    expect(new Authenticator({ agentSecret: 'rotated' }).bearer(old)).toBeUndefined();
  });
});
