import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isGone, isProcessGone, processStartTicks, waitGone } from '../src/testing/index.js';

describe.runIf(process.platform === 'linux')('isProcessGone: a pid and its start time (pid reuse)', () => {
  it('is false for the live process it names, true for another start time, true once it exited', async () => {
    const child = spawn('/bin/sh', ['-c', 'exec sleep 30'], { stdio: 'ignore' });
    const pid = child.pid as number;
    try {
      const ticks = processStartTicks(pid);
      expect(ticks).toBeTypeOf('number');
      expect(isGone(pid)).toBe(false);
      expect(isProcessGone(pid, ticks)).toBe(false);
      // The same pid with another start time is another process: the one meant is gone.
      expect(isProcessGone(pid, (ticks as number) + 1)).toBe(true);
      expect(processStartTicks(process.pid)).not.toBe(ticks);
    } finally {
      child.kill('SIGKILL');
      await waitGone([pid]);
    }
    expect(isProcessGone(pid, undefined)).toBe(true);
    expect(processStartTicks(pid)).toBeUndefined();
  });
});
