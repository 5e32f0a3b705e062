/** `${VAR}` in a deployment's YAML, replaced from the environment with the key path of each use. */
import { isMap, isPair, isScalar, isSeq, visit, type Document } from 'yaml';
import type { KeyPath } from './positions.js';

/** Replaces `${VAR}` in every string scalar; `$${` stays a literal `${`. A missing variable is an error. */
export function interpolate(doc: Document, env: NodeJS.ProcessEnv, fail: (at: KeyPath, message: string) => string): void {
  visit(doc, {
    Scalar(_key, node, ancestors) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      node.value = node.value.replace(/\$?\$\{([^}]*)\}/g, (match: string, name: string) => {
        if (match.startsWith('$$')) return match.slice(1);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return fail(keyPathOf(ancestors, node), `"\${${name}}" is not a valid variable name`);
        const value = env[name];
        if (value === undefined) return fail(keyPathOf(ancestors, node), `environment variable ${name} is not set`);
        return value;
      });
    },
  });
}

function keyPathOf(ancestors: readonly unknown[], node: unknown): KeyPath {
  const path: KeyPath = [];
  const chain = [...ancestors, node];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1];
    const child = chain[i];
    if (isPair(parent) && isScalar(parent.key) && parent.value === child) path.push(String(parent.key.value));
    if (isSeq(parent)) path.push(parent.items.indexOf(child as never));
    if (isMap(parent) && isPair(child)) continue;
  }
  return path;
}
