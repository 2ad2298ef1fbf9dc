// The coordinator's memory per 10,000 tasks waiting for capacity, and after they finished: the
// coordinator runs alone in a child process (`memory-main.js`, with --expose-gc) against two agents.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startAgentProcess } from './ours.js';
import { CONCURRENCY } from './throughput.js';

const MAIN = fileURLToPath(new URL('./memory-main.js', import.meta.url));
const WAITING = 10_000;
const CYCLES = 3;
const MB = 2 ** 20;

/** Measures; returns the figures in MB. */
export async function waitingMemory({ nats, log }) {
  const cluster = 'memory';
  const agents = [];
  try {
    for (const name of ['mem-1', 'mem-2']) {
      agents.push(
        await startAgentProcess({
          servers: nats.url,
          cluster,
          name,
          queue: 'memory',
          capacity: CONCURRENCY,
          executors: ['worker'],
        }),
      );
    }
    log(`memory: ${CYCLES} cycles of ${WAITING} tasks waiting for capacity`);
    const child = fork(
      MAIN,
      [
        JSON.stringify({
          servers: nats.url,
          cluster,
          queue: 'memory',
          agents: 2,
          capacity: 2 * CONCURRENCY,
          waiting: WAITING,
          cycles: CYCLES,
        }),
      ],
      { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const result = await new Promise((resolve, reject) => {
      child.on('message', (message) => {
        if (message?.result) resolve(message.result);
      });
      child.once('exit', (code) =>
        reject(new Error(`the memory coordinator exited (${code}) without a result`)),
      );
    });
    await exited;
    const { before, cycles } = result;
    const last = cycles[cycles.length - 1];
    const perTask = cycles.map((c) => c.waiting.heapUsed - before.heapUsed);
    const median = [...perTask].sort((a, b) => a - b)[Math.floor(perTask.length / 2)];
    return {
      waiting: WAITING,
      cycles: CYCLES,
      perTenThousandMB: Math.round((median / MB) * 100) / 100,
      bytesPerWaitingTask: Math.round(median / WAITING),
      arrayBuffersPerTenThousandMB:
        Math.round(((cycles[0].waiting.arrayBuffers - before.arrayBuffers) / MB) * 100) / 100,
      growthMB: Math.round(((last.after.heapUsed - before.heapUsed) / MB) * 100) / 100,
      afterEachCycleMB: cycles.map(
        (c) => Math.round(((c.after.heapUsed - before.heapUsed) / MB) * 100) / 100,
      ),
      beforeHeapMB: Math.round((before.heapUsed / MB) * 100) / 100,
      statsWhileWaiting: cycles[0].stats,
    };
  } finally {
    await Promise.allSettled(agents.map((agent) => agent.close()));
  }
}
