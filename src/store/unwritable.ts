// Recognises a store write that failed for want of disk (full, read-only, I/O error) rather than a
// bug: the hub answers those with 503 and Retry-After, so publishers keep the data and retry.

/** SQLite result codes (better-sqlite3 puts them in `code`, extended codes included) and errno. */
const SQLITE_PREFIXES = ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN'];
const ERRNO = new Set(['ENOSPC', 'EROFS', 'EDQUOT', 'EIO']);
/** PostgreSQL SQLSTATEs: disk_full, insufficient_resources, out_of_memory, read_only_sql_transaction. */
const PG_STATES = new Set(['53100', '53000', '53200', '25006']);

/** Why the store cannot write (for the answer and the log), or undefined for any other error. */
export function storeUnwritable(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (SQLITE_PREFIXES.some((p) => code.startsWith(p)) || ERRNO.has(code) || PG_STATES.has(code))
    return `the store cannot write (${code}: ${(err as Error).message.slice(0, 120)})`;
  return undefined;
}
