// Times and durations as people read them: "in 4m 12s", "3m ago", "2026-11-23 01:02:03 UTC".

export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "in 4m 12s" for the future, "4m 12s ago" for the past. */
export function relative(iso: string | undefined, now: number): string {
  if (!iso) return '—';
  const d = Date.parse(iso) - now;
  return d >= 0 ? `in ${duration(d)}` : `${duration(d)} ago`;
}

export function utc(iso: string | undefined): string {
  if (!iso) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** Short axis label for an offset from now. */
export function offsetLabel(ms: number): string {
  if (ms === 0) return 'now';
  const m = ms / 60_000;
  if (m < 60) return `+${Math.round(m)}m`;
  const h = m / 60;
  if (h < 48) return `+${Number.isInteger(h) ? h : h.toFixed(1)}h`;
  return `+${Math.round(h / 24)}d`;
}

/** The event's key in a URL: provider/eventId, each part escaped. */
export function eventPath(key: string): string {
  const i = key.indexOf('/');
  return `#/events/${encodeURIComponent(key.slice(0, i))}/${encodeURIComponent(key.slice(i + 1))}`;
}
