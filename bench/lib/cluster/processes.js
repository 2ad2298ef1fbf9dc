// Child processes of the cluster benchmark (agents, BullMQ workers, the memory coordinator): started
// with IPC, ready when they say so, ended by their own pid only.
import { fork } from 'node:child_process';
import { setting } from './measure.js';

/** Whether a pid is gone (or a zombie nobody reaped yet counts as alive: we reap our own). */
function alive(child) {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Forks `script` with `options` as JSON in argv[2] and waits for its `{ ready }` message.
 * Returns `{ pid, child, send, kill, close, exited }`; `kill()` is SIGKILL by pid, `close()` asks
 * it to end and SIGKILLs it after `graceMs`.
 */
export async function startChild(script, options, { what = script, execArgv = [], readyMs = 30_000 } = {}) {
  const child = fork(script, [JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    execArgv,
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-8_000);
    if (setting('BENCH_VERBOSE')) process.stderr.write(chunk);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start within ${readyMs} ms: ${stderr}`)),
      readyMs,
    );
    child.on('message', function onReady(message) {
      if (message?.ready === undefined) return;
      child.off('message', onReady);
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited at start (${code ?? signal}): ${stderr}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    // Not handed to the caller, so nobody else would end it.
    if (alive(child)) process.kill(child.pid, 'SIGKILL');
    await exited;
    throw error;
  }
  return {
    pid: child.pid,
    child,
    get stderr() {
      return stderr;
    },
    send(message) {
      if (alive(child) && child.connected) child.send(message);
    },
    async kill() {
      if (alive(child)) process.kill(child.pid, 'SIGKILL');
      await exited;
    },
    async close(graceMs = 5_000) {
      if (!alive(child)) return;
      if (child.connected) child.send('close');
      const timer = setTimeout(() => {
        if (alive(child)) process.kill(child.pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
    exited,
  };
}
