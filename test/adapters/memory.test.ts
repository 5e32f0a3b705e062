import { MemoryAdapter } from '../../adapters/memory.js';
import { testStorageAdapter } from '../conformance/storage.js';

testStorageAdapter('memory', { create: async () => new MemoryAdapter() });
