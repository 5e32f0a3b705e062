/**
 * The conformance suites, published as `failsafe/test-suite` so a plugin
 * author runs the tests our own adapters, codecs and sources pass (vitest is
 * an optional peer dependency):
 *
 *   import { testStorageAdapter } from 'failsafe/test-suite';
 *   testStorageAdapter('mine', { create: async () => new MyAdapter(...) });
 */
export { testStorageAdapter, expectPutsStoreTheBytesGiven, type StorageSuiteOptions } from './storage.js';
export { describeSegmentCodecConformance, describeCipherConformance, describeChecksumConformance } from './codecs.js';
export { testSourcePlugin, type SourceSuiteOptions } from './source.js';
