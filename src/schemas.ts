// The JSON Schemas forewarn publishes for its configuration files, by output path.
import { AgentConfigSchema } from './agent/config.js';
import { HubConfigSchema } from './hub/config.js';
import { Rule } from './hub/rules.js';
import { ScenarioDocument } from './simulator/schemas.js';

export function publishedSchemas(): Record<string, unknown> {
  const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return {
    'docs/agent-config.schema.json': {
      $schema: 'http://json-schema.org/draft-07/schema#',
      ...plain(AgentConfigSchema),
    },
    'docs/hub-config.schema.json': {
      $schema: 'http://json-schema.org/draft-07/schema#',
      ...plain(HubConfigSchema),
    },
    // One rule (an item of the hub config's `rules:`, a rules file, or PUT /api/v1/rules/{name}).
    'docs/rule.schema.json': {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://forewarn.dev/schemas/rule.json',
      title: 'forewarn hub rule',
      ...plain(Rule),
    },
    'docs/scenario.schema.json': {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://forewarn.dev/schemas/scenario.json',
      title: 'forewarn simulator scenario',
      ...plain(ScenarioDocument),
    },
  };
}
