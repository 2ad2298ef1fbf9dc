import { readFileSync } from 'node:fs';
import type { ProcFs } from '@taskwarden/sdk/internal';
import { parseStat, TREE_COOKIE_ENV } from '@taskwarden/sdk/internal';
import { describe, expect, it } from 'vitest';
import { TREE_KILL_BOUND_MS } from './spawned-process-tree.js';
import { ThreadTree } from './thread-tree.js';

interface FakeProcess {
  ppid: number;
  pgid: number;
  sid: number;
  state: string;
  env: string[];
  /** Clock ticks after boot. */
  start: number;
}

/** A fake /proc: a SIGKILL makes a process a zombie; `environReads` counts environment reads. */
class FakeProc implements ProcFs {
  readonly processes = new Map<number, FakeProcess>();
  readonly signals: number[] = [];
  environReads = 0;

  /** A process started now (after any thread), in group `pgid` and session `sid`. */
  add(
    pid: number,
    pgid: number,
    sid: number,
    env: string[] = [],
    start = Number.MAX_SAFE_INTEGER,
    ppid = 1,
  ): this {
    this.processes.set(pid, { ppid, pgid, sid, state: 'S', env, start });
    return this;
  }

  readonly kill = (target: number): void => {
    this.signals.push(target);
    for (const [pid, process] of this.processes) {
      if (target === pid || (target < 0 && process.pgid === -target)) process.state = 'Z';
    }
  };

  async list(): Promise<string[]> {
    return [...this.processes.keys()].map(String).concat(['self', 'meminfo']);
  }

  async readStat(pid: string): Promise<string> {
    const found = this.processes.get(Number(pid));
    if (!found) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
    const rest = Array.from({ length: 12 }, () => '0').join(' ');
    // pid (comm) state ppid pgrp session tty tpgid flags ... starttime
    return `${pid} (a (strange) name) ${found.state} ${found.ppid} ${found.pgid} ${found.sid} 0 -1 4194560 ${rest} ${found.start} 0 0`;
  }

  async readEnviron(pid: string): Promise<Buffer> {
    this.environReads += 1;
    const found = this.processes.get(Number(pid));
    if (!found) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
    return Buffer.from(found.env.map((entry) => `${entry}\0`).join(''), 'latin1');
  }
}

const COOKIE = '4242-0123456789ab';
const carrier = [`${TREE_COOKIE_ENV}=outer-tree:${COOKIE}:${COOKIE}-task-7`];
const host = parseStat(readFileSync('/proc/self/stat', 'latin1'));

function tree(proc: FakeProc, mode: 'cookie' | 'process-group' | 'cgroup', extra = {}): ThreadTree {
  return new ThreadTree({ mode, cookie: COOKIE, cgroup: undefined, kill: proc.kill, proc, ...extra });
}

