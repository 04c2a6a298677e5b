// Sends syslog messages over UDP, TCP, a unix stream socket, or through logger(1).
//
// Transports:
// - 'udp': one datagram per message (node:dgram), fire-and-forget: a missing receiver is not
//   noticed. A message that does not fit in one IPv4 datagram (65,507 bytes) is rejected.
// - 'tcp': node:net with RFC 6587 octet-counting framing. The connection is opened on the first
//   send and kept. When it turns out broken at send time it is re-opened once; if that fails too
//   the send rejects with a SyslogError and the caller retries. Plain TCP syslog has no
//   acknowledgements: a message written just before the receiver went away can be lost without
//   an error (RELP would fix that; no receiver-side acks exist in RFC 6587).
// - 'unix': a unix STREAM socket, framed like TCP, e.g. rsyslog's
//   `input(type="imptcp" path="/run/forewarn-syslog.sock")`. The system log socket /dev/log
//   (rsyslog imuxsock, systemd-journald) is a DATAGRAM socket, which Node cannot send to without
//   a native addon; for it use 'logger'.
// - 'logger': spawns util-linux logger(1) once per message, by default to /dev/log (or `path`).
//   Meant for the local system log; logger sets the hostname and timestamp itself, takes only a
//   numeric PROCID, cannot use the facilities kern/ntp/audit/alert/clock, and drops an SD-ID
//   without parameters.
//
// Messages are sent one at a time in the order send() was called. No socket ever keeps the
// process alive on its own (in-flight writes do), and no 'error' event is left unhandled.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import {
  FIELD_LIMITS,
  formatRfc3164,
  formatRfc5424,
  formatStructuredData,
  escapeSdValue,
  frameOctetCounting,
  priority,
  rfc3164Content,
  sanitizeHeaderField,
  type Facility,
  type SyslogMessage,
} from '../core/syslog-format.js';

export type SyslogTransport = 'udp' | 'tcp' | 'unix' | 'logger';
export type SyslogFormat = 'rfc5424' | 'rfc3164';

export interface SyslogSenderOptions {
  transport: SyslogTransport;
  /** udp/tcp: receiver host; default 127.0.0.1. */
  host?: string;
  /** udp/tcp: receiver port; default 514. */
  port?: number;
  /** unix: the stream socket (required); logger: the socket logger writes to (default /dev/log). */
  path?: string;
  /** Default 'rfc5424'. */
  format?: SyslogFormat;
  /** tcp/unix: connect timeout; logger: how long logger may run. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** logger: the logger binary; default `logger` from PATH. */
  loggerPath?: string;
}

/** A send that failed. `retryable` is false when sending the same message again cannot help. */
export class SyslogError extends Error {
  override readonly name = 'SyslogError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The largest UDP payload over IPv4 (65,535 − 8 byte UDP header − 20 byte IP header). */
export const MAX_UDP_PAYLOAD = 65_507;

const DEFAULT_PORT = 514;
const DEFAULT_TIMEOUT_MS = 5000;
/** Facilities logger(1) accepts by name (it has no names for 12..15 and maps kern to user). */
const LOGGER_UNSUPPORTED: ReadonlySet<Facility> = new Set(['kern', 'ntp', 'audit', 'alert', 'clock']);

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}

export class SyslogSender {
  private readonly transport: SyslogTransport;
  private readonly format: SyslogFormat;
  private readonly host: string;
  private readonly port: number;
  private readonly path: string | undefined;
  private readonly timeoutMs: number;
  private readonly loggerPath: string;
  /** Where messages go, for error messages: `tcp://127.0.0.1:514`, `unix:/run/x.sock`, … */
  readonly target: string;

