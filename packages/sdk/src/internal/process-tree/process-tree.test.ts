import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isGone, until, waitGone } from '../../testing/index.js';
import {
  cgroupMembers,
  createCgroup,
  isCgroupPopulated,
  killCgroup,
  ownCgroupDir,
  placeInCgroup,
  removeCgroup,
  startCgroupRemover,
  sweepStaleCgroups,
} from './cgroup.js';
import type { ProcFs, ProcFsSync } from './proc-table.js';
import { bornAfterTicks, parseStat, scanTree, scanTreeSync } from './proc-table.js';
import { ProcessTree } from './process-tree.js';
import {
  environHasCookie,
  newTreeCookie,
  TREE_COOKIE_ENV,
  withTreeCookie,
  withTreeCookiePairs,
} from './tree-cookie.js';
import { checkTreeKillOption, chooseTreeKill, detectTreeKill } from './tree-kill-mode.js';

const linux = process.platform === 'linux';

/** A /proc/<pid>/stat line: `flags` 0x200000 marks a kernel thread; `start` is in clock ticks. */
function stat(
  pid: number,
  fields: { state?: string; pgrp?: number; session?: number; flags?: number; start?: number },
) {
  const { state = 'S', pgrp = 1, session = 1, flags = 0x400100, start = 1_000 } = fields;
  const rest = Array.from({ length: 12 }, () => '0').join(' ');
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime priority nice threads itrealvalue starttime
  return `${pid} (a (weird) name) ${state} 1 ${pgrp} ${session} 0 -1 ${flags} ${rest} ${start} 0 0`;
}

interface FakeProcess {
  stat: string;
  environ?: Buffer | string;
}

/** A fake /proc, read asynchronously; `reads` counts environment reads. */
function fakeProc(processes: Record<number, FakeProcess>): ProcFs & { reads: number } {
  const sync = syncProc(processes);
  const proc = {
    reads: 0,
    list: async () => sync.list(),
    readStat: async (pid: string) => sync.readStat(pid),
    readEnviron: async (pid: string) => {
      proc.reads += 1;
      return sync.readEnviron(pid);
    },
  };
  return proc;
}

function syncProc(processes: Record<number, FakeProcess>): ProcFsSync {
  return {
    list: () => Object.keys(processes),
    readStat: (pid) => {
      const entry = processes[Number(pid)];
      if (!entry) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
      return entry.stat;
    },
    readEnviron: (pid) => {
      const environ = processes[Number(pid)]?.environ;
      if (typeof environ === 'string') throw Object.assign(new Error(environ), { code: environ });
      return environ ?? Buffer.alloc(0);
    },
  };
}

const environ = (...pairs: string[]) => Buffer.from(`${pairs.join('\0')}\0`, 'latin1');

