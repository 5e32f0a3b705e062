/**
 * One way to open a deployment, whether from its YAML file or from an object
 * of the same shape: load the plugins it names (so their types validate),
 * validate it, and build its container (api/container.ts).
 */
import { dirname, resolve } from 'node:path';
import { parseConfigObject, parseConfigText, pluginSpecs, readConfigFile, type LoadedConfig } from '../core/config/load.js';
import { loadPlugin } from '../core/sdk/plugin-loader.js';
import type { Registry } from '../core/sdk/registry.js';
import { builtinRegistry } from './builtins.js';
import { createDeploymentContainer, Deployment } from './container.js';
import type { ConfigObject, FromConfigOptions, OpenOptions } from './options.js';

function build(loaded: LoadedConfig, registry: Registry, options: OpenOptions): Deployment {
  const container = createDeploymentContainer(loaded, registry, {
    warn: options.warn,
    identity: options.identity,
    trust: options.trust,
    configure: options.configure,
    timeouts: options.timeouts,
  });
  return container.resolve(Deployment);
}

const envOf = (options: OpenOptions): { env?: NodeJS.ProcessEnv } => (options.env ? { env: options.env } : {});

export async function openFile(file: string, options: OpenOptions): Promise<Deployment> {
  const registry = options.registry ?? builtinRegistry();
  const path = resolve(file);
  const text = await readConfigFile(path);
  for (const spec of pluginSpecs(text, path)) await loadPlugin(spec, dirname(path), registry);
  return build(parseConfigText(text, path, { registry, ...envOf(options) }), registry, options);
}

/** `plugins` may hold factories (registered as they are) beside module specifiers (loaded from `baseDir`). */
export async function openObject(config: ConfigObject, options: FromConfigOptions): Promise<Deployment> {
  const registry = options.registry ?? builtinRegistry();
  const baseDir = resolve(options.baseDir ?? '.');
  const plugins = Array.isArray(config?.plugins) ? config.plugins : [];
  for (const plugin of plugins) if (typeof plugin === 'object' && plugin !== null) registry.register(plugin, `${plugin.kind} "${plugin.type}"`);
  const specs = plugins.filter((p): p is string => typeof p === 'string');
  const plain = Array.isArray(config?.plugins) ? { ...config, plugins: specs } : config;
  for (const spec of pluginSpecs(JSON.stringify(plain), resolve(baseDir, 'failsafe.yaml'))) await loadPlugin(spec, baseDir, registry);
  return build(parseConfigObject(plain, baseDir, { registry, ...envOf(options) }), registry, options);
}
