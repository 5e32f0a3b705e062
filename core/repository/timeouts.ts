/**
 * Time-outs a user can reason about (issue 25): three limits for a remote
 * target — connecting, a connection that goes silent mid-transfer (idle), and
 * one request as a whole (operation) — set per target in the YAML, overridden
 * for a run by `--timeout connect=10s,idle=30s,operation=2h`, and a give-up
 * message that counts what happened ("the connection stalled 4 times, 30 s
 * each") instead of a bare "timed out".
 */
import { FailsafeError } from '../errors.js';

export interface Timeouts {
  /** Giving up on opening a connection (and, for SSH, its handshake). */
  connectMs?: number;
  /** Giving up on a connection that passes no byte for this long, mid-request. */
  idleMs?: number;
  /** Giving up on one request (one attempt) that is still not done after this long, however slowly bytes trickle. */
  operationMs?: number;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

/** `30s`, `1m30s`, `2h`, `500ms` → milliseconds; undefined when unreadable or zero. */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < trimmed.length) {
    const at = PART.lastIndex;
    const match = PART.exec(trimmed);
    if (!match || match.index !== at) return undefined;
    total += Number(match[1]) * UNITS[match[2]!]!;
  }
  return trimmed === '' || total <= 0 ? undefined : Math.round(total);
}

const KEYS: Record<string, keyof Timeouts> = { connect: 'connectMs', idle: 'idleMs', operation: 'operationMs' };

/** `connect=10s,idle=30s,operation=2h` (any of the three, in any order) → Timeouts; E_USAGE naming what is wrong. */
export function parseTimeouts(text: string): Timeouts {
  const out: Timeouts = {};
  for (const item of text.split(',').map((part) => part.trim())) {
    const [name = '', value = '', ...extra] = item.split('=');
    const key = KEYS[name.trim()];
    const ms = parseDurationMs(value);
    if (!key || ms === undefined || extra.length > 0) {
      throw new FailsafeError(
        'E_USAGE',
        `--timeout: "${item}" is not a time-out; expected connect=, idle= or operation= with a duration like 10s, 1m30s or 2h, e.g. idle=30s,connect=10s`,
      );
    }
    out[key] = ms;
  }
  return out;
}

/** `30 s`, `2 min`, `1.5 h`: a limit for people. */
export function formatLimit(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${+(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}

/** How the attempts of one request ended, for the message when it gives up. */
export interface GiveUp {
  tries: number;
  /** Attempts whose connection went silent mid-request, each after `idleMs`. */
  stalls: number;
  idleMs: number;
  /** Attempts that could not connect within `connectMs`. */
  connects: number;
  connectMs: number;
}

const times = (n: number): string => (n === 1 ? 'once' : `${n} times`);

/**
 * `gave up after 4 tries: the connection stalled 3 times, 30 s each, and connecting timed out once (20 s)`;
 * undefined when no attempt timed out (the failure's own message says it best then).
 */
export function describeGivingUp(g: GiveUp): string | undefined {
  const parts: string[] = [];
  if (g.stalls > 0) parts.push(`the connection stalled ${times(g.stalls)}, ${formatLimit(g.idleMs)}${g.stalls > 1 ? ' each' : ''} without a byte`);
  if (g.connects > 0) parts.push(`connecting timed out ${times(g.connects)} (${formatLimit(g.connectMs)}${g.connects > 1 ? ' each' : ''})`);
  if (parts.length === 0) return undefined;
  return `gave up after ${g.tries === 1 ? '1 try' : `${g.tries} tries`}: ${parts.join(', and ')}`;
}
