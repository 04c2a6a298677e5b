// The nats-server `authorization { users = [...] }` block for a fleet: one user per VM that may
// publish only on its own subjects (forewarn.events|commands|results.<vm>) and read only its own
// reply inbox, and one hub user that may consume the stream and answer agents. nats-server itself
// enforces it, so a VM's credentials cannot publish or read for another VM.
import { randomBytes } from 'node:crypto';
import { DEFAULT_STREAM, subjects, VM_TOKEN } from './config.js';

export interface NatsUser {
  user: string;
  password: string;
  publish: string[];
  subscribe: string[];
}

export const newPassword = () => randomBytes(24).toString('base64url');

export function vmUser(vm: string, password: string): NatsUser {
  if (!VM_TOKEN.test(vm)) throw new Error(`VM name ${JSON.stringify(vm)} cannot be a NATS subject token`);
  return {
    user: vm,
    password,
    publish: [subjects.events(vm), subjects.commands(vm), subjects.results(vm)],
    subscribe: [`${subjects.inbox(vm)}.>`],
  };
}

/** The hub: the JetStream API and acks of its stream, answers to agents, its own inbox. */
export function hubUser(user: string, password: string, stream = DEFAULT_STREAM): NatsUser {
  return {
    user,
    password,
    publish: ['$JS.API.>', `$JS.ACK.${stream}.>`, '_INBOX.>'],
    subscribe: [subjects.allCommands, subjects.allResults, '_INBOX.>'],
  };
}

const q = (s: string) => JSON.stringify(s);

/** A config fragment for nats-server.conf (`include` it, or paste it at the top level). */
export function authorizationBlock(users: NatsUser[]): string {
  const lines = users.map(
    (u) =>
      `    { user: ${q(u.user)}, password: ${q(u.password)}, permissions: { ` +
      `publish: { allow: [${u.publish.map(q).join(', ')}] }, ` +
      `subscribe: { allow: [${u.subscribe.map(q).join(', ')}] } } }`,
  );
  return `# forewarn: one NATS user per VM, each limited to its own subjects (forewarn nats-config)\nauthorization {\n  users = [\n${lines.join('\n')}\n  ]\n}\n`;
}