describe('ThreadTree (a worker thread’s spawned processes)', () => {
  it('cookie mode: kills the spawns’ groups, their sessions and the cookie’s carriers; nothing else', async () => {
    const proc = new FakeProc()
      .add(100, 100, 100, carrier) // a spawn
      .add(101, 100, 100) // in its group, environment cleared
      .add(102, 102, 100) // left the group (setpgid, timeout), environment cleared
      .add(200, 200, 200, carrier) // left the session (setsid)
      .add(300, 300, 300, [`${TREE_COOKIE_ENV}=9-ffffffffffff`]) // another thread's
      .add(400, 400, 400, ['PATH=/bin']); // unrelated
    const spawned = tree(proc, 'cookie');
    spawned.track(100);
    expect(await spawned.kill()).toBe(true);
    for (const pid of [100, 101, 102, 200]) expect(proc.processes.get(pid)?.state, String(pid)).toBe('Z');
    for (const pid of [300, 400]) expect(proc.processes.get(pid)?.state, String(pid)).toBe('S');
  });

  it('never signals init, the host, or the host’s group or session, whatever the thread reports', async () => {
    const proc = new FakeProc()
      .add(host.pgrp, host.pgrp, host.session)
      .add(host.session, host.session, host.session);
    const spawned = tree(proc, 'process-group');
    for (const pid of [0, 1, -1, process.pid, host.pgrp, host.session, 1.5, Number.NaN]) spawned.track(pid);
    await spawned.kill();
    expect(proc.signals).toEqual([]);
    for (const pid of [host.pgrp, host.session]) expect(proc.processes.get(pid)?.state).toBe('S');
  });

  it('forgets a spawn once it was reaped: its group and session id may belong to someone else', async () => {
    const proc = new FakeProc().add(500, 500, 500).add(501, 500, 500);
    const spawned = tree(proc, 'cookie');
    spawned.track(500);
    spawned.untrack(500);
    expect(await spawned.kill()).toBe(true);
    expect(proc.signals).toEqual([]);
    expect(proc.processes.get(501)?.state).toBe('S');
  });

  it('process-group mode: kills the spawns’ groups and waits for them, and reaches nothing else', async () => {
    const proc = new FakeProc()
      .add(600, 600, 600, carrier)
      .add(601, 600, 600)
      .add(602, 602, 600, carrier) // left the group: not reached in this mode
      .add(603, 603, 603, carrier); // left the session
    const spawned = tree(proc, 'process-group');
    spawned.track(600);
    expect(await spawned.kill()).toBe(true);
    expect(proc.signals).toEqual([-600]);
    expect(proc.processes.get(601)?.state).toBe('Z');
    for (const pid of [602, 603]) expect(proc.processes.get(pid)?.state).toBe('S');
  });

  it('cgroup mode: the cookie is searched once the thread started a process outside its cgroup, and once the thread is gone', async () => {
    // A cgroup that does not exist: empty, and removed already.
    const cgroup = `/sys/fs/cgroup/taskwarden-test-none-${process.pid}`;
    const deferred = () => {
      let end = () => {};
      const promise = new Promise<void>((resolve) => {
        end = resolve;
      });
      return { promise, end };
    };
    // While the thread lives and every spawn joined the cgroup: the cgroup only.
    const joined = new FakeProc().add(700, 700, 700, carrier);
    const alive = deferred();
    const kill = tree(joined, 'cgroup', { cgroup, unplaced: () => false }).kill(alive.promise);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(joined.processes.get(700)?.state).toBe('S');
    // Gone: one last search by the cookie (what moved itself to a cgroup of its own).
    alive.end();
    expect(await kill).toBe(true);
    expect(joined.processes.get(700)?.state).toBe('Z');
    // A spawn outside the cgroup: the cookie at once, while the thread still lives.
    const outside = new FakeProc().add(701, 701, 701, carrier);
    const stillAlive = deferred();
    const killing = tree(outside, 'cgroup', { cgroup, unplaced: () => true }).kill(stillAlive.promise);
    for (let i = 0; i < 100 && outside.processes.get(701)?.state !== 'Z'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(outside.processes.get(701)?.state).toBe('Z');
    stillAlive.end();
    expect(await killing).toBe(true);
  });

  it('finds the *Sync child the thread waits for among the host’s children by its cookie, and kills its group and session', async () => {
    const later = Number.MAX_SAFE_INTEGER;
    const proc = new FakeProc()
      .add(1100, 1100, 1100, carrier, later, process.pid) // the blocked child: never reported
      .add(1101, 1101, 1100) // its child, in its session, environment cleared
      .add(1200, 1200, 1200, carrier, later, 4321); // carries the cookie, not the host's child
    let waiting = true;
    const spawned = tree(proc, 'process-group', { waitsForSyncSpawn: () => waiting });
    expect(await spawned.kill()).toBe(true);
    expect(proc.signals).toEqual([-1100]);
    expect(proc.processes.get(1100)?.state).toBe('Z');
    // In 'cookie' mode its session too (its child left its group).
    const inCookieMode = new FakeProc()
      .add(1100, 1100, 1100, carrier, later, process.pid)
      .add(1101, 1101, 1100);
    expect(await tree(inCookieMode, 'cookie', { waitsForSyncSpawn: () => true }).kill()).toBe(true);
    expect(inCookieMode.processes.get(1101)?.state).toBe('Z');
    // Not while the thread waits for none: its session may be anybody's by then.
    waiting = false;
    const after = new FakeProc().add(1300, 1300, 1300, carrier, later, process.pid);
    await tree(after, 'process-group', { waitsForSyncSpawn: () => waiting }).kill();
    expect(after.signals).toEqual([]);
  });

  it('reports false when something is still alive at the bound', async () => {
    const proc = new FakeProc().add(800, 800, 800, carrier);
    const spawned = new ThreadTree({
      mode: 'cookie',
      cookie: COOKIE,
      cgroup: undefined,
      kill: () => undefined, // signals that do nothing (a process in uninterruptible sleep)
      proc,
    });
    expect(await spawned.kill()).toBe(false);
  });

  it('keeps looking while the thread lives, kills what appears, and ends as soon as the thread is gone', async () => {
    const proc = new FakeProc();
    setTimeout(() => proc.add(900, 900, 900, carrier), 20);
    let threadGone = false;
    const until = new Promise((resolve) => setTimeout(resolve, 60)).then(() => {
      threadGone = true;
    });
    const bound = new Promise((resolve) => setTimeout(() => resolve('bound'), TREE_KILL_BOUND_MS));
    const kill = tree(proc, 'cookie').kill(until);
    // Not before the thread is gone (nothing was found at first), and not only at the bound.
    expect(await Promise.race([kill, bound])).toBe(true);
    expect(threadGone).toBe(true);
    expect(proc.processes.get(900)?.state).toBe('Z');
  });

  it('does not read the environment of processes older than the thread', async () => {
    const proc = new FakeProc().add(1000, 1000, 1000, carrier, 1);
    const spawned = tree(proc, 'cookie');
    expect(await spawned.kill()).toBe(true);
    expect(proc.environReads).toBe(0);
    expect(proc.signals).toEqual([]);
  });
});
