import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_EXEC_SHELL, detectTreeKill, removeCgroup } from '@taskwarden/sdk/internal';
import { describe, expect, it } from 'vitest';
import { SIGNAL_SLOTS, UNPLACED } from '../protocol.js';
import type { BindingSpawnOptions } from './spawn-placement.js';
import { SpawnPlacement } from './spawn-placement.js';

const signals = () => new Int32Array(new SharedArrayBuffer(SIGNAL_SLOTS * Int32Array.BYTES_PER_ELEMENT));

/** What Node's spawn binding gets for `spawn(file, args)`. */
function options(
  file: string,
  args: string[],
  extra: Partial<BindingSpawnOptions> = {},
): BindingSpawnOptions {
  return { file, args: [file, ...args], envPairs: ['PATH=/usr/bin:/bin'], cwd: undefined, ...extra };
}

describe('SpawnPlacement (a worker thread’s spawns join its cgroup)', () => {
  it('a thread whose cgroup cannot be created starts its processes unchanged, and says so (UNPLACED)', () => {
    const shared = signals();
    const placement = new SpawnPlacement(`/nonexistent-${process.pid}/taskwarden-test`, shared);
    const spawn = options('/bin/true', []);
    expect(placement.prepare(spawn)).toBe(true);
    expect(spawn.file).toBe('/bin/true');
    expect(Atomics.load(shared, UNPLACED)).toBe(1);
  });

  const cgroupDir = detectTreeKill().cgroupDir;

  it.runIf(cgroupDir !== undefined)(
    'creates the cgroup at the first spawn and wraps the spawn; one it cannot wrap unchanged starts outside',
    () => {
      const shared = signals();
      const cgroup = join(cgroupDir as string, `taskwarden-${process.pid}-test-placement`);
      const placement = new SpawnPlacement(cgroup, shared);
      try {
        expect(existsSync(cgroup)).toBe(false);
        const plain = options('/bin/true', ['x']);
        expect(placement.prepare(plain)).toBe(false);
        expect(existsSync(cgroup)).toBe(true);
        expect(plain.file).toBe(CGROUP_EXEC_SHELL);
        expect((plain.args as string[]).slice(-2)).toEqual(['/bin/true', 'x']);
        expect(Atomics.load(shared, UNPLACED)).toBe(0);
        for (const cannot of [
          options('/bin/true', [], { uid: 65534 }),
          options('/bin/true', [], { gid: 65534 }),
          { ...options('/bin/true', []), args: ['other-argv0'] },
          options('/bin/true', [], { envPairs: ['NOT-A-NAME=1'] }),
          options('no-such-command-anywhere', []),
        ]) {
          const file = cannot.file;
          expect(placement.prepare(cannot)).toBe(true);
          expect(cannot.file).toBe(file);
        }
        expect(Atomics.load(shared, UNPLACED)).toBe(1);
      } finally {
        expect(removeCgroup(cgroup)).toBe(true);
      }
    },
  );
});