describe('ownCgroupDir', () => {
  const reads = (mountinfo: string, membership: string) => (path: string) =>
    path.endsWith('mountinfo') ? mountinfo : membership;

  it('finds the cgroup2 mount of a unified host', () => {
    const mountinfo = '30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n';
    expect(ownCgroupDir(reads(mountinfo, '0::/user.slice/session-1.scope\n'))).toEqual({
      dir: '/sys/fs/cgroup/user.slice/session-1.scope',
    });
  });

  it('finds it on a hybrid host, where v1 controllers share /sys/fs/cgroup', () => {
    const mountinfo = [
      '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    expect(ownCgroupDir(reads(mountinfo, '4:memory:/x\n0::/\n'))).toEqual({ dir: '/sys/fs/cgroup/unified' });
  });

  it('maps a path below a mount whose root is not /, and unescapes the mount point', () => {
    const mountinfo = '50 40 0:30 /docker/abc /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n';
    expect(ownCgroupDir(reads(mountinfo, '0::/docker/abc/task\n'))).toEqual({ dir: '/mnt/cg two/task' });
  });

  it('says why there is none', () => {
    expect(ownCgroupDir(reads('', '4:memory:/x\n'))).toEqual({
      unavailable: expect.stringContaining('no cgroup v2'),
    });
    expect(
      ownCgroupDir(reads('32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n', '0::/\n')),
    ).toEqual({
      unavailable: expect.stringContaining('not mounted'),
    });
  });
});

describe('the environment cookie', () => {
  it('is found as one token of TASKWARDEN_TREE, anywhere in the environment', () => {
    expect(environHasCookie(environ('PATH=/bin', `${TREE_COOKIE_ENV}=1-aa`), '1-aa')).toBe(true);
    expect(environHasCookie(environ(`${TREE_COOKIE_ENV}=9-outer:1-aa`, 'HOME=/'), '1-aa')).toBe(true);
    expect(environHasCookie(environ(`${TREE_COOKIE_ENV}=1-aaa`), '1-aa')).toBe(false);
    expect(environHasCookie(environ(`X_${TREE_COOKIE_ENV}=1-aa`), '1-aa')).toBe(false);
    expect(environHasCookie(environ('PATH=/bin'), '1-aa')).toBe(false);
  });

  it('is appended to an inherited one, not replacing it', () => {
    expect(withTreeCookie({ A: '1' }, 'c1')).toEqual({ A: '1', [TREE_COOKIE_ENV]: 'c1' });
    expect(withTreeCookie({ [TREE_COOKIE_ENV]: 'outer' }, 'c1')).toEqual({ [TREE_COOKIE_ENV]: 'outer:c1' });
    expect(withTreeCookiePairs(['A=1'], 'c1:c2')).toEqual(['A=1', `${TREE_COOKIE_ENV}=c1:c2`]);
    expect(withTreeCookiePairs([`${TREE_COOKIE_ENV}=outer`, 'B=2'], 'c1')).toEqual([
      `${TREE_COOKIE_ENV}=outer:c1`,
      'B=2',
    ]);
    expect(withTreeCookiePairs([`${TREE_COOKIE_ENV}=`], 'c1')).toEqual([`${TREE_COOKIE_ENV}=c1`]);
    expect(newTreeCookie()).not.toBe(newTreeCookie());
    expect(newTreeCookie()).toMatch(new RegExp(`^${process.pid}-[0-9a-f]{12}$`));
  });
});

describe('parseStat', () => {
  it('reads the fields after a command name holding spaces and parentheses', () => {
    expect(parseStat(stat(7, { state: 'Z', pgrp: 5, session: 4, start: 1234 }))).toEqual({
      state: 'Z',
      ppid: 1,
      pgrp: 5,
      session: 4,
      kernelThread: false,
      startTicks: 1234,
    });
    expect(parseStat(stat(2, { flags: 0x208040 })).kernelThread).toBe(true);
  });
});

describe('scanTree', () => {
  const cookie = '1-aa';
  const table: Record<number, FakeProcess> = {
    10: { stat: stat(10, { pgrp: 10, session: 10 }) }, // the root
    11: { stat: stat(11, { pgrp: 11, session: 10 }) }, // left the group (timeout, a bash -m job)
    12: {
      stat: stat(12, { pgrp: 12, session: 12, start: 5_000 }),
      environ: environ(`${TREE_COOKIE_ENV}=${cookie}`),
    }, // a daemon
    13: { stat: stat(13, { pgrp: 13, session: 13, start: 5_000 }), environ: environ('PATH=/bin') }, // a stranger
    14: { stat: stat(14, { pgrp: 10, session: 10, state: 'Z' }) }, // a zombie member
    15: { stat: stat(15, { flags: 0x208040, start: 5_000 }), environ: 'ESRCH' }, // a kernel thread
    16: {
      stat: stat(16, { pgrp: 16, session: 16, start: 100 }),
      environ: environ(`${TREE_COOKIE_ENV}=${cookie}`),
    }, // older than the root
  };

  it('finds live members by group, session and cookie, not zombies, kernel threads or strangers', async () => {
    const proc = fakeProc(table);
    const scan = await scanTree({ pgid: 10, sid: 10, cookie }, { proc });
    expect({ ...scan, pids: scan.pids.sort() }).toEqual({ pids: [10, 11, 12, 16], uncertain: false });
    expect(scanTreeSync({ pgid: 10, sid: 10, cookie }, syncProc(table)).sort()).toEqual([10, 11, 12, 16]);
    expect(await scanTree({ pgid: 10 }, { proc })).toEqual({ pids: [10], uncertain: false });
  });

  it('leaves out the caller, and does not read the environment of processes older than the tree', async () => {
    const proc = fakeProc(table);
    const scan = await scanTree({ pgid: 10, sid: 10, cookie, bornAfterTicks: 4_000, exclude: 10 }, { proc });
    expect(scan.pids.sort()).toEqual([11, 12]);
    // 12 and 13 only: 15 is a kernel thread, 16 is older than the tree, the rest matched by stat.
    expect(proc.reads).toBe(2);
  });

  it('matches the groups and sessions of further roots (a tree with many roots), not others', async () => {
    const proc = fakeProc(table);
    expect((await scanTree({ sids: new Set([10, 99]) }, { proc })).pids.sort()).toEqual([10, 11]);
    expect((await scanTree({ pgids: new Set([11, 12]) }, { proc })).pids.sort()).toEqual([11, 12]);
    expect(scanTreeSync({ sids: new Set([12]), pgids: new Set([10]) }, syncProc(table)).sort()).toEqual([
      10, 12,
    ]);
  });

  it('an environment it may not read (EACCES) does not match; one it cannot read for another reason is uncertain', async () => {
    const denied = {
      ...table,
      20: { stat: stat(20, { pgrp: 20, session: 20, start: 5_000 }), environ: 'EACCES' },
    };
    expect((await scanTree({ cookie }, { proc: fakeProc(denied) })).uncertain).toBe(false);
    const failing = {
      ...table,
      20: { stat: stat(20, { pgrp: 20, session: 20, start: 5_000 }), environ: 'EMFILE' },
    };
    expect((await scanTree({ cookie }, { proc: fakeProc(failing) })).uncertain).toBe(true);
  });
});

describe('bornAfterTicks', () => {
  it('is the uptime at the root’s start less a second, in clock ticks', () => {
    expect(bornAfterTicks(2_000, () => '100.50 90.00\n')).toBe(Math.floor((100.5 - 2 - 1) * 100));
    expect(bornAfterTicks(0, () => 'garbage')).toBeUndefined();
    expect(
      bornAfterTicks(0, () => {
        throw new Error('no /proc');
      }),
    ).toBeUndefined();
  });
});

describe('tree-kill modes', () => {
  const support = {
    mode: 'cookie' as const,
    cgroupDir: undefined,
    unavailable: { cgroup: 'no cgroup2 here' },
  };

  it('checks the option, naming it', () => {
    expect(checkTreeKillOption(undefined, 'options.treeKill')).toBe('auto');
    expect(checkTreeKillOption('process-group', 'options.treeKill')).toBe('process-group');
    expect(() => checkTreeKillOption('pgid', 'options.treeKill')).toThrow(RangeError);
    expect(() => checkTreeKillOption(true, 'options.treeKill')).toThrow(/options\.treeKill must be a string/);
  });

  it('takes the strongest available for auto, a weaker one when asked, and refuses a stronger one saying why', () => {
    expect(chooseTreeKill('auto', support, 'o')).toBe('cookie');
    expect(chooseTreeKill('process-group', support, 'o')).toBe('process-group');
    expect(() => chooseTreeKill('cgroup', support, 'o')).toThrow(
      "o 'cgroup' is not available here: no cgroup2 here",
    );
  });

  it.runIf(linux)('detects a mode on this machine', () => {
    const detected = detectTreeKill();
    expect(['cgroup', 'cookie']).toContain(detected.mode);
    if (detected.mode === 'cgroup') expect(detected.cgroupDir).toBeDefined();
    else expect(detected.unavailable.cgroup).toBeDefined();
  });
});

/** A `sleep` that ignores SIGTERM, as a tree member. */
function sleeper(env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn('/bin/sh', ['-c', "trap '' TERM; exec sleep 30"], { stdio: 'ignore', detached: true, env });
}

const cgroupDir = linux && detectTreeKill().mode === 'cgroup' ? detectTreeKill().cgroupDir : undefined;

describe.runIf(cgroupDir !== undefined)('cgroup trees (this machine has cgroup v2)', () => {
  const base = cgroupDir as string;
  const name = (label: string) =>
    `taskwarden-${process.pid}-test-${label}-${Math.random().toString(36).slice(2, 6)}`;

  it('places a process, sees it populated, kills it at once, and removes the cgroup', async () => {
    const cgroup = createCgroup(base, name('cycle'));
    const member = sleeper();
    try {
      await placeInCgroup(cgroup, member.pid as number);
      expect(cgroupMembers(cgroup)).toEqual([member.pid]);
      expect(isCgroupPopulated(cgroup)).toBe(true);
      expect(removeCgroup(cgroup)).toBe(false); // EBUSY while a process is in it
      killCgroup(cgroup);
      await until(() => !isCgroupPopulated(cgroup), 'the cgroup to empty');
      await waitGone([member.pid as number]);
    } finally {
      if (!isGone(member.pid as number)) member.kill('SIGKILL');
      expect(removeCgroup(cgroup)).toBe(true);
    }
    expect(existsSync(cgroup)).toBe(false);
    expect(isCgroupPopulated(cgroup)).toBe(false); // gone counts as empty
  });

  it('removes cgroups created below a tree’s cgroup with it', () => {
    const cgroup = createCgroup(base, name('nested'));
    mkdirSync(join(cgroup, 'inner'));
    expect(removeCgroup(cgroup)).toBe(true);
    expect(existsSync(cgroup)).toBe(false);
  });

  it('a remover started outside the cgroup deletes it once its last process is killed', async () => {
    const cgroup = createCgroup(base, name('remover'));
    const member = sleeper();
    try {
      await placeInCgroup(cgroup, member.pid as number);
      expect(startCgroupRemover(cgroup, base)).toBe(true);
      killCgroup(cgroup);
      await until(() => !existsSync(cgroup), 'the remover to delete the cgroup', 5_000);
    } finally {
      if (!isGone(member.pid as number)) member.kill('SIGKILL');
      removeCgroup(cgroup);
    }
  });

  it('sweeps the empty cgroups of hosts that no longer exist, and nothing else', async () => {
    const dead = spawn('/bin/true');
    await new Promise((resolve) => dead.once('exit', resolve));
    const stale = createCgroup(base, `taskwarden-${dead.pid}-stale`);
    const own = createCgroup(base, name('own'));
    try {
      sweepStaleCgroups(base);
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(own)).toBe(true);
    } finally {
      removeCgroup(stale);
      removeCgroup(own);
    }
  });

  it('ProcessTree in cgroup mode: SIGTERM reaches each member, sweep kills them all, remove() deletes the cgroup', async () => {
    const cgroup = createCgroup(base, name('tree'));
    const tree = new ProcessTree({ mode: 'cgroup', cgroup });
    // A member that notes each SIGTERM it gets in a file and keeps running.
    const noted = join(tmpdir(), `${name('term')}.txt`);
    const member = spawn(
      '/bin/sh',
      ['-c', `trap 'echo TERM >> ${noted}' TERM; while :; do sleep 0.05; done`],
      {
        stdio: 'ignore',
        detached: true,
      },
    );
    try {
      await tree.place(member.pid as number);
      await tree.signal('SIGTERM');
      await until(
        () => existsSync(noted) && readFileSync(noted, 'utf8').includes('TERM'),
        'the member to note SIGTERM',
      );
      expect(await tree.hasLiveMember()).toBe(true);
      for (let left = await tree.sweep(); left; left = await tree.sweep())
        await new Promise((r) => setTimeout(r, 5));
      await waitGone([member.pid as number]);
      expect(tree.remove()).toBe(true);
    } finally {
      if (!isGone(member.pid as number)) member.kill('SIGKILL');
      removeCgroup(cgroup);
      rmSync(noted, { force: true });
    }
  });
});