  private socket: net.Socket | undefined;
  private udp: dgram.Socket | undefined;
  /** The last send in the queue; every send waits for the one before it. */
  private tail: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(opts: SyslogSenderOptions) {
    const { transport } = opts;
    if (!['udp', 'tcp', 'unix', 'logger'].includes(transport))
      throw new Error(`syslog: unknown transport ${JSON.stringify(transport)}`);
    this.transport = transport;
    this.format = opts.format ?? 'rfc5424';
    if (this.format !== 'rfc5424' && this.format !== 'rfc3164')
      throw new Error(`syslog: unknown format ${JSON.stringify(this.format)}`);
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? DEFAULT_PORT;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65_535)
      throw new Error(`syslog: invalid port ${String(opts.port)}`);
    this.path = opts.path;
    if (transport === 'unix' && !this.path) throw new Error('syslog: transport "unix" needs a socket path');
    this.timeoutMs = opts.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.loggerPath = opts.loggerPath ?? 'logger';
    const hostPort = `${net.isIPv6(this.host) ? `[${this.host}]` : this.host}:${this.port}`;
    this.target =
      transport === 'unix'
        ? `unix:${this.path}`
        : transport === 'logger'
          ? `logger:${this.path ?? '/dev/log'}`
          : `${transport}://${hostPort}`;
  }

  /** Whether a tcp/unix connection is open right now (it is opened lazily and dropped when the peer closes). */
  get connected(): boolean {
    return this.socket !== undefined && this.isUsable(this.socket);
  }

  /**
   * Formats and sends one message. Resolves when it was handed to the kernel (udp, tcp, unix) or
   * logger exited successfully; rejects with a SyslogError otherwise. Never throws synchronously.
   */
  send(msg: SyslogMessage): Promise<void> {
    if (this.closing) return Promise.reject(this.fail('sender is closed', false));
    const job = this.tail.then(() => this.deliver(msg));
    this.tail = job.catch(() => undefined);
    return job;
  }

  /** Waits for queued sends, then closes the connection or socket. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.tail.then(async () => {
      const udp = this.udp;
      this.udp = undefined;
      if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()));
      const socket = this.socket;
      this.socket = undefined;
      if (socket) await this.endSocket(socket);
    });
    return this.closing;
  }

  private fail(what: string, retryable: boolean, cause?: unknown): SyslogError {
    const because = cause === undefined ? '' : `: ${describeError(cause)}`;
    return new SyslogError(`syslog ${this.target}: ${what}${because}`, retryable, { cause });
  }

  private async deliver(msg: SyslogMessage): Promise<void> {
    if (this.transport === 'logger') return this.runLogger(msg);
    let line: string;
    try {
      line = this.format === 'rfc3164' ? formatRfc3164(msg) : formatRfc5424(msg);
    } catch (err) {
      throw this.fail('cannot format message', false, err);
    }
    if (this.transport === 'udp') return this.sendUdp(Buffer.from(line, 'utf8'));
    return this.sendStream(frameOctetCounting(line));
  }

  // --- udp -------------------------------------------------------------------------------------

  private async sendUdp(payload: Buffer): Promise<void> {
    if (payload.length > MAX_UDP_PAYLOAD)
      throw this.fail(
        `message is ${payload.length} bytes, more than fits in one UDP datagram (${MAX_UDP_PAYLOAD}); use tcp`,
        false,
      );
    if (!this.udp) {
      const udp = dgram.createSocket(net.isIPv6(this.host) ? 'udp6' : 'udp4');
      // Errors are reported through send's callback; this only keeps them from being unhandled.
      udp.on('error', () => undefined);
      udp.unref();
      this.udp = udp;
    }
    const udp = this.udp;
    await new Promise<void>((resolve, reject) =>
      udp.send(payload, this.port, this.host, (err) =>
        err ? reject(this.fail('send failed', true, err)) : resolve(),
      ),
    );
  }

  // --- tcp and unix stream sockets -------------------------------------------------------------

  private isUsable(socket: net.Socket): boolean {
    return !socket.destroyed && socket.writable && !socket.writableEnded && socket.readyState === 'open';
  }

  private async sendStream(frame: Buffer): Promise<void> {
    const existing = this.socket;
    if (existing && this.isUsable(existing)) {
      try {
        return await this.write(existing, frame);
      } catch (err) {
        // The connection broke: re-open it once, then give up and let the caller retry.
        this.forget(existing);
        existing.destroy();
        try {
          return await this.write(await this.connect(), frame);
        } catch (err2) {
          throw this.fail(`connection broken (${describeError(err)}) and reconnecting failed`, true, err2);
        }
      }
    }
    if (existing) this.forget(existing);
    let socket: net.Socket;
    try {
      socket = await this.connect();
    } catch (err) {
      throw this.fail('cannot connect', true, err);
    }
    try {
      await this.write(socket, frame);
    } catch (err) {
      throw this.fail('send failed', true, err);
    }
  }

  private connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket =
        this.transport === 'unix'
          ? net.createConnection({ path: this.path! })
          : net.createConnection({ host: this.host, port: this.port });
      // A permanent listener, so that no 'error' event is ever unhandled. Failures surface
      // through the connect promise or the write callbacks.
      socket.on('error', () => undefined);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      const onError = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        if (this.transport === 'tcp') {
          socket.setNoDelay(true);
          socket.setKeepAlive(true, 30_000);
        }
        // Receivers do not talk back; reading (and discarding) is what lets us see the peer's
        // FIN as 'end', so the next send reconnects instead of writing into a dead connection.
        socket.on('data', () => undefined);
        socket.once('end', () => this.forget(socket));
        socket.once('close', () => this.forget(socket));
        socket.unref();
        this.socket = socket;
        resolve(socket);
      });
    });
  }

  private forget(socket: net.Socket): void {
    if (this.socket === socket) this.socket = undefined;
  }

  private write(socket: net.Socket, frame: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.isUsable(socket)) return reject(new Error('connection closed'));
      const onClose = () => reject(new Error('connection closed before the message was written'));
      socket.once('close', onClose);
      socket.write(frame, (err) => {
        socket.off('close', onClose);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private endSocket(socket: net.Socket): Promise<void> {
    return new Promise((resolve) => {
      if (socket.destroyed) return resolve();
      const timer = setTimeout(() => socket.destroy(), this.timeoutMs);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }

  // --- logger(1) -------------------------------------------------------------------------------

  private loggerArgs(msg: SyslogMessage): string[] {
    priority(msg.facility, msg.severity); // throws on an unknown name
    if (LOGGER_UNSUPPORTED.has(msg.facility))
      throw new Error(`facility ${msg.facility} is not supported by logger(1); use udp, tcp or unix`);
    const args = [
      this.format === 'rfc3164' ? '--rfc3164' : '--rfc5424=notq',
      '--socket-errors=on',
      '-u',
      this.path ?? '/dev/log',
      '-p',
      `${msg.facility}.${msg.severity}`,
    ];
    const tag = sanitizeHeaderField(msg.appName, FIELD_LIMITS.appName);
    if (tag) args.push('-t', tag);
    if (msg.procId && /^\d{1,10}$/.test(msg.procId)) args.push(`--id=${msg.procId}`);
    if (this.format === 'rfc3164') {
      args.push('--', rfc3164Content(msg));
      return args;
    }
    const msgId = sanitizeHeaderField(msg.msgId, FIELD_LIMITS.msgId);
    if (msgId) args.push('--msgid', msgId);
    formatStructuredData(msg.structuredData); // validates SD-IDs and names
    for (const [id, params] of Object.entries(msg.structuredData ?? {})) {
      args.push('--sd-id', id);
      for (const [name, value] of Object.entries(params))
        args.push('--sd-param', `${name}="${escapeSdValue(String(value))}"`);
    }
    args.push('--', msg.message);
    return args;
  }

  private async runLogger(msg: SyslogMessage): Promise<void> {
    let args: string[];
    try {
      args = this.loggerArgs(msg);
    } catch (err) {
      throw this.fail('cannot format message', false, err);
    }
    await new Promise<void>((resolve, reject) => {
      const child = spawn(this.loggerPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < 4096) stderr += chunk;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          this.fail(
            missing ? `${this.loggerPath} not found (Debian: bsdutils)` : 'cannot run logger',
            !missing,
            err,
          ),
        );
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) return resolve();
        const why = signal ? `killed by ${signal} (timeout ${this.timeoutMs} ms?)` : `exited with ${code}`;
        reject(this.fail(`logger ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`, true));
      });
    });
  }
}
