/**
 * The child's watchdog thread. It runs beside the child's main thread so that it keeps working while
 * the task's JavaScript is busy (a CPU-bound loop never yields to the main event loop):
 *
 * - **No orphans.** It polls `process.ppid`; when the host dies the child is re-parented and the
 *   thread kills the child's whole tree (`killOwnTree`: its cgroup, or its session and cookie
 *   bearers and its process group, or its process group alone, by the executor's tree-kill mode),
 *   which ends the blocked main thread and every descendant the mode reaches. A child stopped by
 *   SIGSTOP stops this thread too; the kernel wakes it with SIGCONT when the host dies (the host
 *   starts children under `setpriv --pdeathsig CONT` where it can).
 * - **Host lease** (the executor's `hostLease` option). The host renews a deadline on the
 *   diagnostics pipe; once it passes unrenewed, the thread kills the child's tree as if the host had
 *   died. A host that is paused (SIGSTOP, a frozen VM) cannot renew, so its children end themselves
 *   although it still exists; the deadline is on the machine's monotonic clock (`process.hrtime`,
 *   the same for every process there).
 * - **Diagnostics.** It serves stack requests on the diagnostics pipe (fd 4) without the main
 *   thread's help: if the main thread does not answer a ping at once, an inspector session
 *   connected to it pauses it (V8 services the pause from an interrupt, even inside a busy loop),
 *   records the call frames and resumes. A main thread that answers is idle, which is reported as
 *   such rather than as the stack of whatever callback would run next.
 *
 * Wire format on fd 4: one JSON object per line; request `{ "id": n }`, reply `{ "id": n, "stack" }`
 * or `{ "id": n, "error" }`; a lease renewal `{ "lease": deadline }` (monotonic ms) has no reply.
 *
 * Like the runner, threads load it as one CommonJS bundle (`dist/child/watchdog-thread.cjs`, made by
 * the package's build); its stdout and stderr go nowhere, so it writes to neither.
 * @internal
 * @module
 */
import { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { OwnTree } from '@taskwarden/sdk/internal';
import { monotonicMs } from '../lease-clock.js';
import { killOwnTreeNow } from './load-host-death.js';

/** What the runner passes in `workerData`. @internal */
export interface WatchdogData {
  /** The child's process group id (its own pid). */
  readonly pgid: number;
  /** The host's pid when the child started. */
  readonly ppid: number;
  readonly pollMs: number;
  /** The diagnostics pipe, or -1 when there is none. */
  readonly diagnosticsFd: number;
  /** How long to wait for the main thread to pause before answering that it is idle. */
  readonly pauseTimeoutMs: number;
  /** The child's tree. */
  readonly tree: OwnTree;
  /** With a host lease: the first deadline, in monotonic ms (see {@link monotonicMs}). */
  readonly leaseDeadlineMs?: number;
}

const data = workerData as WatchdogData;

function killTree(): void {
  killOwnTreeNow(__dirname, data.tree);
  // Still here: the tree could not be killed as a whole (the child does not lead a group, EPERM).
  // At least this process must not outlive the host: process.exit() here would end only this
  // thread and leave the child unguarded, so SIGKILL the whole process instead.
  process.kill(process.pid, 'SIGKILL');
}

let leaseDeadline = data.leaseDeadlineMs;

function hostGone(): boolean {
  // `process.ppid` is read live (getppid) on every access, also from a worker thread.
  return process.ppid !== data.ppid || (leaseDeadline !== undefined && monotonicMs() >= leaseDeadline);
}

if (hostGone()) killTree();
setInterval(() => {
  if (hostGone()) killTree();
}, data.pollMs);

interface CallFrame {
  functionName: string;
  location: { scriptId: string; lineNumber: number; columnNumber: number };
  url?: string;
}

type Post = (method: string, params?: object) => Promise<unknown>;

/** How long the main thread may take to answer a ping before it counts as busy. */
const PING_TIMEOUT_MS = 100;
let pingId = 0;

/** True when the main thread's event loop answers: it waits for I/O, a timer or a promise. */
function mainThreadAnswers(): Promise<boolean> {
  const port = parentPort;
  if (!port) return Promise.resolve(false);
  const id = ++pingId;
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (message !== id) return;
      clearTimeout(timer);
      port.off('message', onMessage);
      resolve(true);
    };
    const timer = setTimeout(() => {
      port.off('message', onMessage);
      resolve(false);
    }, PING_TIMEOUT_MS);
    port.on('message', onMessage);
    port.postMessage(id);
  });
}

async function captureMainThreadStack(): Promise<string> {
  // Pausing an idle thread would only catch whatever callback runs next; say what is true instead.
  if (await mainThreadAnswers()) {
    return '    (idle: the event loop answers; the task awaits I/O, a timer or a promise, so no JavaScript is on the stack)';
  }
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connectToMainThread();
  const post: Post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))),
    );
  const urls = new Map<string, string>();
  session.on('Debugger.scriptParsed', (message: { params: { scriptId: string; url: string } }) => {
    urls.set(message.params.scriptId, message.params.url);
  });
  try {
    const paused = new Promise<CallFrame[]>((resolve) => {
      session.once('Debugger.paused', (message: { params: { callFrames: CallFrame[] } }) =>
        resolve(message.params.callFrames),
      );
    });
    await post('Debugger.enable');
    await post('Debugger.pause');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(resolve, data.pauseTimeoutMs, undefined);
    });
    const frames = await Promise.race([paused, timedOut]);
    clearTimeout(timer);
    if (!frames) {
      return (
        `(the main thread did not pause within ${data.pauseTimeoutMs} ms: it is idle in the event loop, ` +
        'waiting for I/O, a timer or a promise, or blocked outside JavaScript)'
      );
    }
    await post('Debugger.resume');
    return frames
      .map((frame) => {
        const url = frame.url || urls.get(frame.location.scriptId) || '<unknown>';
        const where = `${url}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1}`;
        return `    at ${frame.functionName || '<anonymous>'} (${where})`;
      })
      .join('\n');
  } finally {
    // Disconnecting disables the debugger and drops a pause that never happened.
    session.disconnect();
  }
}

function serveDiagnostics(fd: number): void {
  const socket = new Socket({ fd, readable: true, writable: true });
  socket.on('error', () => undefined);
  socket.unref();
  let pending = '';
  let queue = Promise.resolve();
  socket.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    if (pending.length > 64 * 1024) pending = ''; // a sane host never sends this much
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
      let request: { id?: unknown; lease?: unknown };
      try {
        request = JSON.parse(line) as { id?: unknown; lease?: unknown };
      } catch {
        continue;
      }
      if (typeof request.lease === 'number' && leaseDeadline !== undefined) {
        leaseDeadline = request.lease;
        continue;
      }
      const id = request.id;
      if (typeof id !== 'number') continue;
      // One capture at a time: two sessions pausing the same thread would confuse each other.
      queue = queue.then(async () => {
        let reply: { id: number; stack?: string; error?: string };
        try {
          reply = { id, stack: await captureMainThreadStack() };
        } catch (error) {
          reply = { id, error: (error as Error).message };
        }
        socket.write(`${JSON.stringify(reply)}\n`);
      });
    }
  });
}

if (data.diagnosticsFd >= 0) {
  try {
    serveDiagnostics(data.diagnosticsFd);
  } catch {
    // No diagnostics channel: the host's diagnose() times out and reports no stack.
  }
}
