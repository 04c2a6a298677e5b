// The shipped example config and unit must stay valid.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { firstSchemaError } from '../../src/core/validate.js';
import { AgentConfigSchema } from '../../src/agent/config.js';

describe('deploy/', () => {
  it('agent.example.yaml validates against the agent config schema', () => {
    const config = parse(readFileSync('deploy/agent.example.yaml', 'utf8'));
    expect(firstSchemaError(AgentConfigSchema, config)).toBeUndefined();
  });
  it('the systemd unit runs the agent with the example config path', () => {
    const unit = readFileSync('deploy/forewarn-agent.service', 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/forewarn agent --config \/etc\/forewarn\/agent.yaml$/m);
    expect(unit).toMatch(/^Restart=always$/m);
  });
});
