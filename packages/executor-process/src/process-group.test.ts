import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ProcFs } from './process-group.js';
import { hasLiveMember, isLiveProcess } from './process-group.js';

function errnoError(code: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`open ${code}`);
  error.code = code;
  return error;
}

function stat(pid: number, pgrp: number, state = 'S'): string {
  return `${pid} (node (worker)) ${state} 1 ${pgrp} ${pgrp} 0 -1 4194560`;
}

/** A fake /proc: `pids` processes, one of them (`member`) in group 4242 with `memberState`. */
function fakeProc(
  count: number,
  options: { member?: number; memberState?: string; fail?: (pid: number) => string | undefined } = {},
): ProcFs & { maxInFlight: number } {
  let inFlight = 0;
  const proc = {
    maxInFlight: 0,
    list: async () => ['self', 'sys', ...Array.from({ length: count }, (_, index) => String(index + 100))],
    readStat: async (pid: string) => {
      inFlight += 1;
      proc.maxInFlight = Math.max(proc.maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 1));
      inFlight -= 1;
      const failure = options.fail?.(Number(pid));
      if (failure) throw errnoError(failure);
      const isMember = Number(pid) === options.member;
      return stat(Number(pid), isMember ? 4242 : 1, isMember ? (options.memberState ?? 'S') : 'S');
    },
  };
  return proc;
}

describe.runIf(process.platform === 'linux')('hasLiveMember', () => {
  it('finds a live member and ignores zombies', async () => {
    expect(await hasLiveMember(4242, fakeProc(50, { member: 120 }))).toBe(true);
    expect(await hasLiveMember(4242, fakeProc(50, { member: 120, memberState: 'Z' }))).toBe(false);
    expect(await hasLiveMember(4242, fakeProc(50))).toBe(false);
  });

  it('reads /proc with bounded concurrency, not one open file per process at once', async () => {
    const proc = fakeProc(400);
    expect(await hasLiveMember(4242, proc)).toBe(false);
    expect(proc.maxInFlight).toBeGreaterThan(0);
    expect(proc.maxInFlight).toBeLessThanOrEqual(16);
  });

  it('counts a process that exited meanwhile (ENOENT, ESRCH) as gone', async () => {
    const proc = fakeProc(50, {
      member: 120,
      fail: (pid) => (pid === 120 ? 'ENOENT' : pid === 121 ? 'ESRCH' : undefined),
    });
    expect(await hasLiveMember(4242, proc)).toBe(false);
  });

  it('counts an unreadable process (EMFILE under fd pressure, ...) as a live member: never a false "gone"', async () => {
    // Regression: every read failed with EMFILE and the scan said the group was empty.
    expect(await hasLiveMember(4242, fakeProc(50, { member: 120, fail: () => 'EMFILE' }))).toBe(true);
    expect(
      await hasLiveMember(4242, fakeProc(50, { fail: (pid) => (pid === 130 ? 'EACCES' : undefined) })),
    ).toBe(true);
  });

  it('scans the real /proc', async () => {
    const own = readFileSync('/proc/self/stat', 'latin1');
    const pgrp = Number(own.slice(own.lastIndexOf(')') + 2).split(' ')[2]);
    expect(await hasLiveMember(pgrp)).toBe(true);
  });
});

describe.runIf(process.platform === 'linux')('isLiveProcess', () => {
  const one = (state: string | undefined, failure?: string): ProcFs => ({
    list: async () => [],
    readStat: async (pid) => {
      if (failure) throw errnoError(failure);
      return stat(Number(pid), Number(pid), state);
    },
  });

  it('a running or sleeping process is alive; a zombie or a vanished one is not', async () => {
    expect(await isLiveProcess(4242, one('R'))).toBe(true);
    expect(await isLiveProcess(4242, one('S'))).toBe(true);
    expect(await isLiveProcess(4242, one('Z'))).toBe(false);
    expect(await isLiveProcess(4242, one('X'))).toBe(false);
    expect(await isLiveProcess(4242, one(undefined, 'ENOENT'))).toBe(false);
    expect(await isLiveProcess(4242, one(undefined, 'ESRCH'))).toBe(false);
  });

  it('cannot tell (EMFILE, EACCES) counts as alive', async () => {
    expect(await isLiveProcess(4242, one(undefined, 'EMFILE'))).toBe(true);
    expect(await isLiveProcess(4242, one(undefined, 'EACCES'))).toBe(true);
  });

  it('reads the real /proc', async () => {
    expect(await isLiveProcess(process.pid)).toBe(true);
  });
});
