/** The `sftp` target's YAML options, validated with zod like every adapter's. */
import { z } from 'zod';
import type { Timeouts } from '../../core/repository/timeouts.js';

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export const sftpOptionsSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    username: z.string().min(1),
    /** Folder on the server; relative to the login directory unless it starts with `/`. */
    path: z.string().min(1),
    hostKey: z
      .union([z.string(), z.array(z.string()).min(1)])
      .transform((value) => (Array.isArray(value) ? value : [value]))
      .refine(
        (keys) => keys.every((key) => FINGERPRINT.test(key)),
        'expected a SHA256 fingerprint as `ssh-keygen -lf` prints it, e.g. "SHA256:…" (43 characters after the colon)',
      )
      .optional(),
    knownHosts: z.string().min(1).optional(),
    insecureAcceptAnyHostKey: z.boolean().default(false),
    privateKey: z.string().min(1).optional(),
    passphrase: z.string().optional(),
    /** `true` for $SSH_AUTH_SOCK, or the agent's socket path. */
    agent: z.union([z.boolean(), z.string().min(1)]).optional(),
    password: z.string().optional(),
    connections: z.number().int().min(1).max(16).default(2),
    connectTimeoutMs: z.number().int().min(100).default(20_000),
    keepaliveIntervalMs: z.number().int().min(0).default(10_000),
    keepaliveCountMax: z.number().int().min(1).default(3),
    /** A connection silent this long is dead: sets the keepalive interval to this over keepaliveCountMax. Default 30 s (10 s × 3). */
    idleTimeoutMs: z.number().int().min(100).optional(),
    /** One attempt of one request, a transfer's body included, that is not done after this long drops its connection (and is retried). */
    operationTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(2 * 3_600_000),
    retries: z.number().int().min(0).max(10).default(3),
  })
  .strict()
  .superRefine((options, ctx) => {
    const trust = [options.hostKey, options.knownHosts, options.insecureAcceptAnyHostKey || undefined].filter((x) => x !== undefined);
    if (trust.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['hostKey'], message: 'the server must be identified: give hostKey (its SHA256 fingerprint) or knownHosts' });
    } else if (trust.length > 1) {
      ctx.addIssue({ code: 'custom', path: ['hostKey'], message: 'give only one of hostKey, knownHosts and insecureAcceptAnyHostKey' });
    }
    if (options.privateKey === undefined && options.agent === undefined && options.password === undefined) {
      ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'no way to log in: give privateKey, agent or password' });
    }
  });

export type SftpOptions = z.output<typeof sftpOptionsSchema>;
export type SftpOptionsInput = z.input<typeof sftpOptionsSchema>;

/** The options with a run's `--timeout` overrides over the YAML's; an idle time-out sets the keepalive interval. */
export function withTimeouts(options: SftpOptions, timeouts: Timeouts | undefined): SftpOptions {
  const idle = timeouts?.idleMs ?? options.idleTimeoutMs;
  return {
    ...options,
    connectTimeoutMs: timeouts?.connectMs ?? options.connectTimeoutMs,
    operationTimeoutMs: timeouts?.operationMs ?? options.operationTimeoutMs,
    ...(idle === undefined ? {} : { idleTimeoutMs: idle, keepaliveIntervalMs: Math.max(1, Math.ceil(idle / options.keepaliveCountMax)) }),
  };
}

/** How long a silent connection lives: its keepalives, unanswered. */
export function idleOf(options: SftpOptions): number {
  return options.keepaliveIntervalMs * options.keepaliveCountMax;
}
