// Builds an in-process agent (the same wiring as `forewarn agent`) against a simulator VM.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { loadAgentConfig } from '../../src/agent/config.js';
import { buildAgent } from '../../src/cli/agent.js';

export function tempDir(prefix = 'forewarn-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function startAgent(overrides: Record<string, unknown>, file?: string, tags?: Record<string, string>) {
  const config = loadAgentConfig(file, {}, { 'poll.interval': '200ms', stateDir: tempDir(), ...overrides });
  const log = pino({ level: process.env.FOREWARN_TEST_LOG ?? 'silent' });
  const built = buildAgent(config, { name: String(overrides.vm), ...(tags ? { tags } : {}) }, log);
  built.agent.start();
  return { ...built, config };
}
