/**
 * The YAML keys that make jobs run themselves: retention (and, per job, its
 * overrides per target). Kept apart from schema.ts so the core shape stays
 * short; schema.ts adds these to a job.
 */
import { pickDefined } from '../util/defined.js';
import { isFailsafeError } from '../errors.js';
import { z } from 'zod';
import type { JobHooks } from '../backup/hooks.js';
import type { JobNotify } from '../automation/notify.js';
import { parseDurationText, type RetentionPolicy } from '../maintenance/retention.js';
import { cronOf } from '../automation/scheduler.js';

const count = z.number().int().min(0);

export const retentionPolicySchema = z
  .object({
    keepLast: count.optional(),
    keepHourly: count.optional(),
    keepDaily: count.optional(),
    keepWeekly: count.optional(),
    keepMonthly: count.optional(),
    keepYearly: count.optional(),
    keepWithin: z
      .string()
      .refine((v) => parseDurationText(v) !== undefined, 'expected a duration like 36h, 14d, 2w, 6m or 1y6m')
      .optional(),
    keepDays: z.number().positive().optional(),
  })
  .strict();

export const retentionSchema = retentionPolicySchema.extend({ perTarget: z.record(z.string(), retentionPolicySchema).optional() }).strict();

/** `36h`, `2d`, `1w` → milliseconds: fixed lengths only (no months or years). */
export const fixedDurationSchema = z.string().transform((text, ctx) => {
  const d = parseDurationText(text);
  if (!d || d.years > 0 || d.months > 0 || d.days * 24 + d.hours === 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration in weeks, days or hours, like 26h, 2d or 1w' });
    return z.NEVER;
  }
  return (d.days * 24 + d.hours) * 3_600_000;
});

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const timeZoneSchema = z.string().refine(isTimeZone, 'expected an IANA time zone like Europe/Berlin or UTC');

/** The job keys of this file, as the loader hands them on. */
export interface JobAutomation {
  /** The job's policy; an empty policy keeps everything. */
  retention: RetentionPolicy;
  /** Policies that replace `retention` on one target. */
  retentionPerTarget: Record<string, RetentionPolicy>;
  /** `status` flags the job when its newest snapshot is older than this (ms). */
  alertAfterMs?: number;
  hooks?: JobHooks;
  notify?: JobNotify;
  /** Cron expression for `failsafe daemon`. */
  schedule?: string;
  catchUp: boolean;
  jitterMs: number;
}

const hookCommand = z.string().min(1, 'the command is empty');
const hooksSchema = z
  .object({
    before: hookCommand.optional(),
    after: hookCommand.optional(),
    onError: hookCommand.optional(),
    afterRestore: hookCommand.optional(),
    timeoutSeconds: z.number().positive().max(86_400).default(600),
  })
  .strict();

const cron = z.string().superRefine((value, ctx) => {
  try {
    cronOf(value).stop();
  } catch (err) {
    if (isFailsafeError(err, 'E_DEPENDENCY')) throw err;
    ctx.addIssue({ code: 'custom', message: `not a cron expression: ${(err as Error).message.replace(/^CronPattern: /, '')}` });
  }
});

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });
const notifySchema = z
  .object({
    ping: httpUrl.transform((u) => u.replace(/\/+$/, '')).optional(),
    webhook: httpUrl.optional(),
    timeoutSeconds: z.number().positive().max(300).default(10),
  })
  .strict();

/** Top-level keys: what else the daemon runs, and where it remembers last runs. */
export const daemonKeys = {
  schedules: z.object({ prune: cron.optional(), drill: cron.optional() }).strict().optional(),
  stateFile: z.string().min(1).optional(),
};

/** The job keys this file adds to a job's schema. */
export const jobAutomationKeys = {
  retention: retentionSchema.optional(),
  alertAfter: fixedDurationSchema.optional(),
  hooks: hooksSchema.optional(),
  notify: notifySchema.optional(),
  schedule: cron.optional(),
  catchUp: z.boolean().default(false),
  jitterSeconds: z.number().min(0).max(86_400).default(0),
};

type RawJobAutomation = {
  retention?: z.output<typeof retentionSchema> | undefined;
  alertAfter?: number | undefined;
  hooks?: z.output<typeof hooksSchema> | undefined;
  notify?: z.output<typeof notifySchema> | undefined;
  schedule?: string | undefined;
  catchUp: boolean;
  jitterSeconds: number;
};

/** The loaded form; `fail` reports a problem at a key path inside the job. */
export function jobAutomation(raw: RawJobAutomation, targets: string[], fail: (at: (string | number)[], message: string) => never): JobAutomation {
  const { perTarget = {}, ...retention } = raw.retention ?? {};
  for (const target of Object.keys(perTarget)) {
    if (!targets.includes(target)) fail(['retention', 'perTarget', target], `"${target}" is not one of this job's targets (${targets.join(', ')})`);
  }
  const hooks = raw.hooks && {
    ...pickDefined({ before: raw.hooks.before, after: raw.hooks.after, onError: raw.hooks.onError, afterRestore: raw.hooks.afterRestore }),
    timeoutMs: raw.hooks.timeoutSeconds * 1000,
  };
  return {
    retention,
    retentionPerTarget: perTarget,
    ...(raw.alertAfter === undefined ? {} : { alertAfterMs: raw.alertAfter }),
    ...(hooks ? { hooks } : {}),
    ...(raw.notify ? { notify: { ...pickDefined({ ping: raw.notify.ping, webhook: raw.notify.webhook }), timeoutMs: raw.notify.timeoutSeconds * 1000 } } : {}),
    ...(raw.schedule === undefined ? {} : { schedule: raw.schedule }),
    catchUp: raw.catchUp,
    jitterMs: raw.jitterSeconds * 1000,
  };
}
