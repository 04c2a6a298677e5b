#!/usr/bin/env node
// Entry point of the `forewarn` binary.
import { ApiError } from './http-client.js';
import { program } from './program.js';
import { SimError } from '../simulator/fleet.js';

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof ApiError || err instanceof SimError) {
      process.stderr.write(`forewarn: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  });
