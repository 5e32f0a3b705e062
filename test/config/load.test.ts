import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinRegistry } from '../../api/builtins.js';
import { parseConfigText } from '../../core/config/load.js';
import { parseSize } from '../../core/config/schema.js';
import { FailsafeError } from '../../core/errors.js';

const FILE = '/srv/app/failsafe.yaml';
const load = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfigText(text, FILE, { registry: builtinRegistry(), env });

function failure(text: string, env: NodeJS.ProcessEnv = {}): FailsafeError {
  try {
    load(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(FailsafeError);
    expect((err as FailsafeError).message.split('\n')).toHaveLength(1);
    return err as FailsafeError;
  }
  throw new Error('expected the configuration to be refused');
}

const VALID = `version: 1
targets:
  usb: { type: local, path: ../backup, requireMount: true }
encryption: { passphrase: "\${FAILSAFE_PASSPHRASE}", keyFile: ./failsafe.key }
compression: { algorithm: brotli }
segmentSize: 8MiB
jobs:
  planter:
    sources:
      - { type: directory, path: ./data/images, exclude: ["*.tmp"] }
      - { type: config-file, path: ~/config.json }
      - { type: config-file, paths: [a.env, /etc/b.env], name: envs }
    targets: [usb]
`;

describe('loading a deployment', () => {
  it('takes the Argon2id limits of new passphrase slots: moderate unless kdf says interactive; nothing else', () => {
    const env = { FAILSAFE_PASSPHRASE: 'pw' };
    expect(load(VALID, env).config.encryption).not.toHaveProperty('kdf');
    const small = load(VALID.replace('keyFile: ./failsafe.key', 'keyFile: ./failsafe.key, kdf: interactive'), env);
    expect(small.config.encryption).toMatchObject({ kdf: 'interactive' });
    expect(failure(VALID.replace('keyFile: ./failsafe.key', 'keyFile: ./failsafe.key, kdf: weak')).message).toMatch(/encryption/);
  });

  it('reads the checkpoints block, keep defaulting to 10', () => {
    const { config } = load(VALID.replace('segmentSize: 8MiB', 'segmentSize: 8MiB\ncheckpoints: { target: usb }'), { FAILSAFE_PASSPHRASE: 'pw' });
    expect(config.checkpoints).toEqual({ target: 'usb', keep: 10 });
    expect(load(VALID, { FAILSAFE_PASSPHRASE: 'pw' }).config.checkpoints).toBeUndefined();
  });

  it('compresses with zstd 1 unless told otherwise, and checks zstd levels', () => {
    expect(load(VALID.replace('compression: { algorithm: brotli }\n', ''), { FAILSAFE_PASSPHRASE: 'pw' }).config.compression).toEqual({
      algorithm: 'zstd',
      level: 1,
    });
    expect(load(VALID.replace('{ algorithm: brotli }', '{ algorithm: zstd, level: 19 }'), { FAILSAFE_PASSPHRASE: 'pw' }).config.compression).toEqual({
      algorithm: 'zstd',
      level: 19,
    });
    expect(failure(VALID.replace('{ algorithm: brotli }', '{ algorithm: zstd, level: 22 }'), { FAILSAFE_PASSPHRASE: 'pw' }).message).toMatch(
      /compression\.level: zstd levels go from 1 to 19/,
    );
  });

  it('reads a valid file: paths resolve against its folder, defaults filled in, variables interpolated', () => {
    const { config, dir } = load(VALID, { FAILSAFE_PASSPHRASE: 'pw with $dollar' });
    expect(dir).toBe('/srv/app');
    expect(config.targets.usb).toEqual({ type: 'local', options: { path: '/srv/backup', requireMount: true } });
    expect(config.encryption).toEqual({ mode: 'keys', passphrase: 'pw with $dollar', keyFile: '/srv/app/failsafe.key' });
    expect(config.compression).toEqual({ algorithm: 'brotli', level: 4 });
    expect(config.segmentSize).toBe(8 * 1024 * 1024);
    const [images, json, envs] = config.jobs.planter!.sources;
    expect(images).toMatchObject({ type: 'directory', name: 'images', options: { path: '/srv/app/data/images', exclude: ['*.tmp'] } });
    expect(json).toMatchObject({ name: 'config.json', options: { path: join(homedir(), 'config.json') } });
    expect(envs).toMatchObject({ name: 'envs', options: { paths: ['/srv/app/a.env', '/etc/b.env'] } });
  });

  it('keeps $${ as a literal ${', () => {
    const { config } = load(VALID.replace('${FAILSAFE_PASSPHRASE}', () => 'a$${NOT_A_VAR}b'));
    expect(config.encryption).toMatchObject({ passphrase: 'a${NOT_A_VAR}b' });
  });

  it("takes verifyUploads out of a target's options, for any type", () => {
    const { config } = load(VALID.replace('requireMount: true', 'requireMount: true, verifyUploads: all'), { FAILSAFE_PASSPHRASE: 'pw' });
    expect(config.targets.usb).toEqual({ type: 'local', options: { path: '/srv/backup', requireMount: true }, verifyUploads: 'all' });
    expect(failure(VALID.replace('requireMount: true', 'verifyUploads: always'), { FAILSAFE_PASSPHRASE: 'pw' }).message).toMatch(
      /failsafe\.yaml:3:\d+: targets\.usb\.verifyUploads: expected sample, all or off/,
    );
  });

  it('parses sizes', () => {
    expect(parseSize('8MiB')).toBe(8 * 1024 * 1024);
    expect(parseSize('1.5 GB')).toBe(1.5e9);
    expect(parseSize(4096)).toBe(4096);
    expect(parseSize('8 parsecs')).toBeUndefined();
  });

  it.each([
    ['a syntax error', VALID.replace('[usb]', '[usb'), 'E_CONFIG', /failsafe\.yaml:1[34]:\d+: Flow sequence/],
    ['a duplicate key', VALID.replace('segmentSize: 8MiB', 'segmentSize: 8MiB\nsegmentSize: 4MiB'), 'E_CONFIG', /failsafe\.yaml:7:1: .*must be unique/],
    [
      'an unknown top-level key',
      VALID.replace('segmentSize: 8MiB', 'segmentsize: 8MiB'),
      'E_CONFIG',
      /failsafe\.yaml:6:1: segmentsize: unknown key "segmentsize"/,
    ],
    [
      'an unknown source option',
      VALID.replace('exclude:', 'exlude:'),
      'E_CONFIG',
      /failsafe\.yaml:10:\d+: jobs\.planter\.sources\[0\]\.exlude: unknown key "exlude"/,
    ],
    [
      'a wrong option type',
      VALID.replace('requireMount: true', 'requireMount: yes please'),
      'E_CONFIG',
      /failsafe\.yaml:3:\d+: targets\.usb\.requireMount: expected boolean/,
    ],
    [
      'an unknown source type',
      VALID.replace('type: directory', 'type: dirctory'),
      'E_UNKNOWN_TYPE',
      /failsafe\.yaml:10:\d+: jobs\.planter\.sources\[0\]\.type: unknown source type "dirctory" \(known: directory, config-file, sqlite, command\)/,
    ],
    [
      'an unknown target type',
      VALID.replace('type: local', 'type: nfs'),
      'E_UNKNOWN_TYPE',
      /failsafe\.yaml:3:\d+: targets\.usb\.type: unknown target type "nfs"/,
    ],
    [
      'an undefined target',
      VALID.replace('targets: [usb]', 'targets: [usb, s3]'),
      'E_UNKNOWN_TARGET',
      /failsafe\.yaml:13:\d+: jobs\.planter\.targets\[1\]: no target "s3" under targets \(defined: usb\)/,
    ],
    [
      'an undefined checkpoints target',
      VALID.replace('segmentSize: 8MiB', 'segmentSize: 8MiB\ncheckpoints: { target: nas }'),
      'E_UNKNOWN_TARGET',
      /failsafe\.yaml:7:\d+: checkpoints\.target: no target "nas" under targets \(defined: usb\)/,
    ],
    [
      'a bad checkpoints keep',
      VALID.replace('segmentSize: 8MiB', 'segmentSize: 8MiB\ncheckpoints: { target: usb, keep: 0 }'),
      'E_CONFIG',
      /failsafe\.yaml:7:\d+: checkpoints\.keep: /,
    ],
    ['a wrong version', VALID.replace('version: 1', 'version: 2'), 'E_CONFIG', /failsafe\.yaml:1:\d+: version: this Failsafe reads version: 1/],
    [
      'an out-of-range level',
      VALID.replace('{ algorithm: brotli }', '{ algorithm: gzip, level: 12 }'),
      'E_CONFIG',
      /compression\.level: gzip levels go from 1 to 9/,
    ],
    ['a bad segment size', VALID.replace('8MiB', '100KB'), 'E_CONFIG', /failsafe\.yaml:6:\d+: segmentSize: expected a size from 1MiB to 256MiB/],
    [
      'two sources with one name',
      VALID.replace('path: ~/config.json', 'path: ~/images'),
      'E_CONFIG',
      /sources\[1\]: two sources of job "planter" are named "images"/,
    ],
    [
      'an empty encryption block',
      VALID.replace(/encryption: .*\n/, 'encryption: {}\n'),
      'E_CONFIG',
      /encryption: give a passphrase, a keyFile, recipients, or several \(or write encryption: none\)/,
    ],
    [
      'a missing variable outside the passphrase',
      VALID.replace('../backup', '"${BACKUP_DIR}"'),
      'E_CONFIG_ENV',
      /failsafe\.yaml:3:\d+: targets\.usb\.path: environment variable BACKUP_DIR is not set/,
    ],
    ['a malformed variable name', VALID.replace('../backup', '"${1X}"'), 'E_CONFIG_ENV', /"\$\{1X\}" is not a valid variable name/],
  ])('%s is refused with the line and key', (_name, text, code, message) => {
    const err = failure(text, { FAILSAFE_PASSPHRASE: 'x' });
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it('a missing passphrase variable is an error once a key is needed, not an empty passphrase', () => {
    const { config } = load(VALID);
    expect(config.encryption.mode).toBe('keys');
    if (config.encryption.mode !== 'keys') return;
    expect(config.encryption.passphrase).toBeUndefined();
    expect(config.encryption.passphraseError?.code).toBe('E_CONFIG_ENV');
    expect(config.encryption.passphraseError?.message).toMatch(
      /failsafe\.yaml:4:\d+: encryption\.passphrase: environment variable FAILSAFE_PASSPHRASE is not set/,
    );
  });

  it('encryption: none is explicit', () => {
    expect(load(VALID.replace(/encryption: .*\n/, 'encryption: none\n')).config.encryption).toEqual({ mode: 'none' });
    expect(failure(VALID.replace(/encryption: .*\n/, '')).message).toMatch(/encryption: /);
  });
});

describe('an sftp target in YAML', () => {
  const yaml = (target: string): string => `version: 1
targets:
  nas: ${target}
encryption: none
jobs:
  app: { sources: [{ type: directory, path: ./data }], targets: [nas] }
`;

  it('keeps the server path as written and resolves the key files on this machine', () => {
    const { config } = load(
      yaml(
        '{ type: sftp, host: nas.local, username: backup, path: backups/app, knownHosts: ./known_hosts, privateKey: ./id_ed25519, passphrase: "${KEY_PASS}" }',
      ),
      { KEY_PASS: 'secret' },
    );
    expect(config.targets.nas!.options).toMatchObject({
      path: 'backups/app',
      knownHosts: '/srv/app/known_hosts',
      privateKey: '/srv/app/id_ed25519',
      passphrase: 'secret',
      port: 22,
    });
  });

  it('refuses a target that does not say who the server is, at its line', () => {
    const err = failure(yaml('{ type: sftp, host: nas.local, username: backup, path: /b, privateKey: ./k }'));
    expect(err.code).toBe('E_CONFIG');
    expect(err.message).toMatch(/failsafe\.yaml:3:\d+: targets\.nas.*hostKey/);
  });
});
