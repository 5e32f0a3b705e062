/** The sources and adapters that ship with Failsafe; s3 and sftp load their client libraries on first use. */
import { localAdapter } from '../adapters/local/local.js';
import { memoryAdapter } from '../adapters/memory/memory.js';
import { s3Adapter } from '../adapters/s3/factory.js';
import { sftpAdapter } from '../adapters/sftp/factory.js';
import { commandSource } from '../plugins/command/command.js';
import { configFileSource } from '../plugins/config-file/config-file.js';
import { directorySource } from '../plugins/directory/directory.js';
import { sqliteSource } from '../plugins/sqlite/sqlite.js';
import { Registry } from '../core/sdk/registry.js';

export function builtinRegistry(): Registry {
  return new Registry()
    .register(directorySource)
    .register(configFileSource)
    .register(sqliteSource)
    .register(commandSource)
    .register(localAdapter)
    .register(memoryAdapter)
    .register(s3Adapter)
    .register(sftpAdapter);
}
