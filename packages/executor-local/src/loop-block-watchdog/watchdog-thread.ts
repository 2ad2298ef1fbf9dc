/**
 * The watchdog thread of {@link LoopBlockWatchdog} (loaded as
 * `dist/loop-block-watchdog/watchdog-thread.js`). It runs its own event loop, independent of the
 * main thread's, and every `checkIntervalMs` compares the shared heartbeat and deadline. When a
 * cancellation has been pending past its deadline + grace and the main loop has not beaten for the
 * grace period either, it reads the main thread's stack through the inspector, writes a report to
 * stderr (and to `logFd`), and kills the process with SIGKILL.
 * @internal
 * @module
 */
import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { isMainThread, workerData } from 'node:worker_threads';
import type { WatchdogThreadData } from './watchdog-shared.js';
import { DEADLINE, LAST_BEAT, monotonicMs } from './watchdog-shared.js';

if (isMainThread)
  throw new Error('watchdog-thread.js must be loaded as a worker thread by LoopBlockWatchdog');
const { state, graceMs, checkIntervalMs, captureTimeoutMs, logFd } = workerData as WatchdogThreadData;
const grace = BigInt(graceMs);
let firing = false;

interface CallFrame {
  readonly functionName: string;
  readonly location: {
    readonly scriptId: string;
    readonly lineNumber: number;
    readonly columnNumber: number;
  };
}

/** The main thread's stack, read by pausing it with `Debugger.pause`; bounded by `captureTimeoutMs`. */
async function mainThreadStack(): Promise<string> {
  let inspector: typeof import('node:inspector');
  try {
    inspector = await import('node:inspector');
  } catch {
    return '(unavailable: this Node.js has no inspector)';
  }
  const session = new inspector.Session();
  const urls = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  try {
    session.connectToMainThread();
    session.on('Debugger.scriptParsed', ({ params }: { params: { scriptId: string; url: string } }) => {
      if (params.url) urls.set(params.scriptId, params.url);
    });
    const paused = new Promise<readonly CallFrame[]>((resolve) => {
      session.once('Debugger.paused', ({ params }: { params: { callFrames: CallFrame[] } }) =>
        resolve(params.callFrames),
      );
    });
    // A blocked JavaScript loop services the inspector as an interrupt; a native call does not.
    session.post('Debugger.enable', () => session.post('Debugger.pause'));
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, captureTimeoutMs, undefined);
    });
    const frames = await Promise.race([paused, timeout]);
    if (!frames)
      return `(unavailable: the main thread did not pause within ${captureTimeoutMs} ms; blocked in a native call?)`;
    return frames
      .map((frame) => {
        const url = urls.get(frame.location.scriptId) ?? `<script ${frame.location.scriptId}>`;
        const where = `${url}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1}`;
        return frame.functionName ? `    at ${frame.functionName} (${where})` : `    at ${where}`;
      })
      .join('\n');
  } catch (error) {
    return `(unavailable: ${(error as Error).message})`;
  } finally {
    clearTimeout(timer);
    // The process is about to be killed; the main thread stays paused, which is what we want.
  }
}

function write(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    /* nowhere left to report to */
  }
}

async function fire(pendingForMs: bigint, blockedForMs: bigint): Promise<void> {
  firing = true;
  const stack = await mainThreadStack();
  const msg =
    `LoopBlockWatchdog: the main event loop has been blocked for ${blockedForMs} ms while a task ` +
    `cancellation is ${pendingForMs} ms past its timeout; killing process ${process.pid} with SIGKILL`;
  write(2, `${msg}\nmain thread stack:\n${stack}\n`);
  if (logFd !== undefined) {
    // pino's line format at level fatal, so log shippers file it with the rest of the runtime's log.
    const line = {
      level: 60,
      time: Date.now(),
      pid: process.pid,
      hostname: hostname(),
      name: 'taskwarden',
      msg,
      blockedForMs: Number(blockedForMs),
      stack,
    };
    write(logFd, `${JSON.stringify(line)}\n`);
  }
  process.kill(process.pid, 'SIGKILL');
}

function check(): void {
  if (firing) return;
  const deadline = Atomics.load(state, DEADLINE);
  if (deadline === 0n) return;
  const now = monotonicMs();
  const blockedFor = now - Atomics.load(state, LAST_BEAT);
  // A live loop would have run the runtime's own watchdog at the deadline and cleared it.
  if (now >= deadline + grace && blockedFor >= grace) void fire(now - deadline, blockedFor);
}

setInterval(check, checkIntervalMs);
