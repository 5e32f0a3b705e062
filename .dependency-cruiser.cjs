/**
 * The layering rules of docs/architecture.md, checked by `npm run lint:deps`
 * and by test/architecture.test.ts: core/ is the engine and imports no
 * adapter, plugin, facade or CLI; adapters and plugins import only core/;
 * nothing imports in a circle.
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'an import cycle', from: {}, to: { circular: true } },
    {
      name: 'core-stays-below',
      severity: 'error',
      comment: 'core/ is the engine: it knows no adapter, plugin, facade or CLI',
      from: { path: '^core/' },
      to: { path: '^(adapters|plugins|api|cli|ui)/' },
    },
    {
      name: 'plugins-and-adapters-use-core-only',
      severity: 'error',
      comment: 'an adapter or plugin is written against core/ alone, as a third-party one is',
      from: { path: '^(adapters|plugins)/' },
      to: { path: '^(api|cli|ui)/' },
    },
    {
      name: 'adapters-and-plugins-apart',
      severity: 'error',
      from: { path: '^adapters/' },
      to: { path: '^plugins/' },
    },
    {
      name: 'plugins-and-adapters-apart',
      severity: 'error',
      from: { path: '^plugins/' },
      to: { path: '^adapters/' },
    },
    {
      name: 'api-below-cli',
      severity: 'error',
      from: { path: '^api/' },
      to: { path: '^(cli|ui)/' },
    },
    {
      name: 'ui-beside-cli',
      severity: 'error',
      comment: 'the dashboard is a front end like the CLI: it calls api/, never the CLI',
      from: { path: '^ui/' },
      to: { path: '^cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
