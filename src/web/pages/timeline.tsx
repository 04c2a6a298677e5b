// The fleet's upcoming maintenance: one row per VM, each event a bar from now to NotBefore (the
// lead time, pale) and from NotBefore to its expected end (solid), coloured by type, with a live
// countdown to the row's next event.
import type { TimelineEvent, TimelineRow } from '../../hub/dashboard-types.js';
import { duration, eventPath, offsetLabel, utc } from '../format.js';

const HORIZONS: Record<string, number> = { '15m': 9e5, '1h': 36e5, '6h': 216e5, '24h': 864e5, '7d': 6048e5 };
export const HORIZON_NAMES = ['auto', ...Object.keys(HORIZONS)];

/** Unknown durations are drawn this long, faded. */
const UNKNOWN_MS = 5 * 60_000;

const startOf = (e: TimelineEvent, now: number) => (e.notBefore ? Date.parse(e.notBefore) : now);
const endOf = (e: TimelineEvent, now: number) =>
  e.expectedEnd ? Date.parse(e.expectedEnd) : startOf(e, now) + UNKNOWN_MS;

/** Axis ticks at round offsets (every 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1, 2 d), 3 to 8 of them. */
function tickFractions(horizon: number): number[] {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880].map((m) => m * 60_000);
  const step = steps.find((s) => horizon / s <= 7) ?? horizon / 4;
  const ticks: number[] = [];
  for (let t = 0; t <= horizon + 1; t += step) ticks.push(t / horizon);
  return ticks;
}

/** Overlapping events of a row go to separate lanes (greedy, in start order), so none hides another. */
function laneOf(events: TimelineEvent[], now: number): { of: number[]; count: number } {
  const ends: number[] = [];
  const of = events.map((e) => {
    const s = startOf(e, now);
    let lane = ends.findIndex((end) => end <= s);
    if (lane < 0) lane = ends.push(0) - 1;
    ends[lane] = endOf(e, now);
    return lane;
  });
  return { of, count: Math.max(1, ends.length) };
}
const LANE = 10;
const laneHeight = (count: number) => (count === 1 ? 16 : LANE - 2);
const trackHeight = (count: number) => (count === 1 ? 16 : count * LANE - 2);

/** The window's length: the chosen horizon, or one that fits the latest end shown (rounded up). */
export function horizonMs(name: string, rows: TimelineRow[], now: number): number {
  if (HORIZONS[name]) return HORIZONS[name]!;
  const latest = Math.max(now, ...rows.flatMap((r) => r.events.map((e) => endOf(e, now))));
  const span = Math.max(5 * 60_000, (latest - now) * 1.08);
  const steps = [5, 10, 15, 30, 60, 120, 240, 360, 720, 1440, 2880, 10080, 43200].map((m) => m * 60_000);
  return steps.find((s) => s >= span) ?? span;
}

export function Timeline({ rows, now, horizon }: { rows: TimelineRow[]; now: number; horizon: number }) {
  const pct = (t: number) => Math.min(100, Math.max(0, ((t - now) / horizon) * 100));
  const ticks = tickFractions(horizon);
  return (
    <div class="timeline" role="table" aria-label="upcoming maintenance">
      <div class="tl-row tl-axis" role="row">
        <div class="tl-label" />
        <div class="tl-track">
          {ticks.map((f) => (
            <span class="tick" style={{ left: `${f * 100}%` }}>
              {offsetLabel(Math.round(f * horizon))}
            </span>
          ))}
        </div>
        <div class="tl-next">next</div>
      </div>
      {rows.map((row) => {
        const next = row.events[0]!;
        const nextStart = startOf(next, now);
        const lanes = laneOf(row.events, now);
        return (
          <div
            class="tl-row"
            role="row"
            data-row={`${row.kind}:${row.label}`}
            key={`${row.kind}:${row.label}`}
          >
            <div
              class="tl-label"
              title={row.kind === 'pool' ? `pool ${row.label}: ${row.vms.join(', ')}` : row.label}
            >
              {row.label}
              {row.kind === 'pool' ? (
                <span class="muted"> · pool of {row.vms.length}</span>
              ) : (
                row.pool && <span class="muted"> · {row.pool}</span>
              )}
            </div>
            <div class="tl-track" style={{ height: `${trackHeight(lanes.count)}px` }}>
              {row.events.map((e, i) => {
                const s = startOf(e, now);
                const end = endOf(e, now);
                const top = lanes.of[i]! * LANE;
                const title = `${e.type} (${e.origin}, ${e.status}) ${e.eventId}\nNotBefore ${utc(e.notBefore)}\n${e.expectedEnd ? `expected end ${utc(e.expectedEnd)}` : 'duration unknown'}${e.description ? `\n${e.description}` : ''}`;
                return (
                  <>
                    {s > now && (
                      <span
                        class={`lead type-${e.type}`}
                        style={{
                          left: '0%',
                          width: `${pct(s)}%`,
                          top: `${top + (laneHeight(lanes.count) - 4) / 2}px`,
                        }}
                      />
                    )}
                    <a
                      class={`window type-${e.type} ${e.status} ${e.expectedEnd ? '' : 'unknown'}`}
                      href={eventPath(e.key)}
                      data-event-key={e.key}
                      title={title}
                      style={{
                        left: `${pct(s)}%`,
                        width: `${Math.max(0.6, pct(end) - pct(s))}%`,
                        top: `${top}px`,
                        height: `${laneHeight(lanes.count)}px`,
                      }}
                    />
                  </>
                );
              })}
            </div>
            <div class="tl-next" data-countdown>
              <span class={`dot type-${next.type}`} />
              {next.status === 'started' || nextStart <= now
                ? `${next.type} under way`
                : `${next.type} in ${duration(nextStart - now)}`}
              {row.events.length > 1 && <span class="muted"> +{row.events.length - 1}</span>}
            </div>
          </div>
        );
      })}
    </div>
  );
}

export function Legend({ rows }: { rows: TimelineRow[] }) {
  const types = [...new Set(rows.flatMap((r) => r.events.map((e) => e.type)))].sort();
  if (!types.length) return null;
  return (
    <div class="legend">
      {types.map((t) => (
        <span>
          <span class={`dot type-${t}`} /> {t}
        </span>
      ))}
      <span class="muted">pale: until NotBefore · solid: expected window · faded: duration unknown</span>
    </div>
  );
}
