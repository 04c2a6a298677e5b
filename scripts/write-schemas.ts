// Writes the published JSON Schemas under docs/ from the TypeBox definitions the code validates
// with, so the documentation can never drift (a test compares them).
import { writeFileSync } from 'node:fs';
import { publishedSchemas } from '../src/schemas.js';

for (const [file, schema] of Object.entries(publishedSchemas())) {
  writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote ${file}\n`);
}
