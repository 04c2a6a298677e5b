// Scenario and other simulator input: schema errors become a 400 naming the field.
import type { TSchema } from '@sinclair/typebox';
import { firstSchemaError } from '../core/validate.js';
import { SimError } from './fleet.js';

export function assertValid(schema: TSchema, value: unknown, root: string): void {
  const error = firstSchemaError(schema, value, root);
  if (error) throw new SimError(400, `${error.path}: ${error.message}`);
}
