/**
 * Who the server is. Every connection checks the host key against a pinned
 * SHA256 fingerprint or an OpenSSH known_hosts file; nothing is trusted
 * silently. The fingerprint is the one `ssh-keygen -lf` prints, so users can
 * compare what they see in an error with what the server's admin reads out.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errnoOf, FailsafeError } from '../../core/errors.js';
import type { AdapterContext } from '../../core/sdk/registry.js';
import type { SftpOptions } from './options.js';

export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name at the start of an SSH public key blob (`ssh-ed25519`, …). */
export function keyTypeOf(key: Buffer): string {
  const length = key.length >= 4 ? key.readUInt32BE(0) : 0;
  return key.subarray(4, 4 + length).toString('latin1');
}

/** The name a known_hosts file lists the server under. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export interface KnownKey {
  type: string;
  key: Buffer;
  revoked: boolean;
}

/** The keys a known_hosts text lists for `name`, plain or hashed (`|1|salt|hash`), with `*`/`?` patterns. */
export function knownKeysFor(text: string, name: string): KnownKey[] {
  const found: KnownKey[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) continue;
    let marker: string | undefined;
    if (fields[0]!.startsWith('@')) marker = fields.shift();
    if (marker === '@cert-authority') continue;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64) continue;
    if (hostsMatch(hosts, name)) found.push({ type, key: Buffer.from(base64, 'base64'), revoked: marker === '@revoked' });
  }
  return found;
}

function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of hosts.split(',')) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    const regex = new RegExp(
      `^${body
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      'i',
    );
    if (regex.test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Host key algorithms ssh2 may negotiate for a known key type, so the server offers the key we know. */
export function algorithmsFor(types: string[]): string[] {
  const out = new Set<string>();
  for (const type of types) {
    if (type === 'ssh-rsa') ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'].forEach((t) => out.add(t));
    else out.add(type);
  }
  return [...out];
}

export interface HostKeyCheck {
  /** Accepts or refuses the key the server presented, remembering why. */
  verify(key: Buffer): boolean;
  /** The one-line refusal for the last key refused. */
  refusal(): FailsafeError | undefined;
  /** Key algorithms to ask the server for, when the trusted keys tell. */
  algorithms: string[] | undefined;
}

export interface HostKeyPolicy {
  hostKey?: string[] | undefined;
  knownHosts?: string | undefined;
  insecureAcceptAnyHostKey?: boolean | undefined;
}

export function hostKeyCheck(policy: HostKeyPolicy, host: string, port: number, target: string): HostKeyCheck {
  let refused: FailsafeError | undefined;
  const where = `target "${target}": host key of ${host}:${port}`;
  const refuse = (key: Buffer, why: string): false => {
    const seen = `${fingerprintOf(key)} (${keyTypeOf(key)})`;
    refused = new FailsafeError('E_HOST_KEY', `${where} ${why}; the server presented ${seen}`);
    return false;
  };

  if (policy.insecureAcceptAnyHostKey) return { verify: () => true, refusal: () => undefined, algorithms: undefined };

  if (policy.hostKey) {
    const pinned = policy.hostKey;
    return {
      verify: (key) => pinned.includes(fingerprintOf(key)) || refuse(key, `does not match hostKey ${pinned.join(', ')}`),
      refusal: () => refused,
      algorithms: undefined,
    };
  }

  const file = policy.knownHosts!;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FailsafeError('E_CONFIG', `target "${target}": knownHosts ${file} cannot be read (${errnoOf(err) ?? String(err)})`, {
      cause: err,
    });
  }
  const name = knownHostsName(host, port);
  const known = knownKeysFor(text, name);
  const trusted = known.filter((k) => !k.revoked);
  return {
    verify(key) {
      if (known.some((k) => k.revoked && k.key.equals(key))) return refuse(key, `is marked @revoked in ${file}`);
      if (trusted.some((k) => k.key.equals(key))) return true;
      if (trusted.length === 0) return refuse(key, `is unknown: ${name} is not in ${file}`);
      return refuse(key, `does not match ${file} (the server's key changed, or someone is in between)`);
    },
    refusal: () => refused,
    algorithms: trusted.length > 0 ? algorithmsFor(trusted.map((k) => k.type)) : undefined,
  };
}

/** The warning printed on every run that skips the host key check. */
export function insecureWarning(target: string, host: string, port: number): string {
  return (
    `target "${target}": insecureAcceptAnyHostKey is on: the identity of ${host}:${port} is NOT checked, so anyone on the ` +
    'network path can pose as the server and read or alter the backups; set hostKey to the fingerprint `ssh-keygen -lf` prints'
  );
}

/** Tells the user, at every start, that `insecureAcceptAnyHostKey` is on; the message given, if any. */
export function warnIfInsecure(options: SftpOptions, target: string, context: AdapterContext | undefined): string | undefined {
  if (!options.insecureAcceptAnyHostKey) return undefined;
  const message = insecureWarning(target, options.host, options.port);
  if (context) context.warn(message);
  else process.emitWarning(message, { code: 'FAILSAFE_INSECURE_HOST_KEY' });
  return message;
}
