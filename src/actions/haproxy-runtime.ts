// A small client for HAProxy's runtime API (the `stats socket ... level admin` CLI): one command
// per connection (non-interactive mode: HAProxy answers and closes), over a unix socket or TCP.
// It parses the two answers the haproxy action trusts: `show servers state` and `show stat`.
import net from 'node:net';

export type RuntimeTarget = { socket: string } | { host: string; port: number };

/** The runtime API refused a command for a reason retrying cannot fix (unknown backend, no admin level). */
export class RuntimeCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeCommandError';
  }
}

/** Admin-state bits of `show servers state` (HAProxy's SRV_ADMF_*). */
export const ADMIN = {
  FMAINT: 0x01, // forced by the runtime API
  IMAINT: 0x02, // inherited from a tracked server
  CMAINT: 0x04, // `disabled` in the configuration
  FDRAIN: 0x08,
  IDRAIN: 0x10,
  RMAINT: 0x20, // DNS resolution failed
  HMAINT: 0x40, // address not yet resolved
} as const;
const ANY_MAINT = ADMIN.FMAINT | ADMIN.IMAINT | ADMIN.CMAINT | ADMIN.RMAINT | ADMIN.HMAINT;
const ANY_DRAIN = ADMIN.FDRAIN | ADMIN.IDRAIN;

export interface ServerState {
  backend: string;
  server: string;
  address: string;
  port: number;
  /** 0 stopped, 1 starting, 2 running, 3 stopping (health). */
  opState: number;
  adminState: number;
}

/** What the admin state amounts to, in the words `set server ... state` uses. */
export function adminMode(adminState: number): 'maint' | 'drain' | 'ready' {
  if (adminState & ANY_MAINT) return 'maint';
  if (adminState & ANY_DRAIN) return 'drain';
  return 'ready';
}

export function describeTarget(t: RuntimeTarget): string {
  return 'socket' in t ? `unix:${t.socket}` : `${t.host}:${t.port}`;
}

/** Sends one command and returns HAProxy's whole answer. Connection failures throw plain Errors. */
export function runtimeCommand(
  target: RuntimeTarget,
  command: string,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<string> {
  if (/[\r\n;]/.test(command)) throw new RuntimeCommandError('a runtime command must be one line without ;');
  return new Promise((resolve, reject) => {
    const sock = 'socket' in target ? net.createConnection(target.socket) : net.createConnection(target);
    const chunks: Buffer[] = [];
    const fail = (err: Error) => {
      sock.destroy();
      reject(err);
    };
    const onAbort = () => fail(new Error(`runtime API ${describeTarget(target)}: aborted`));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.setTimeout(opts.timeoutMs ?? 5000, () =>
      fail(new Error(`runtime API ${describeTarget(target)}: no answer within ${opts.timeoutMs ?? 5000} ms`)),
    );
    sock.on('connect', () => sock.end(`${command}\n`));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err) => fail(new Error(`runtime API ${describeTarget(target)}: ${err.message}`)));
    sock.on('close', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Answers that mean the command was refused (HAProxy answers with text, never with a status). */
function refusal(answer: string): string | undefined {
  const text = answer.trim();
  if (/^(No such (backend|server)|Can't find backend|Unknown command|Permission denied|Require )/i.test(text))
    return text.split('\n')[0];
  return undefined;
}

export async function setServerState(
  target: RuntimeTarget,
  backend: string,
  server: string,
  state: 'ready' | 'drain' | 'maint',
  signal?: AbortSignal,
): Promise<void> {
  const answer = await runtimeCommand(target, `set server ${backend}/${server} state ${state}`, { signal });
  const refused = refusal(answer);
  if (refused) throw new RuntimeCommandError(`${backend}/${server}: ${refused}`);
  // Any other text is a warning HAProxy printed while still applying the change; the caller verifies.
}

export function parseServersState(answer: string): ServerState[] {
  const lines = answer.split('\n');
  const header = lines
    .find((l) => l.startsWith('# '))
    ?.slice(2)
    .split(' ');
  if (!header) return [];
  const col = (name: string) => header.indexOf(name);
  const [be, sv, addr, port, op, admin] = [
    'be_name',
    'srv_name',
    'srv_addr',
    'srv_port',
    'srv_op_state',
    'srv_admin_state',
  ].map(col) as [number, number, number, number, number, number];
  return lines
    .filter((l) => l && !l.startsWith('#') && l.includes(' '))
    .map((l) => l.split(' '))
    .map((f) => ({
      backend: f[be]!,
      server: f[sv]!,
      address: f[addr]!,
      port: Number(f[port]),
      opState: Number(f[op]),
      adminState: Number(f[admin]),
    }));
}

export async function serverState(
  target: RuntimeTarget,
  backend: string,
  server: string,
  signal?: AbortSignal,
): Promise<ServerState> {
  const answer = await runtimeCommand(target, `show servers state ${backend}`, { signal });
  const refused = refusal(answer);
  if (refused) throw new RuntimeCommandError(`${backend}: ${refused}`);
  const found = parseServersState(answer).find((s) => s.backend === backend && s.server === server);
  if (!found) throw new RuntimeCommandError(`${backend}/${server}: No such server.`);
  return found;
}

/** Every backend server's state, for the reconciler. */
export async function allServerStates(target: RuntimeTarget, signal?: AbortSignal): Promise<ServerState[]> {
  return parseServersState(await runtimeCommand(target, 'show servers state', { signal }));
}

/** `show stat` CSV rows as objects (header `# pxname,svname,...`). */
export function parseStatCsv(answer: string): Record<string, string>[] {
  const lines = answer.split('\n').filter((l) => l.trim());
  const header = lines[0]?.replace(/^# /, '').split(',');
  if (!header) return [];
  return lines.slice(1).map((l) => {
    const f = l.split(',');
    return Object.fromEntries(header.map((h, i) => [h, f[i] ?? '']));
  });
}

/** Current sessions (`scur`) on one server. */
export async function currentSessions(
  target: RuntimeTarget,
  backend: string,
  server: string,
  signal?: AbortSignal,
): Promise<number> {
  // `show stat <proxy> 4 -1`: only that backend's servers.
  const answer = await runtimeCommand(target, `show stat ${backend} 4 -1`, { signal });
  const refused = refusal(answer);
  if (refused) throw new RuntimeCommandError(`${backend}: ${refused}`);
  const row = parseStatCsv(answer).find((r) => r.pxname === backend && r.svname === server);
  if (!row) throw new RuntimeCommandError(`${backend}/${server}: No such server.`);
  return Number(row.scur) || 0;
}
