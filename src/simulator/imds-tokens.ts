// Session tokens of the AWS IMDSv2 and Alibaba hardened-mode metadata services: PUT /latest/api/token
// with a TTL, then a header on every read. Tokens live in real time (the TTL is the client's), are
// bound to the VM that asked, and can be revoked through the control API to force a 401.
import { randomBytes } from 'node:crypto';

/** 1 s to 6 h (metadata-apis.md §2.2; Alibaba's range is UNVERIFIED and taken to be the same). */
export const MAX_TOKEN_TTL_S = 21_600;

interface Token {
  vm: string;
  expiresAt: number;
}

export type TokenCheck =
  { ok: true; remainingS: number } | { ok: false; reason: 'unknown' | 'expired' | 'other-vm' };

export class TokenStore {
  private readonly tokens = new Map<string, Token>();

  constructor(private readonly now: () => number = Date.now) {}

  issue(vm: string, ttlS: number): string {
    this.sweep();
    const token = randomBytes(32).toString('base64');
    this.tokens.set(token, { vm, expiresAt: this.now() + ttlS * 1000 });
    return token;
  }

  /** Expired tokens are deleted on sight, as AEMM does (age >= TTL is expired). */
  check(vm: string, token: string): TokenCheck {
    const t = this.tokens.get(token);
    if (!t) return { ok: false, reason: 'unknown' };
    const left = t.expiresAt - this.now();
    if (left <= 0) {
      this.tokens.delete(token);
      return { ok: false, reason: 'expired' };
    }
    if (t.vm !== vm) return { ok: false, reason: 'other-vm' };
    return { ok: true, remainingS: Math.ceil(left / 1000) };
  }

  /** Drops every token of `vm` (or all): the next read with one gets 401. Returns how many. */
  revoke(vm?: string): number {
    let n = 0;
    for (const [token, t] of this.tokens) {
      if (vm === undefined || t.vm === vm) {
        this.tokens.delete(token);
        n++;
      }
    }
    return n;
  }

  count(vm: string): number {
    return [...this.tokens.values()].filter((t) => t.vm === vm && t.expiresAt > this.now()).length;
  }

  private sweep(): void {
    if (this.tokens.size < 10_000) return;
    const now = this.now();
    for (const [token, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(token);
  }
}

/** A TTL header value: an integer from 1 to 21600, or undefined when absent or out of range. */
export function parseTtl(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || !/^\d{1,6}$/.test(v.trim())) return undefined;
  const n = Number(v.trim());
  return n >= 1 && n <= MAX_TOKEN_TTL_S ? n : undefined;
}
