/** The `sftp` target's YAML options, validated with zod like every adapter's. */
import { z } from 'zod';

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
