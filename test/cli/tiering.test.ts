// The tier-up flag must be one the running V8 knows: an unknown flag is
// printed to stderr by V8 on every run of the command.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tierUpFlag } from '../../lib/cli/tiering.js';

describe('tier-up flag', () => {
  it('is --interrupt-budget before V8 12 (Node 20) and none from V8 12 (Node 22+), which removed it', () => {
    expect(tierUpFlag('11.3.244.8-node.33')).toBe('--interrupt-budget=1000000');
    expect(tierUpFlag('12.4.254.21-node.57')).toBeUndefined();
    expect(tierUpFlag('14.6.202.34-node.34')).toBeUndefined();
  });

  it('is set exactly where the running V8 knows --interrupt-budget', () => {
    const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    const known = options.includes('  --interrupt-budget (');
    expect(tierUpFlag()).toBe(known ? '--interrupt-budget=1000000' : undefined);
  });
});
