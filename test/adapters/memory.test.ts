import { MemoryAdapter } from '../../adapters/memory/memory.js';
import { testStorageAdapter } from '../conformance/storage.js';

testStorageAdapter('memory', { create: async () => new MemoryAdapter() });
