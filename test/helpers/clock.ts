/** A clock the test sets; it keeps running at real speed from where it was set. */
export function testClock(start: string) {
  let offset = Date.parse(start) - Date.now();
  return {
    now: () => Date.now() + offset,
    set(iso: string) {
      offset = Date.parse(iso) - Date.now();
    },
  };
}
