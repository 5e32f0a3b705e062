import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { S3Adapter } from '../../adapters/s3/index.js';
import { SftpAdapter } from '../../adapters/sftp/sftp.js';
import { builtinRegistry } from '../../api/builtins.js';
import type { StorageAdapter } from '../../core/contracts.js';
import { LazyAdapter } from '../../core/repository/lazy-adapter.js';

const s3Options = { bucket: 'backups', endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } };
const sftpOptions = { host: '127.0.0.1', port: 9, username: 'backup', path: 'b', hostKey: `SHA256:${'A'.repeat(43)}`, password: 'x' };
const OPTIONAL = ['getBuffer', 'cleanupTemp', 'lockedUntil', 'extendLock', 'close'] as const;

function shape(adapter: StorageAdapter): Record<string, unknown> {
  const record = adapter as unknown as Record<string, unknown>;
  return { type: adapter.type, capabilities: adapter.capabilities, ...Object.fromEntries(OPTIONAL.map((m) => [m, typeof record[m]])) };
}

describe('s3 and sftp targets load their client libraries on first use', () => {
  it('a lazy target shows the capabilities and optional members of its implementation', async () => {
    const registry = builtinRegistry();
    const cases = [
      { lazy: registry.adapter('s3').create(s3Options, 'cloud'), real: new S3Adapter(s3Options, 'cloud') },
      { lazy: registry.adapter('sftp').create(sftpOptions, 'nas'), real: new SftpAdapter(sftpOptions, 'nas') },
    ];
    for (const { lazy, real } of cases) {
      expect(lazy).toBeInstanceOf(LazyAdapter);
      expect(shape(lazy)).toEqual(shape(real));
      expect(await (lazy as LazyAdapter).real()).toBeInstanceOf(real.constructor);
      await Promise.all([lazy.close?.(), real.close?.()]);
    }
  });

  it('invalid options still fail when the target is created', () => {
    expect(() => builtinRegistry().adapter('s3').create({ bucket: 'backups' }, 'cloud')).not.toThrow();
    expect(() => builtinRegistry().adapter('s3').create({ bucket: 'x' }, 'cloud')).toThrow(/bucket/);
    expect(() =>
      builtinRegistry()
        .adapter('sftp')
        .create({ ...sftpOptions, hostKey: undefined }, 'nas'),
    ).toThrow(/identified/);
  });

  it('the insecure host key warning is given once, at create time', async () => {
    const warnings: string[] = [];
    const lazy = builtinRegistry()
      .adapter('sftp')
      .create({ ...sftpOptions, hostKey: undefined, insecureAcceptAnyHostKey: true }, 'nas', {
        warn: (message) => warnings.push(message),
      });
    expect(warnings).toEqual([expect.stringMatching(/^target "nas": insecureAcceptAnyHostKey is on/)]);
    await (lazy as LazyAdapter).real();
    expect(warnings).toHaveLength(1);
    await lazy.close?.();
  });

  it("`import 'failsafe'` and creating targets load neither the AWS SDK nor ssh2 until a target is used", () => {
    // CommonJS modules imported from ESM appear in require.cache; the SDK's and ssh2's are CommonJS.
    const script = `
      import { createRequire } from 'node:module';
      const { builtinRegistry } = await import(${JSON.stringify(join(import.meta.dirname, '..', '..', 'dist', 'api', 'index.js'))});
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => /[\\\\/](@aws-sdk|@smithy|ssh2)/.test(k)).length;
      const registry = builtinRegistry();
      const s3 = registry.adapter('s3').create(${JSON.stringify(s3Options)}, 'cloud');
      const sftp = registry.adapter('sftp').create(${JSON.stringify(sftpOptions)}, 'nas');
      await s3.close(); await sftp.close();
      const before = loaded();
      await s3.real(); await sftp.real();
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { before: number; after: number };
    expect(out.before).toBe(0);
    expect(out.after).toBeGreaterThan(10);
  });
});