describe.runIf(linux)('ProcessTree in cookie mode (a real /proc)', () => {
  it('finds a detached process by its cookie, sweeps it, then has no live member', async () => {
    const cookie = newTreeCookie();
    const startedAt = performance.now();
    const daemon = sleeper(withTreeCookie(process.env, cookie));
    const stranger = sleeper();
    const tree = new ProcessTree({ mode: 'cookie', root: 2 ** 22 + 1, cookie, startedAt });
    try {
      await until(() => !isGone(daemon.pid as number), 'the daemon to run');
      // The shell execs sleep: wait until its environment is the one that carries the cookie.
      expect(await tree.hasLiveMember()).toBe(true);
      for (let left = await tree.sweep(); left; left = await tree.sweep())
        await new Promise((r) => setTimeout(r, 5));
      await waitGone([daemon.pid as number]);
      expect(isGone(stranger.pid as number)).toBe(false);
      expect(await tree.hasLiveMember()).toBe(false);
    } finally {
      for (const child of [daemon, stranger]) if (!isGone(child.pid as number)) child.kill('SIGKILL');
      await waitGone([daemon.pid as number, stranger.pid as number]);
    }
  });

  it('with further roots, sweeps the live members of their sessions too', async () => {
    const killed: number[] = [];
    const table: Record<number, FakeProcess> = {
      20: { stat: stat(20, { pgrp: 20, session: 20 }) }, // a root
      21: { stat: stat(21, { pgrp: 21, session: 20 }) }, // left its group, not its session
      30: { stat: stat(30, { pgrp: 30, session: 30 }) }, // a root no longer listed
      40: { stat: stat(40, { pgrp: 40, session: 40, start: 1 }) }, // a stranger
    };
    const roots = new Set([20]);
    const tree = new ProcessTree({
      mode: 'cookie',
      roots: () => roots,
      proc: fakeProc(table),
      kill: (pid) => killed.push(pid),
    });
    expect(await tree.sweep()).toBe(true);
    expect(killed.sort()).toEqual([20, 21]);
    roots.clear();
    killed.length = 0;
    expect(await tree.sweep()).toBe(false);
    expect(killed).toEqual([]);
  });

  it('in process-group mode reaches nothing beyond the group', async () => {
    const tree = new ProcessTree({ mode: 'process-group', root: process.pid });
    expect(await tree.hasLiveMember()).toBe(false);
    expect(await tree.sweep()).toBe(false);
    expect(tree.remove()).toBe(true);
  });
});
