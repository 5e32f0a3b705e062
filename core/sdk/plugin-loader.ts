/**
 * Custom sources and adapters named in the YAML (`plugins: [./my.js, pkg]`).
 * A module exports factories made with defineSource/defineAdapter: as its
 * default export, as named exports, or as an array of them.
 */
import { createRequire } from 'node:module';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { FailsafeError } from '../errors.js';
import type { PluginFactory, Registry } from './registry.js';

function isFactory(value: unknown): value is PluginFactory {
  const kind = (value as { kind?: unknown } | null)?.kind;
  return typeof value === 'object' && value !== null && (kind === 'source' || kind === 'adapter');
}

/** Loads one plugin module (an absolute path, or a package name resolved from `baseDir`) into the registry. */
export async function loadPlugin(spec: string, baseDir: string, registry: Registry): Promise<number> {
  let module: Record<string, unknown>;
  try {
    const url = isAbsolute(spec) ? pathToFileURL(spec).href : pathToFileURL(createRequire(join(baseDir, 'failsafe.yaml')).resolve(spec)).href;
    module = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new FailsafeError('E_PLUGIN_LOAD', `plugin ${spec} failed to load: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  const candidates = Object.values(module).flatMap((value) => (Array.isArray(value) ? value : [value]));
  const factories = [...new Set(candidates.filter(isFactory))];
  if (factories.length === 0) {
    const typeless = candidates.some((value) => typeof value === 'object' && value !== null && 'create' in value);
    throw new FailsafeError(
      'E_PLUGIN_LOAD',
      typeless
        ? `plugin ${spec} exports a factory without a type: build it with defineSource or defineAdapter`
        : `plugin ${spec} exports no source or adapter (use defineSource or defineAdapter)`,
    );
  }
  for (const factory of factories) registry.register(factory, spec);
  return factories.length;
}
