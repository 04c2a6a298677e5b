import { describe, expect, it } from 'vitest';
import { storeUnwritable } from './unwritable.js';

const err = (code: unknown, message = 'boom') => Object.assign(new Error(message), { code });

describe('storeUnwritable', () => {
  it.each([
    'SQLITE_FULL',
    'SQLITE_READONLY',
    'SQLITE_READONLY_DBMOVED',
    'SQLITE_IOERR_WRITE',
    'ENOSPC',
    'EROFS',
    '53100',
    '25006',
  ])('%s: the store cannot write', (code) =>
    expect(storeUnwritable(err(code, 'database or disk is full'))).toMatch(
      new RegExp(`^the store cannot write \\(${code}: `),
    ),
  );
  it.each([undefined, 42, 'SQLITE_CONSTRAINT_UNIQUE', '23505', 'ECONNRESET'])(
    '%s: some other error',
    (code) => expect(storeUnwritable(err(code))).toBeUndefined(),
  );
  it('not an error at all', () => expect(storeUnwritable(null)).toBeUndefined());
});
