import { describe, expect, it } from 'vitest';
import type { KillFunction } from './kill-tree.js';
import { killTree } from './kill-tree.js';
import type { ProcReader } from './proc-scan.js';
import { environHasToken, TREE_COOKIE_ENV, withTokens } from './tree-cookie.js';

/** A fake /proc: pid → group, state and environment; a SIGKILL makes a process a zombie. */
class FakeProc implements ProcReader {
  readonly processes = new Map<number, { pgid: number; state: string; env: string[] }>();
  readonly signals: number[] = [];

  add(pid: number, pgid: number, env: string[] = []): this {
    this.processes.set(pid, { pgid, state: 'S', env });
    return this;
  }

  readonly kill: KillFunction = (target) => {
    this.signals.push(target);
    for (const [pid, process] of this.processes) {
      if (target === pid || (target < 0 && process.pgid === -target)) process.state = 'Z';
    }
    return true;
  };

  async list(): Promise<string[]> {
    return [...this.processes.keys()].map(String).concat(['self', 'meminfo']);
  }

  async stat(pid: number): Promise<string> {
    if (pid === process.pid) return `${pid} (node) S 1 ${HOST_GROUP} ${HOST_GROUP} 0`;
    const found = this.processes.get(pid);
    if (!found) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
    return `${pid} (a (strange) name) ${found.state} 1 ${found.pgid} ${found.pgid} 0`;
  }

  async environ(pid: number): Promise<Buffer> {
    const found = this.processes.get(pid);
    if (!found) throw Object.assign(new Error('gone'), { code: 'ENOENT' });
    return Buffer.from(found.env.map((entry) => `${entry}\0`).join(''), 'latin1');
  }
}

const HOST_GROUP = 4242;
const TOKEN = 'worker-n0nce-1';
const carrier = [`${TREE_COOKIE_ENV}=outer-tree:${TOKEN}:${TOKEN}-task-7`];

describe('killTree', () => {
  it('kills the groups, the processes carrying the cookie and the groups they lead; others are left alone', async () => {
    const proc = new FakeProc()
      .add(100, 100, carrier) // a spawned process, leading its group
      .add(101, 100) // in its group, environment cleared
      .add(200, 200, carrier) // left the group (setsid), leads a new one
      .add(201, 200) // in that new group, environment cleared
      .add(300, 300, [`${TREE_COOKIE_ENV}=worker-0ther-1`]) // another executor's
      .add(400, 400, ['PATH=/bin']); // unrelated
    const gone = await killTree({
      token: TOKEN,
      groups: () => [{ pgid: 100, trusted: true }],
      boundMs: 1_000,
      kill: proc.kill,
      proc,
    });
    expect(gone).toBe(true);
    for (const pid of [100, 101, 200, 201]) expect(proc.processes.get(pid)?.state, String(pid)).toBe('Z');
    for (const pid of [300, 400]) expect(proc.processes.get(pid)?.state, String(pid)).toBe('S');
  });

  it('never signals init, the host or the host’s group, whatever it is told', async () => {
    const proc = new FakeProc().add(1, 1, carrier).add(HOST_GROUP, HOST_GROUP, carrier);
    await killTree({
      token: TOKEN,
      groups: () => [1, 0, process.pid, HOST_GROUP].map((pgid) => ({ pgid, trusted: true })),
      boundMs: 0,
      kill: proc.kill,
      proc,
    });
    const forbidden = [0, 1, -1, process.pid, -process.pid, HOST_GROUP, -HOST_GROUP];
    expect(proc.signals.filter((target) => forbidden.includes(target))).toEqual([]);
  });

  it('signals a group whose id may have been reused only while a process of the tree is in it', async () => {
    const proc = new FakeProc().add(500, 500, ['PATH=/bin']).add(501, 500);
    const sweep = () =>
      killTree({
        token: TOKEN,
        groups: () => [{ pgid: 500, trusted: false }],
        boundMs: 0,
        kill: proc.kill,
        proc,
      });
    await sweep();
    expect(proc.signals).toEqual([]);
    proc.add(502, 500, carrier);
    await sweep();
    expect(proc.signals).toContain(-500);
  });

  it('reports false when something is still alive at the bound', async () => {
    const proc = new FakeProc().add(600, 600, carrier);
    const gone = await killTree({
      token: TOKEN,
      groups: () => [],
      boundMs: 30,
      kill: () => true, // signals that do nothing (a process in uninterruptible sleep)
      proc,
    });
    expect(gone).toBe(false);
  });

  it('keeps looking while the tree may still grow, kills what appears, and ends as soon as it stops growing', async () => {
    const proc = new FakeProc();
    setTimeout(() => proc.add(700, 700, carrier), 20);
    const until = new Promise((resolve) => setTimeout(resolve, 60));
    const started = performance.now();
    const gone = await killTree({
      token: TOKEN,
      groups: () => [],
      boundMs: 10_000,
      until,
      kill: proc.kill,
      proc,
    });
    expect(gone).toBe(true);
    expect(proc.processes.get(700)?.state).toBe('Z');
    // It did not wait for its bound (nor a speed: 10 s is three orders of magnitude away).
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('does not read the environment of processes older than the tree', async () => {
    const proc = new FakeProc().add(800, 800, carrier);
    const read: number[] = [];
    const environ = proc.environ.bind(proc);
    proc.environ = async (pid) => {
      read.push(pid);
      return environ(pid);
    };
    proc.stat = async (pid) => `${pid} (old) S 1 800 800 ${' 0'.repeat(15).trim()} 500`;
    await killTree({
      token: TOKEN,
      groups: () => [],
      boundMs: 0,
      bornAfterTicks: 1_000,
      kill: proc.kill,
      proc,
    });
    expect(read).toEqual([]);
    expect(proc.signals).toEqual([]);
  });
});

describe('cookie tokens', () => {
  it('are appended to the variable, keeping the tokens of the trees the host belongs to', () => {
    expect(withTokens(['A=1'], [TOKEN])).toEqual(['A=1', `${TREE_COOKIE_ENV}=${TOKEN}`]);
    expect(withTokens([`${TREE_COOKIE_ENV}=outer`, 'B=2'], [TOKEN, `${TOKEN}-task-3`])).toEqual([
      `${TREE_COOKIE_ENV}=outer:${TOKEN}:${TOKEN}-task-3`,
      'B=2',
    ]);
  });

  it('match a whole token of the variable, at the start of an environment entry only', () => {
    const environ = (...entries: string[]) =>
      Buffer.from(entries.map((entry) => `${entry}\0`).join(''), 'latin1');
    expect(environHasToken(environ(`${TREE_COOKIE_ENV}=${TOKEN}`), TOKEN)).toBe(true);
    expect(environHasToken(environ('A=1', `${TREE_COOKIE_ENV}=outer:${TOKEN}:x`), TOKEN)).toBe(true);
    expect(environHasToken(environ(`X_${TREE_COOKIE_ENV}=${TOKEN}`), TOKEN)).toBe(false);
    expect(environHasToken(environ(`A=${TREE_COOKIE_ENV}=${TOKEN}`), TOKEN)).toBe(false);
    // Another thread's token that merely starts the same way is another tree.
    expect(environHasToken(environ(`${TREE_COOKIE_ENV}=${TOKEN}0`), TOKEN)).toBe(false);
    expect(environHasToken(environ(`${TREE_COOKIE_ENV}=${TOKEN}-task-7`), TOKEN)).toBe(false);
  });
});
