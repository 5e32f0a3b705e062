/** The key-rotation tests of format 2: a deployment with two key sets to move between. */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { makeDeployment, runCli, type Deployment } from './cli.js';

const V2 = 'repository: { format: 2 }';

/** Two key files and two signing keys in the deployment's folder, and a YAML per key set (A: the old one, B: the new one). */
export async function rotationDeployment(): Promise<{ d: Deployment; a: string; b: string; sig: { a: string; b: string } }> {
  const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./a.key }', extraYaml: `${V2}\nSIGNING` });
  for (const name of ['a.key', 'b.key']) await writeFile(join(d.root, name), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const signing = async (name: string): Promise<string> => {
    const made = await runCli(['keygen', '--signing', '--out', join(d.root, name), '--json']);
    expect(made.code, made.stderr).toBe(0);
    return made.json<{ publicKey: string }>().publicKey;
  };
  const sig = { a: await signing('a.sig'), b: await signing('b.sig') };
  const template = await readFile(d.config, 'utf8');
  const yaml = (key: string, signingKey: string, trust: string[]): string =>
    template.replace('./a.key', `./${key}`).replace('SIGNING', `signing: { keyFile: ./${signingKey}, trust: [${trust.join(', ')}] }`);
  const a = join(d.root, 'a.yaml');
  const b = join(d.root, 'b.yaml');
  // Both trust both signing keys: what A signed is re-signed by B, not refused, and A's readers fail on keys, not signatures.
  await writeFile(a, yaml('a.key', 'a.sig', [sig.a, sig.b]));
  await writeFile(b, yaml('b.key', 'b.sig', [sig.a, sig.b]));
  return { d, a, b, sig };
}
