// A capture SMTP server (smtp-server) that keeps what it receives in memory, parsed: the demo
// points its email rules here so a newcomer sees the mails the rules would send, and the tests
// use it as the real receiving end. Optional STARTTLS or implicit TLS, and AUTH with fixed users.
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface CapturedMail {
  id: number;
  receivedAt: string;
  /** Envelope sender and recipients (what the client said in MAIL FROM / RCPT TO). */
  envelope: { from: string; to: string[] };
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  messageId?: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  /** The session was encrypted (STARTTLS or implicit TLS). */
  secure: boolean;
  /** The authenticated user, if the client logged in. */
  user?: string;
}

export interface MailCaptureOptions {
  host?: string;
  port?: number;
  /** PEM key and certificate: offers STARTTLS (or implicit TLS with `implicitTls`). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  implicitTls?: boolean;
  /** With users, AUTH is required (after TLS, if TLS is on); without, AUTH is not offered. */
  users?: Record<string, string>;
  /** Answer RCPT TO for matching addresses with this SMTP code (tests of permanent rejection). */
  reject?: { recipients: RegExp; code: number };
  /** Keep at most this many mails (oldest dropped). Default 500. */
  max?: number;
  /** Told about each mail as it arrives (the demo prints a line). */
  onMail?: (mail: CapturedMail) => void;
}

export interface MailCapture {
  host: string;
  port: number;
  /** Newest last. */
  list(): CapturedMail[];
  clear(): void;
  /** Resolves with the mails once there are at least `n` (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<CapturedMail[]>;
  close(): Promise<void>;
}

const addresses = (a: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((o) => o.value.map((v) => v.address ?? ''));

export async function startMailCapture(o: MailCaptureOptions = {}): Promise<MailCapture> {
  const mails: CapturedMail[] = [];
  const max = o.max ?? 500;
  let nextId = 1;
  const waiters = new Set<() => void>();
  const options: SMTPServerOptions = {
    secure: o.implicitTls ?? false,
    key: o.tls?.key,
    cert: o.tls?.cert,
    hideSTARTTLS: !o.tls || o.implicitTls,
    authOptional: !o.users,
    disabledCommands: o.users ? [] : ['AUTH'],
    logger: false,
    size: 10 * 1024 * 1024,
    onAuth(auth, _session, cb) {
      const ok = o.users && auth.username && o.users[auth.username] === auth.password;
      if (!ok) return cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      cb(null, { user: auth.username });
    },
    onRcptTo(address, _session, cb) {
      if (o.reject && o.reject.recipients.test(address.address)) {
        return cb(
          Object.assign(new Error(`<${address.address}>: recipient rejected`), {
            responseCode: o.reject.code,
          }),
        );
      }
      cb();
    },
    onData(stream, session, cb) {
      simpleParser(stream).then(
        (parsed) => {
          const headers: Record<string, string> = {};
          for (const line of parsed.headerLines)
            headers[line.key] = line.line.slice(line.key.length + 1).trim();
          mails.push({
            id: nextId++,
            receivedAt: new Date().toISOString(),
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            from: addresses(parsed.from)[0] ?? '',
            to: addresses(parsed.to),
            cc: addresses(parsed.cc),
            subject: parsed.subject ?? '',
            messageId: parsed.messageId,
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            headers,
            secure: session.secure,
            user: typeof session.user === 'string' ? session.user : undefined,
          });
          if (mails.length > max) mails.splice(0, mails.length - max);
          o.onMail?.(mails[mails.length - 1]!);
          for (const w of waiters) w();
          cb();
        },
        (err: Error) => cb(err),
      );
    },
  };
  const server = new SMTPServer(options);
  server.on('error', () => undefined); // client errors (a dropped TLS handshake) are not ours
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host,
    port,
    list: () => [...mails],
    clear: () => void mails.splice(0),
    waitFor(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (mails.length < n) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve([...mails]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`mail capture: ${mails.length} of ${n} mails after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
