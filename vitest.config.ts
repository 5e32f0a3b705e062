import { defineConfig } from 'vitest/config';

/**
 * The tests that start real servers (sshd, s3rver, Swift), kill or crash a
 * process, spawn the built CLI or an example, or mount file systems: slow, and
 * needing what CI installs. Everything else is the unit project, which stays
 * under two minutes on two cores. A new test file lands in unit; add it here
 * when it does one of the above or takes more than a few seconds.
 */
const integration = [
  'test/cli/dump.test.ts', // many CLI runs over 3 MiB snapshots
  'test/cli/forget.test.ts', // many CLI runs, format 2 pack sweeps
  'test/cli/keys-rotate-v2.test.ts', // many CLI runs: backups, rotations, restores over format 2
  'test/adapters/s3.test.ts', // s3rver and Swift
  'test/adapters/s3-wire.test.ts', // s3rver and Swift behind a fault-injecting proxy
  'test/adapters/sftp.test.ts', // sshd
  'test/adapters/sftp-wire.test.ts', // sshd behind a fault-injecting proxy
  'test/crash/**/*.test.ts', // kill -9 mid-backup, against local, sshd and s3rver
  'test/checkpoints/example.test.ts', // kill -9 of the checkpoint example
  'test/cli/s3.test.ts', // s3rver
  'test/cli/wire-faults.test.ts', // s3rver behind a fault-injecting proxy
  'test/cli/sftp-target.test.ts', // sshd
  'test/cli/sftp-wire-faults.test.ts', // sshd behind a fault-injecting proxy
  'test/cli/daemon.test.ts', // spawns the daemon and stops it
  'test/cli/launcher.test.ts', // spawns bin/failsafe.js
  'test/cli/closed-pipe.test.ts', // spawns bin/failsafe.js with a pipe closed early
  'test/cli/startup.test.ts', // spawns the built CLI to see what it loads
  'test/cli/recovery.test.ts', // kill -9 of a backup
  'test/cli/signals.test.ts', // spawns the built CLI and signals it mid-backup
  'test/cli/terminal.test.ts', // spawns the built CLI on a pseudo-terminal
  'test/cli/restore-rollback.test.ts', // kill -9 of a restore
  'test/cli/restore-settle.test.ts', // kill -9 of a restore, then the next command
  'test/api/storage-faults.test.ts', // a faulty target under every command, both formats: many backups and restores
  'test/cli/orphan-staging.test.ts', // dead restores' staging folders met by every command: many CLI runs
  'test/cli/state-folder.test.ts', // backups and restores in place through the CLI
  'test/cli/pre-restore-expiry.test.ts', // expired .pre-restore copies met by recover, prune and restore: many CLI runs
  'test/cli/safe-restore.test.ts', // spawns the built CLI as an unprivileged user
  'test/cli/bad-input.test.ts', // spawns the built CLI as an unprivileged user
  'test/cli/disk-space.test.ts', // mounts tmpfs file systems
  'test/plugins/sqlite.test.ts', // kill -9 of a writer process
  'test/examples/**/*.test.ts', // the examples, against the built package
  'test/tools/**/*.test.ts', // the tools, as scripts in child processes
  'test/ui/**/*.test.ts', // the dashboard's HTTP server over real backups: tens of seconds
  'test/install/**/*.test.ts', // npm pack and npm install -g into a fresh prefix: native builds, minutes
  'test/adversarial/damage-sweep-v*.test.ts', // hundreds of restores of a damaged snapshot (thousands with FAILSAFE_SWEEP=full)
  'test/adversarial/files.test.ts', // backups and restores through the CLI, both formats
];

const shared = {
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks',
} as const;

export default defineConfig({
  test: {
    // Worker threads and some tests load dist/: one build, before either project runs, keeps it fresh.
    globalSetup: ['test/setup/build.ts'],
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/**/*.test.ts'], exclude: integration } },
      { test: { ...shared, name: 'integration', include: integration } },
    ],
  },
});
