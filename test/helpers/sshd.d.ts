/** Types of test/helpers/sshd.js (plain JavaScript so the SFTP benchmark can start the same server). */
export interface Sshd {
  host: string;
  port: number;
  /** The account the tests log in as (root in CI). */
  username: string;
  /** An unprivileged account that may log in too (`nobody`), when running as root. */
  unprivileged: string | undefined;
  dir: string;
  /** A private key in authorized_keys, and one that is not. */
  clientKey: string;
  otherKey: string;
  /** An authorized private key protected by `lockedKeyPassphrase`. */
  lockedKey: string;
  lockedKeyPassphrase: string;
  /** `SHA256:…` of the server's host key, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** A known_hosts file holding the server's key under `[127.0.0.1]:port`, hashed as Debian's ssh does. */
  knownHosts: string;
  pid: number;
  /** Kills the server and its per-connection processes (SIGKILL: a crash, no goodbye to clients). */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same keys. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export declare const SSHD: string;
export declare function startSshd(): Promise<Sshd>;
