import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isGone, until } from '@taskwarden/sdk/testing';
import { describe, expect, it } from 'vitest';
import { runExample } from '../../run-example.js';

const main = fileURLToPath(new URL('../src/main.js', import.meta.url));

describe('npm run demo', () => {
  it('cancels one job across the three executors, prints the timeline and summary, and exits 0', () => {
    const started = Date.now();
    const out = runExample(main);
    // The issue asks for under 15 s; the bound leaves room for a loaded CI machine.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(out).toContain('duplicate slot request refused: DUPLICATE_ALLOCATION');
    expect(out).toMatch(/worker\s+cooperative\s+CANCELING → CANCELED/);
    expect(out).toMatch(/worker\s+cpu-bound\s+CANCELING → CANCELED/);
    expect(out).toMatch(/process\s+deaf-tree\s+CANCELING → CANCELED/);
    expect(out).toMatch(/inline\s+finishes-anyway\s+CANCELING → FINISHED/);
    expect(out).toMatch(/inline\s+deaf-inline\s+CANCELING → FAILED/);
    expect(out).toContain('fatal error handler called: CancellationTimeoutError');
    expect(out).toMatch(/cpu-bound\s+still running \d+ ms after the cancel; stuck at spin/);
    expect(out).toMatch(/process tree: child \d+ gone, grandchild \d+ gone/);
    expect(out).toContain('job report: CANCELED, 5 tasks');
    expect(out).toMatch(/closed: every thread and process has exited/);
  });
});

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

// In this file, not one of its own: two demos at once, each spinning a thread on a two-core machine,
// would starve the interrupter's stack sampling that the test above looks for.
describe('npm run demo:inspect', () => {
  it('prints the inspector URL, serves the running demo, and exits 0 on SIGINT with every process gone', async () => {
    const child = spawn(process.execPath, [main, '--inspect'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const ended = exited(child);
    const pid = child.pid as number;
    const pidFile = join(tmpdir(), `taskwarden-demo-${pid}.json`);
    try {
      await until(
        () => /inspector: http:\/\/127\.0\.0\.1:\d+\/#token=\S+/.test(out),
        'the inspector URL',
        15_000,
      );
      const link = /inspector: (http:\/\/127\.0\.0\.1:\d+\/)#token=(\S+)/.exec(out) as RegExpExecArray;
      const [, url, token] = link;

      await until(() => existsSync(pidFile), 'the demo process tree to start', 15_000);
      const tree = JSON.parse(readFileSync(pidFile, 'utf8')) as { child: number; grandchild: number };
      const snapshot = (await (await fetch(`${url}api/snapshot`)).json()) as {
        health: string;
        mutations: string;
        tasks: Array<{ name: string; executor: string }>;
      };
      expect(snapshot.health).toBe('running');
      expect(snapshot.mutations).toBe('token');
      expect(snapshot.tasks.map((task) => task.name)).toEqual(
        expect.arrayContaining([
          'cooperative',
          'cpu-bound',
          'deaf-tree',
          'finishes-anyway',
          'deaf-inline',
          'progress',
        ]),
      );
      const page = await fetch(url as string);
      expect(page.status).toBe(200);
      expect(await page.text()).not.toContain(token);
      // Without the printed token, nothing can be cancelled.
      expect((await fetch(`${url}api/jobs/demo-job/cancel`, { method: 'POST' })).status).toBe(401);

      process.kill(pid, 'SIGINT');
      const { code, signal } = await ended;
      expect({ code, signal }, err).toEqual({ code: 0, signal: null });
      expect(out).toContain('stopping: closing the inspector and the runtime');
      expect(out).toContain('closed: every thread and process has exited');
      await until(() => isGone(tree.child) && isGone(tree.grandchild), 'the demo process tree to be gone');
      await expect(fetch(`${url}api/snapshot`)).rejects.toThrow();
    } finally {
      if (!isGone(pid)) process.kill(pid, 'SIGKILL');
      await ended;
    }
  });
});
