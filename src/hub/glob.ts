// Shell-style name patterns (`web-*`, `db-0?`), whole name, ignoring case: how rules, pools and
// timer rules select VMs.
export function glob(pattern: string, value: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(value);
}
