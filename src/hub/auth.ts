// Who is calling. Agents hold a token bound to their VM (listed, or derived from a secret so a
// fleet needs no list); operators hold role tokens; Event Grid publishers use a topic key
// (aeg-sas-key) or a SAS token. Comparisons are constant-time; no secret is ever logged.
import { createHmac } from 'node:crypto';
import { sameSecret } from '../core/same-secret.js';
import { parseLegacyEventTime } from '../core/time.js';

export type Role = 'read' | 'operate' | 'admin';
export type Principal =
  | { kind: 'agent'; vm: string }
  | { kind: 'operator'; name: string; role: Role }
  | { kind: 'eventgrid'; key: string };

export interface AuthConfig {
  /** Derives agent tokens: `fwa.<vm>.<HMAC-SHA256(secret, vm)>` (see `forewarn hub token`). */
  agentSecret?: string;
  agents?: { vm: string; token: string }[];
  operators?: { name: string; role: Role; token: string }[];
  eventGridKeys?: { name: string; key: string }[];
  /** Shared secrets of cloud event pushes (AWS EventBridge, Alibaba CloudMonitor/EventBridge). */
  pushSecrets?: { name: string; secret: string }[];
}

const ROLE_RANK: Record<Role, number> = { read: 0, operate: 1, admin: 2 };

export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

export function deriveAgentToken(secret: string, vm: string): string {
  return `fwa.${vm}.${createHmac('sha256', secret).update(vm).digest('base64url')}`;
}

/** Agents whose derived token is remembered (a 100k fleet); beyond it the oldest is forgotten. */
const KNOWN_AGENTS = 100_000;

export class Authenticator {
  /**
   * VM → its derived token, for agents that authenticated once: an HMAC per request was 8 % of the
   * hub's main thread at one event per request. Only tokens that matched are kept, so made-up VM
   * names cannot fill it; a lookup is still compared in constant time.
   */
  private readonly derived = new Map<string, string>();

  constructor(private readonly config: AuthConfig) {}

  private agentToken(secret: string, vm: string, given: string): boolean {
    const known = this.derived.get(vm);
    if (known !== undefined) return sameSecret(known, given);
    const expected = deriveAgentToken(secret, vm);
    if (!sameSecret(expected, given)) return false;
    if (this.derived.size >= KNOWN_AGENTS) this.derived.delete(this.derived.keys().next().value!);
    this.derived.set(vm, expected);
    return true;
  }

  /** A bearer token → principal, or undefined. */
  bearer(token: string | undefined): Principal | undefined {
    if (!token) return undefined;
    for (const o of this.config.operators ?? [])
      if (sameSecret(o.token, token)) return { kind: 'operator', name: o.name, role: o.role };
    for (const a of this.config.agents ?? [])
      if (sameSecret(a.token, token)) return { kind: 'agent', vm: a.vm };
    if (this.config.agentSecret && token.startsWith('fwa.')) {
      const dot = token.lastIndexOf('.');
      const vm = token.slice(4, dot);
      if (vm && dot > 4 && this.agentToken(this.config.agentSecret, vm, token)) return { kind: 'agent', vm };
    }
    return undefined;
  }

  fromHeaders(headers: Record<string, string | string[] | undefined>): Principal | undefined {
    const auth = typeof headers.authorization === 'string' ? headers.authorization : undefined;
    const m = auth ? /^Bearer\s+(.+)$/i.exec(auth) : null;
    return m ? this.bearer(m[1]!.trim()) : undefined;
  }

  /** Event Grid's ways to authenticate a publish: key header or query, SAS token header or Authorization. */
  eventGrid(
    headers: Record<string, string | string[] | undefined>,
    query: URLSearchParams,
    now = Date.now(),
  ): Principal | undefined {
    const key =
      (typeof headers['aeg-sas-key'] === 'string' ? headers['aeg-sas-key'] : undefined) ??
      query.get('aeg-sas-key') ??
      undefined;
    if (key) {
      const k = (this.config.eventGridKeys ?? []).find((x) => sameSecret(x.key, key));
      return k ? { kind: 'eventgrid', key: k.name } : undefined;
    }
    const auth = typeof headers.authorization === 'string' ? headers.authorization : '';
    const sas =
      (typeof headers['aeg-sas-token'] === 'string' ? headers['aeg-sas-token'] : undefined) ??
      /^SharedAccessSignature\s+(.+)$/i.exec(auth)?.[1] ??
      undefined;
    if (sas) return this.sasToken(sas, now);
    return undefined;
  }

  /**
   * A cloud push's shared secret, from `Authorization: Bearer`, `X-Forewarn-Push-Secret`, or (for
   * webhooks that can only set a URL) `?secret=`. Returns the secret's name, or undefined. Push
   * secrets authorise only the push endpoints: bearer() never accepts them.
   */
  push(headers: Record<string, string | string[] | undefined>, query: URLSearchParams): string | undefined {
    const auth = typeof headers.authorization === 'string' ? headers.authorization : '';
    const header = headers['x-forewarn-push-secret'];
    const given =
      /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() ??
      (typeof header === 'string' ? header : undefined) ??
      query.get('secret') ??
      undefined;
    if (!given) return undefined;
    return (this.config.pushSecrets ?? []).find((x) => sameSecret(x.secret, given))?.name;
  }

  /**
   * `r=<urlenc resource>&e=<urlenc expiry>&s=<urlenc signature>`: the signature is base64 HMAC-SHA256
   * of `r=…&e=…` keyed with the base64-decoded topic key; expiry is .NET's `M/d/yyyy h:mm:ss AM|PM` UTC.
   */
  sasToken(token: string, now = Date.now()): Principal | undefined {
    const parts = new URLSearchParams(token);
    const r = parts.get('r');
    const e = parts.get('e');
    const s = parts.get('s');
    if (!r || !e || !s) return undefined;
    let expiry: number;
    try {
      expiry = parseLegacyEventTime(e);
    } catch {
      return undefined;
    }
    if (expiry <= now) return undefined;
    const signed = `r=${encodeURIComponent(r)}&e=${encodeURIComponent(e)}`;
    for (const k of this.config.eventGridKeys ?? []) {
      const expected = createHmac('sha256', Buffer.from(k.key, 'base64')).update(signed).digest('base64');
      if (sameSecret(expected, s)) return { kind: 'eventgrid', key: k.name };
    }
    return undefined;
  }
}
