import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { publishedSchemas } from './schemas.js';

describe('published JSON Schemas', () => {
  it.each(Object.entries(publishedSchemas()))('%s is up to date (run npm run schemas)', (file, schema) => {
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(schema);
  });
});
