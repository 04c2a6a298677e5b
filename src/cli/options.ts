// Option parsers for commander that fail with a message naming the option.
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../core/time.js';

export function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
}

export function rate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a rate from 0 to 1');
  return n;
}

export function duration(value: string): string {
  try {
    parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

export function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf('=');
  if (i < 1) throw new InvalidArgumentError('expected key=value');
  return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
}

export function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * A cloud duration for the simulator's options: a bare non-negative number is seconds, sent on as
 * `<n>s` (`--in 90` is `--in 90s`), as the control API takes a number as seconds; anything else
 * must be a duration `duration` accepts.
 */
export function durationOrSeconds(value: string): string {
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return `${s}s`;
  return duration(value);
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/** A boolean option's value, from the command line or an environment variable: true/false, 1/0, yes/no, on/off. */
export function booleanValue(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new InvalidArgumentError('expected true|false, 1|0, yes|no or on|off');
}

/** A switch given as `on` or `off` (also `true` or `false`), case-insensitive. */
export function onOff(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new InvalidArgumentError('expected on or off');
}
