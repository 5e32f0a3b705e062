/**
 * A real OpenSSH server for the SFTP tests: Debian's `sshd` on 127.0.0.1 at a
 * free high port, with its own config, host key, authorized_keys and PidFile
 * in a temp directory, stopped by its PID. Nothing of the machine's own sshd
 * configuration is used.
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SSHD = '/usr/sbin/sshd';
const PASSPHRASE = 'correct horse battery staple';

/** @returns {Promise<number>} */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** sshd refuses an account whose password is locked (`!` in /etc/shadow), even with a valid key. */
/** @param {string} user */
async function unlock(user) {
  const shadow = await readFile('/etc/shadow', 'utf8').catch(() => '');
  const entry = shadow.split('\n').find((line) => line.startsWith(`${user}:`));
  if (entry?.split(':')[1]?.startsWith('!')) await run('usermod', ['-p', '*', user]);
}

/**
 * @param {number} port
 * @param {import('node:child_process').ChildProcess} child
 * @param {() => string} log
 */
async function waitForPort(port, child, log) {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${log()}`);
    const open = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  throw new Error(`sshd did not listen on ${port}: ${log()}`);
}

/** PIDs of every process below `pid`, from /proc: sshd forks one per connection. */
/**
 * @param {number} pid
 * @returns {Promise<number[]>}
 */
async function descendants(pid) {
  const parents = new Map();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // The command name in parentheses may hold spaces; the parent PID is the second field after it.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parents.set(Number(name), ppid);
  }
  /** @type {number[]} */
  const found = [];
  /** @param {number} parent */
  const visit = (parent) => {
    for (const [child, ppid] of parents) {
      if (ppid === parent) {
        found.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return found;
}

/** @returns {Promise<import('./sshd.js').Sshd>} */
export async function startSshd() {
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'failsafe-sshd-'));
  // sshd reads authorized_keys as the user logging in, who may be unprivileged.
  await chmod(dir, 0o755);
  // Privilege separation needs it; Debian creates it only when the service starts.
  if (asRoot) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  /**
   * @param {string} path
   * @param {string} [passphrase]
   */
  const keygen = (path, passphrase = '') => run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'failsafe-test', '-f', path]);
  const hostKey = join(dir, 'host_ed25519');
  const clientKey = join(dir, 'client_ed25519');
  const otherKey = join(dir, 'other_ed25519');
  const lockedKey = join(dir, 'locked_ed25519');
  await Promise.all([keygen(hostKey), keygen(clientKey), keygen(otherKey), keygen(lockedKey, PASSPHRASE)]);
  const authorized = [await readFile(`${clientKey}.pub`, 'utf8'), await readFile(`${lockedKey}.pub`, 'utf8')];
  await writeFile(join(dir, 'authorized_keys'), authorized.join(''), { mode: 0o644 });
  const username = userInfo().username;
  const unprivileged = asRoot ? 'nobody' : undefined;
  await unlock(username);
  if (unprivileged) await unlock(unprivileged);

  const port = await freePort();
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'UsePAM no',
      // The temp directory is world-writable; the keys in it are the test's own.
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const fingerprint = (await run('ssh-keygen', ['-lf', `${hostKey}.pub`])).stdout.split(' ')[1];
  const knownHosts = join(dir, 'known_hosts');
  const hostPub = (await readFile(`${hostKey}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
  await writeFile(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
  await run('ssh-keygen', ['-H', '-f', knownHosts]);
  await rm(`${knownHosts}.old`, { force: true });

  /** @type {import('node:child_process').ChildProcess | undefined} */
  let child;
  const start = async () => {
    let log = '';
    // -D: stay in the foreground, so the PID we hold is the listener's; -e: log to stderr.
    child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (chunk) => (log += chunk.toString()));
    await waitForPort(port, child, () => log);
  };
  await start();
  // A test run that dies without stop() must not leave a server behind.
  const killOnExit = () => {
    if (child && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  };
  process.once('exit', killOnExit);

  const sshd = {
    host: '127.0.0.1',
    port,
    username,
    unprivileged,
    dir,
    clientKey,
    otherKey,
    lockedKey,
    lockedKeyPassphrase: PASSPHRASE,
    fingerprint,
    knownHosts,
    get pid() {
      return child.pid;
    },
    async kill() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      for (const pid of [child.pid, ...(await descendants(child.pid))]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
    async restart() {
      await sshd.kill();
      await start();
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      await sshd.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return sshd;
}
