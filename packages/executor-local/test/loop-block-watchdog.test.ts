import { spawn } from 'node:child_process';
import { InlineExecutor, LoopBlockWatchdog } from '@taskwarden/executor-local';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import { until } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { fixture, osThreadCount } from './worker-harness.js';

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the fixture in a child process; the test waits until the child has exited. */
function runChild(scenario: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture('loop-block-child.mjs'), scenario], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('LoopBlockWatchdog', () => {
  it('kills a process whose event loop is blocked past a pending cancellation, after printing the stack', async () => {
    const result = await runChild('blocked-cancel');
    expect(result.stdout).toContain('cancel requested: CANCELING');
    expect(result.signal).toBe('SIGKILL');
    expect(result.stderr).toMatch(/LoopBlockWatchdog: the main event loop has been blocked for \d+ ms/);
    expect(result.stderr).toMatch(/at blockTheLoopForever \(file:\/\/.*loop-block-child\.mjs:\d+:\d+\)/);
    // The same report as a pino line on logFd (stdout in the fixture).
    const line = JSON.parse(result.stdout.split('\n').find((text) => text.startsWith('{')) ?? '{}');
    expect(line).toMatchObject({ level: 60, msg: expect.stringContaining('killing process') });
    expect(line.stack).toContain('blockTheLoopForever');
  });

  it('leaves a blocked loop alone when no cancellation is pending', async () => {
    const result = await runChild('blocked-idle');
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.stdout).toContain('survived');
    expect(result.stderr).not.toContain('LoopBlockWatchdog');
  });

  it("leaves a live loop to the runtime's own watchdog", async () => {
    const result = await runChild('live-cancel');
    expect(result).toMatchObject({ code: 0, signal: null });
    expect(result.stdout).toContain('outcome: FAILED abandoned=true');
    expect(result.stderr).not.toContain('LoopBlockWatchdog');
  });

  it('counts a cancellation as pending from CANCELING until the work has stopped', async () => {
    const watchdog = new LoopBlockWatchdog({ timeoutMs: 5_000 });
    const runtime = createRuntime({
      numberOfSlots: 1,
      executors: { inline: new InlineExecutor() },
      fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
      logger: pino({ level: 'silent' }),
    });
    try {
      const unwatch = watchdog.watch(runtime);
      runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
      runtime.slotTable.markSlotActive('slot');
      let release = (): void => undefined;
      const task = runtime.submit({
        jobId: 'job',
        allocationId: 'slot',
        // Ignores its signal; the test decides when the work stops.
        invokable: () =>
          new Promise<void>((resolve) => {
            release = resolve;
          }),
      });
      await until(() => task.state === 'RUNNING', 'RUNNING');
      task.cancel();
      expect(watchdog.pendingCancellations).toBe(1);
      release();
      await task.done;
      await until(() => watchdog.pendingCancellations === 0, 'the cancellation to clear');
      unwatch();
    } finally {
      await runtime.close();
      await watchdog.close();
    }
  });

  it('validates its options, naming the option', () => {
    expect(() => new LoopBlockWatchdog({ timeoutMs: 0 })).toThrow(
      new RangeError('timeoutMs must be a number >= 1, got 0'),
    );
    expect(() => new LoopBlockWatchdog({ graceMs: '1' as never })).toThrow(TypeError);
    expect(() => new LoopBlockWatchdog({ logFd: -1 })).toThrow(/logFd must be a file descriptor/);
  });

  it('close() ends its thread', async () => {
    const before = osThreadCount();
    const watchdog = new LoopBlockWatchdog();
    await until(() => osThreadCount() > before, 'the watchdog thread to start');
    await watchdog.close();
    await watchdog.close();
    expect(watchdog.pendingCancellations).toBe(0);
    await until(() => osThreadCount() <= before, 'the watchdog thread to end', 2_000);
  });
});
