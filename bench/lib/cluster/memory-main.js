// The coordinator of the memory row, alone in its own process (run with --expose-gc): its heap
// before, with 10,000 tasks waiting for capacity (every agent slot held by a blocker), and after
// they all finished, for a few cycles. Options as JSON in argv[2]; the figures go back over IPC.
import { setTimeout as sleep } from 'node:timers/promises';
import { drive } from './measure.js';
import { startCoordinator, taskModule } from './ours.js';

const options = JSON.parse(process.argv[2]);
const gc = globalThis.gc;
if (typeof gc !== 'function') throw new Error('run with --expose-gc');

function settle() {
  for (let i = 0; i < 4; i++) gc();
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, arrayBuffers: usage.arrayBuffers, rss: usage.rss };
}

async function until(predicate, what, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const coordinator = await startCoordinator({
  servers: options.servers,
  cluster: options.cluster,
  queue: options.queue,
  agentExecutor: 'worker',
});
await coordinator.waitAgents(options.agents);
const trivial = taskModule('trivial');
const blocker = taskModule('blocker');
const run = (i) =>
  coordinator.submit(trivial, i).done.then((outcome) => {
    if (outcome.state !== 'FINISHED') throw new Error(`a task ended ${outcome.state}`);
  });

// Warm-up: the code paths, the connection's buffers, the maps at their working size.
await drive(run, 4_000, 256);
await sleep(500);
const before = settle();
const cycles = [];
for (let cycle = 0; cycle < options.cycles; cycle++) {
  const blockers = Array.from({ length: options.capacity }, () => coordinator.submit(blocker, null));
  // Taken by the agents (a blocker holds its capacity whether its thread runs it yet or not).
  await until(
    () => coordinator.executor.stats.queued === 0 && coordinator.executor.stats.inFlight === options.capacity,
    'the agents to take the blockers',
  );
  await sleep(200);
  let left = options.waiting;
  for (let i = 0; i < options.waiting; i++) {
    void coordinator.submit(trivial, i).done.then(() => {
      left--;
    });
  }
  await until(() => coordinator.executor.stats.queued === options.waiting, 'every task to wait for capacity');
  const waiting = settle();
  const stats = coordinator.executor.stats;
  for (const task of blockers) task.cancel();
  await until(() => left === 0, 'the waiting tasks to finish');
  await Promise.all(blockers.map((task) => task.done));
  await sleep(500);
  const after = settle();
  cycles.push({ waiting, after, stats });
}
process.send({ result: { before, cycles } });
await coordinator.close();
process.exit(0);
