import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { testStorageAdapter } from '../conformance/storage.js';

testStorageAdapter('memory', { create: async () => new MemoryAdapter() });

// No built-in adapter lacks ranged reads: this one declares it does, so the suite checks that the facade never asks it for a range.
testStorageAdapter('memory, declaring no ranged reads', {
  create: async () => Object.defineProperty(new MemoryAdapter(), 'capabilities', { value: { rangeRead: false, persistent: false } }),
  largeSize: 4 * 1024 * 1024,
  manyKeys: 200,
});
