import { createHash, randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SftpAdapter } from '../../adapters/sftp/sftp.js';
import type { SftpOptionsInput } from '../../adapters/sftp/options.js';
import type { FailsafeError } from '../../core/errors.js';
import { TEMP_PREFIX } from '../../core/fs/atomic.js';
import { Storage } from '../../core/repository/storage.js';
import { testStorageAdapter } from '../conformance/storage.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { failure } from '../helpers/errors.js';

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

let sshd: Sshd;
let stores = 0;
beforeAll(async () => {
  sshd = await startSshd();
}, 30_000);
afterAll(async () => sshd?.stop());

function options(extra: Partial<SftpOptionsInput> = {}): SftpOptionsInput {
  return {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    path: join(sshd.dir, `store-${++stores}`),
    hostKey: sshd.fingerprint,
    privateKey: sshd.clientKey,
    ...extra,
  };
}

testStorageAdapter('sftp', {
  create: async () => new SftpAdapter(options()),
  destroy: async (adapter) => rm((adapter as SftpAdapter).root, { recursive: true, force: true }),
  reopen: async (adapter) => new SftpAdapter({ ...(adapter as SftpAdapter).options }),
  folder: (adapter) => adapter as SftpAdapter,
});

describe('sftp: who the server is, and who we are', () => {
  const attempt = async (extra: Partial<SftpOptionsInput>): Promise<FailsafeError> => {
    const storage = new Storage(new SftpAdapter(options(extra), 'nas'), 'nas');
    try {
      return await failure(storage.put('x', Buffer.from('x')));
    } finally {
      await storage.close();
    }
  };

  it('refuses a host key that does not match the pinned fingerprint, showing the one seen', async () => {
    const err = await attempt({ hostKey: `SHA256:${'A'.repeat(43)}` });
    expect(err.code).toBe('E_HOST_KEY');
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain(sshd.fingerprint);
    expect(err.message).toContain('nas');
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('accepts a hashed known_hosts entry and refuses a host missing from it or with another key', async () => {
    const good = new Storage(new SftpAdapter(options({ hostKey: undefined, knownHosts: sshd.knownHosts })), 'nas');
    await good.put('k', Buffer.from('ok'));
    expect((await good.getBuffer('k')).toString()).toBe('ok');
    await good.close();

    const empty = join(sshd.dir, 'known_hosts_empty');
    await writeFile(empty, '# nothing yet\n');
    const unknown = await attempt({ hostKey: undefined, knownHosts: empty });
    expect(unknown.code).toBe('E_HOST_KEY');
    expect(unknown.message).toMatch(/unknown/);
    expect(unknown.message).toContain(sshd.fingerprint);

    const changed = join(sshd.dir, 'known_hosts_changed');
    const otherPub = (await import('node:fs/promises')).readFile(`${sshd.otherKey}.pub`, 'utf8');
    await writeFile(changed, `[127.0.0.1]:${sshd.port} ${(await otherPub).split(' ').slice(0, 2).join(' ')}\n`);
    const mismatch = await attempt({ hostKey: undefined, knownHosts: changed });
    expect(mismatch.code).toBe('E_HOST_KEY');
    expect(mismatch.message).toMatch(/does not match/);
    expect(mismatch.message).toContain(sshd.fingerprint);
  });

  it('refuses a private key the server does not know, without retrying', async () => {
    const started = Date.now();
    const err = await attempt({ privateKey: sshd.otherKey });
    expect(err.code).toBe('E_AUTH');
    expect(err.exitCode).toBe(1);
    expect(err.message).toContain(`${sshd.username}@127.0.0.1:${sshd.port}`);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('opens a private key with its passphrase, and names the key when the passphrase is wrong', async () => {
    const storage = new Storage(new SftpAdapter(options({ privateKey: sshd.lockedKey, passphrase: sshd.lockedKeyPassphrase })), 'nas');
    await storage.put('k', Buffer.from('ok'));
    expect((await storage.getBuffer('k')).toString()).toBe('ok');
    await storage.close();
    const err = await attempt({ privateKey: sshd.lockedKey, passphrase: 'wrong' });
    expect(err.code).toBe('E_AUTH');
    expect(err.message).toContain(sshd.lockedKey);
  });

  it('logs in through an ssh-agent holding the key', async () => {
    const socket = join(sshd.dir, `agent-${randomBytes(3).toString('hex')}.sock`);
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      for (
        let i = 0;
        i < 200 &&
        !(await stat(socket).then(
          () => true,
          () => false,
        ));
        i++
      )
        await sleep(10);
      await promisify(execFile)('ssh-add', ['-q', sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const storage = new Storage(new SftpAdapter(options({ privateKey: undefined, agent: socket })), 'nas');
      await storage.put('k', Buffer.from('via agent'));
      expect((await storage.getBuffer('k')).toString()).toBe('via agent');
      await storage.close();
    } finally {
      agent.kill();
    }
    const missing = await attempt({ privateKey: undefined, agent: join(sshd.dir, 'no-agent.sock') });
    expect(missing.code).toBe('E_AUTH');
    expect(missing.message).toContain('no-agent.sock');
  });

  it('reports a server that is not there as E_UNREACHABLE after bounded retries', async () => {
    const err = await attempt({ port: 1, retries: 1 });
    expect(err.code).toBe('E_UNREACHABLE');
    expect(err.message).toMatch(/cannot connect/);
  });

  it('insecureAcceptAnyHostKey connects but warns', async () => {
    const warnings: string[] = [];
    const adapter = new SftpAdapter(options({ hostKey: undefined, insecureAcceptAnyHostKey: true }), 'nas', { warn: (m) => warnings.push(m) });
    const storage = new Storage(adapter, 'nas');
    await storage.put('k', Buffer.from('ok'));
    await storage.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/NOT checked/);
  });

  it('refuses options without a host key or a way to log in', () => {
    expect(() => new SftpAdapter(options({ hostKey: undefined }))).toThrow(/hostKey/);
    expect(() => new SftpAdapter(options({ privateKey: undefined }))).toThrow(/privateKey, agent or password/);
    expect(() => new SftpAdapter(options({ hostKey: 'SHA256:short' }))).toThrow(/ssh-keygen -lf/);
  });
});

describe('sftp: two processes sharing a folder', () => {
  it('a put survives the other side tidying the folder away (as two backups taking and withdrawing locks do)', async () => {
    const opts = options();
    // Two adapters, as two processes: each has its own cache of the folders it made.
    const [a, b] = [new Storage(new SftpAdapter(opts, 'nas'), 'nas'), new Storage(new SftpAdapter({ ...opts }, 'nas'), 'nas')];
    try {
      const churn = async (storage: Storage, name: string): Promise<void> => {
        for (let i = 0; i < 25; i++) {
          await storage.put(`locks/app/${name}.json`, Buffer.from(`${name}${i}`));
          await storage.delete(`locks/app/${name}.json`);
        }
      };
      await Promise.all([churn(a, 'one'), churn(b, 'two')]);
      await a.put('locks/app/last.json', Buffer.from('ok'));
      expect((await b.getBuffer('locks/app/last.json')).toString()).toBe('ok');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('sftp: permissions on the server', () => {
  it('a folder the login may not write to is E_PERMISSION and leaves nothing behind', async () => {
    const locked = join(sshd.dir, `locked-${randomBytes(3).toString('hex')}`);
    await mkdir(locked, { mode: 0o755 });
    let opts = options({ path: locked });
    if (sshd.unprivileged) {
      // Root writes anywhere: log in as an unprivileged account, whose key is the same authorized one.
      opts = { ...opts, username: sshd.unprivileged };
    } else {
      await (await import('node:fs/promises')).chmod(locked, 0o555);
    }
    const storage = new Storage(new SftpAdapter(opts, 'nas'), 'nas');
    try {
      const err = await failure(storage.put('snap/seg', Buffer.from('x')));
      expect(err.code).toBe('E_PERMISSION');
      expect(err.message).toContain('snap/seg');
      expect(await readdir(locked)).toEqual([]);
    } finally {
      await storage.close();
    }
  });
});

describe('sftp: the server dies mid-transfer', () => {
  /** Resolves once a temp file under `dir` holds at least `bytes`: the upload is under way. */
  async function uploading(dir: string, bytes: number): Promise<void> {
    const { stat } = await import('node:fs/promises');
    for (let i = 0; i < 2000; i++) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        if (name.startsWith(TEMP_PREFIX) && ((await stat(join(dir, name)).catch(() => undefined))?.size ?? 0) >= bytes) return;
      }
      await sleep(5);
    }
    throw new Error('the upload never started');
  }

  it('a buffer put reconnects and sends the object again; the crash leaves no temp file', async () => {
    const adapter = new SftpAdapter(options(), 'nas');
    const storage = new Storage(adapter, 'nas');
    try {
      const data = randomBytes(48 * 1024 * 1024);
      // On a busy machine the put can finish before the kill lands, which tests nothing: then once more.
      for (let attempt = 1; attempt <= 3 && adapter.retried === 0; attempt++) {
        const putting = storage.put('snap/seg', data);
        await uploading(join(adapter.root, 'snap'), 1024 * 1024).catch(() => undefined);
        await sshd.restart();
        expect(await putting).toEqual({ size: data.length });
      }
      expect(adapter.retried).toBeGreaterThanOrEqual(1);
      expect(sha(await storage.getBuffer('snap/seg'))).toBe(sha(data));
      expect(await readdir(join(adapter.root, 'snap'))).toEqual(['seg']);
    } finally {
      await storage.close();
    }
  });

  it('a download whose connection drops resumes at the next byte on a new connection', async () => {
    const adapter = new SftpAdapter(options(), 'nas');
    const storage = new Storage(adapter, 'nas');
    try {
      const data = randomBytes(32 * 1024 * 1024);
      await storage.put('snap/seg', data);
      const stream = await storage.get('snap/seg');
      const chunks: Buffer[] = [];
      let received = 0;
      let restarted = false;
      for await (const chunk of stream) {
        chunks.push(chunk as Buffer);
        received += (chunk as Buffer).length;
        if (!restarted && received >= 1024 * 1024) {
          restarted = true;
          await sshd.restart();
        }
      }
      expect(restarted).toBe(true);
      expect(sha(Buffer.concat(chunks))).toBe(sha(data));
      expect(adapter.retried).toBeGreaterThanOrEqual(1);
    } finally {
      await storage.close();
    }
  });

  it('a stream put cannot be replayed: a clear error, the old object intact, no partial one visible', async () => {
    const adapter = new SftpAdapter(options(), 'nas');
    const storage = new Storage(adapter, 'nas');
    try {
      await storage.put('snap/seg', Buffer.from('previous'));
      const body = new PassThrough();
      // Observed at once: it fails while the server is still restarting.
      const putting = failure(storage.put('snap/seg', body));
      const feeding = (async () => {
        // Slowly, so the server dies long before the end.
        for (let i = 0; i < 200 && !body.destroyed; i++) {
          body.write(randomBytes(256 * 1024));
          await sleep(10);
        }
        if (!body.destroyed) body.end();
      })();
      await uploading(join(adapter.root, 'snap'), 1024 * 1024);
      await sshd.restart();
      const err = await putting;
      await feeding;
      expect(err.code).toBe('E_STORAGE');
      expect(err.message).toMatch(/connection lost/);
      expect(err.message).toContain('snap/seg');
      expect((await storage.getBuffer('snap/seg')).toString()).toBe('previous');
      // The next successful put removes the temp file the dead connection left.
      await storage.put('snap/other', Buffer.from('x'));
      expect((await readdir(join(adapter.root, 'snap'))).sort()).toEqual(['other', 'seg']);
    } finally {
      await storage.close();
    }
  });
});
