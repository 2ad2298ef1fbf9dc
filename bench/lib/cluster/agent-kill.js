// An agent SIGKILLed while its task runs: from the SIGKILL until the submitter sees the task ended.
// Ours: the coordinator declares the agent lost by its lease and the task ends FAILED
// (AgentLostError), never run again. BullMQ: the dead worker's lock expires, the other worker's
// stalled-job checker moves the job back to wait and runs it again; the submitter sees it completed
// then (the job returns at once when started a second time, so the figure is the detection).
import { join } from 'node:path';
import { startSubmitter, startWorkerProcess } from './bullmq.js';
import { logFile, readLines, waitLines } from './measure.js';
import { startAgentProcess, startCoordinator, taskModule } from './ours.js';
import { CONCURRENCY } from './throughput.js';

/** Our agents' and coordinator's default lease. */
const LEASE_MS = 3_000;
const LONG_MS = 600_000;
/** BullMQ's defaults take a minute or more per trial. */
const DEFAULT_TRIALS = 2;

function summary(list) {
  return {
    samples: list.length,
    min: Math.min(...list),
    median: [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)],
    max: Math.max(...list),
    all: list,
  };
}

/** Measures; returns `{ leaseMs, ours, bullmq: { default, tuned } }`. */
export async function agentKill({ nats, redis, rounds, log, dir }) {
  const cluster = 'kill';
  const started = [];
  let serial = 0;
  try {
    const newAgent = async () => {
      const agent = await startAgentProcess({
        servers: nats.url,
        cluster,
        name: `kill-${serial++}`,
        queue: 'kill',
        capacity: CONCURRENCY,
        executors: ['worker'],
      });
      started.push(agent);
      return agent;
    };
    const agents = [await newAgent(), await newAgent()];
    const coordinator = await startCoordinator({
      servers: nats.url,
      cluster,
      queue: 'kill',
      agentExecutor: 'worker',
    });
    started.push(coordinator);
    await coordinator.waitAgents(2);
    const trials = Math.max(3, rounds);
    log(`agent kill: ${trials} trials (ours, leaseMs ${LEASE_MS})`);
    const ours = [];
    for (let i = 0; i < trials; i++) {
      const file = logFile(join(dir, `kill-ours-${i}.log`));
      const task = coordinator.submit(taskModule('sleeper'), { id: i, ms: LONG_MS, log: file });
      const [start] = await waitLines(file, 1);
      const victim = agents.find((agent) => agent.pid === start.pid);
      const t0 = performance.now();
      const killed = victim.kill();
      const outcome = await task.done;
      ours.push(performance.now() - t0);
      await killed;
      if (outcome.state !== 'FAILED' || outcome.error?.code !== 'AGENT_LOST') {
        throw new Error(`kill (ours): the task ended ${outcome.state}: ${outcome.error?.stack}`);
      }
      agents[agents.indexOf(victim)] = await newAgent();
      await coordinator.waitAgents(2);
    }

    const bullmq = {};
    for (const settings of ['tuned', 'default']) {
      const queue = `kill-${settings}`;
      const start = () =>
        startWorkerProcess({
          redisPort: redis.port,
          queue,
          processor: 'sleeper',
          concurrency: CONCURRENCY,
          settings,
        }).then((worker) => {
          started.push(worker);
          return worker;
        });
      const workers = [await start(), await start()];
      const submitter = await startSubmitter({ redisPort: redis.port, queue });
      started.push(submitter);
      const count = settings === 'default' ? DEFAULT_TRIALS : trials;
      log(`agent kill: ${count} trials (bullmq ${settings})`);
      const ended = [];
      const stalled = [];
      let ranTwice = 0;
      for (let i = 0; i < count; i++) {
        const file = logFile(join(dir, `kill-bull-${settings}-${i}.log`));
        const job = await submitter.add('sleeper', { id: i, ms: LONG_MS, log: file, once: true });
        const [first] = await waitLines(file, 1);
        const victim = workers.find((worker) => worker.pid === first.pid);
        const t0 = performance.now();
        await victim.kill();
        const outcome = await job.done;
        ended.push(outcome.at - t0);
        const stalledAt = submitter.stalledAt(job.id);
        if (stalledAt !== undefined) stalled.push(stalledAt - t0);
        if (readLines(file).length > 1) ranTwice++;
        workers[workers.indexOf(victim)] = await start();
      }
      bullmq[settings] = {
        ...summary(ended),
        stalledEvent: stalled.length ? summary(stalled) : undefined,
        ranTwice,
      };
    }
    return { leaseMs: LEASE_MS, ours: summary(ours), bullmq };
  } finally {
    await Promise.allSettled(started.reverse().map((thing) => thing.close()));
  }
}
