/** `failsafe init`: a commented failsafe.yaml and a key file for the current folder (core/config/init.ts). */
import { count } from '../../core/util/count.js';
import type { CommandContext, CommonOptions } from '../context.js';

export function registerInit({ command, print }: CommandContext): void {
  command('init', 'write a commented failsafe.yaml for this folder (its folders of files, SQLite databases and config files) and a key file')
    .option('--key-file <file>', 'the key file to create, relative to the folder (kept when it exists)', 'failsafe.key')
    .action(async (options: CommonOptions & { keyFile: string }) => {
      const { initDeployment } = await import('../../core/config/init.js');
      const result = await initDeployment({ config: options.config, keyFile: options.keyFile });
      print(result, () => {
        const lines = [`wrote ${result.config}`];
        lines.push(result.keyCreated ? `wrote a new key to ${result.keyFile} (mode 0600)` : `kept the existing key ${result.keyFile}`);
        lines.push(
          `found ${result.databases.length} SQLite database${result.databases.length === 1 ? '' : 's'}${result.databases.length ? `: ${result.databases.join(', ')}` : ''}`,
        );
        lines.push(
          `found ${result.configFiles.length} config file${result.configFiles.length === 1 ? '' : 's'}${result.configFiles.length ? `: ${result.configFiles.join(', ')}` : ''}`,
        );
        lines.push(`found ${count(result.folders.length, 'folder')} of files${result.folders.length ? `: ${result.folders.join(', ')}` : ''}`);
        for (const { path, reason } of result.leftOut) lines.push(`left out ${path}: ${reason}`);
        lines.push('next steps:', ...result.nextSteps.map((step, i) => `  ${i + 1}. ${step}`));
        return `${lines.join('\n')}\n`;
      });
    });
}
