import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDeployment, runCli } from '../helpers/cli.js';

describe('config validate checks what it can without writing', () => {
  it('a missing encryption key is named, not "Invalid input"', async () => {
    const d = await makeDeployment({ encryption: '' });
    const result = await runCli(['config', 'validate', '-c', d.config]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(/Invalid input/);
    expect(result.stderr).toMatch(/^error: .*failsafe\.yaml:\d+:\d+: encryption: missing: .*encryption: none.*\[E_CONFIG\]\n$/);
  });

  it('the key file must exist and hold a key; the sources must exist', async () => {
    const d = await makeDeployment({ encryption: 'encryption: { keyFile: ./failsafe.key }' });
    const validate = (): ReturnType<typeof runCli> => runCli(['config', 'validate', '-c', d.config]);
    const missing = await validate();
    expect(missing.stderr).toMatch(/^error: encryption\.keyFile: cannot read key file .*failsafe\.key.*\[E_KEY_MISSING\]\n$/);
    expect(missing.code).toBe(2);

    await writeFile(join(d.root, 'failsafe.key'), 'short');
    const invalid = await validate();
    expect(invalid.stderr).toMatch(/^error: encryption\.keyFile: key file .* must hold 32 bytes.*\[E_INVALID_KEY\]\n$/);
    expect(invalid.code).toBe(2);

    await rm(join(d.root, 'failsafe.key'));
    expect((await runCli(['keygen', '--out', join(d.root, 'failsafe.key')])).code).toBe(0);
    const ok = await validate();
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);

    await rm(d.appConfig);
    const source = await validate();
    expect(source.stderr).toMatch(/^error: jobs\.app\.sources\[1\] \(config-file "config"\): .*config\.json does not exist \[E_SOURCE_MISSING\]\n$/);
    expect(source.code).toBe(1);
  });
});
