// Throughput (256 in flight) and submit-to-result latency (one at a time) of a trivial task: two
// agents against two BullMQ workers (defaults, and tuned), rounds alternating in one run.
import { alternate } from '../stats.js';
import { BULLMQ_SETTINGS, startSubmitter, startWorkerProcess } from './bullmq.js';
import { alternateFigures, drive, latencies } from './measure.js';
import { startAgentProcess, startCoordinator, taskModule } from './ours.js';

/** Tasks at once on each agent, jobs at once on each BullMQ worker. */
export const CONCURRENCY = 16;
export const IN_FLIGHT = 256;
const TASKS_PER_ROUND = 10_000;
const LATENCY_TASKS_PER_ROUND = 500;

/** Measures both; returns `{ throughput, latency, setup }` (summaries by contender). */
export async function throughputAndLatency({ nats, redis, rounds, log }) {
  const cluster = 'throughput';
  const started = [];
  try {
    // Agents with the WorkerExecutor's default thread count (the cores: 2 here). A thread per task
    // of capacity (what the agent command does) was slower with trivial tasks, and starting 16
    // threads at once held an agent's event loop for up to a second on this machine.
    const agents = await Promise.all(
      ['tp-1', 'tp-2'].map((name) =>
        startAgentProcess({
          servers: nats.url,
          cluster,
          name,
          queue: 'trivial',
          capacity: CONCURRENCY,
          executors: ['worker'],
        }),
      ),
    );
    started.push(...agents);
    const coordinator = await startCoordinator({
      servers: nats.url,
      cluster,
      queue: 'trivial',
      agentExecutor: 'worker',
    });
    started.push(coordinator);
    await coordinator.waitAgents(2);
    const submitters = {};
    for (const settings of Object.keys(BULLMQ_SETTINGS)) {
      const queue = `trivial-${settings}`;
      const workers = await Promise.all(
        [1, 2].map(() =>
          startWorkerProcess({
            redisPort: redis.port,
            queue,
            processor: 'trivial',
            concurrency: CONCURRENCY,
            settings,
          }),
        ),
      );
      started.push(...workers);
      submitters[settings] = await startSubmitter({ redisPort: redis.port, queue });
      started.push(submitters[settings]);
    }

    const module = taskModule('trivial');
    const ours = async (i) => {
      const outcome = await coordinator.submit(module, i).done;
      if (outcome.state !== 'FINISHED' || outcome.result !== i + 1) {
        throw new Error(`ours: task ${i} ended ${outcome.state} ${outcome.error?.stack ?? outcome.result}`);
      }
    };
    const bullmq = (submitter) => async (i) => {
      const outcome = await submitter.submit('trivial', i);
      if (outcome.state !== 'completed' || outcome.value !== i + 1) {
        throw new Error(`bullmq: job ${i} ended ${outcome.state} ${outcome.value}`);
      }
    };

    log(`throughput: ${TASKS_PER_ROUND} trivial tasks per round, ${IN_FLIGHT} in flight`);
    const throughput = await alternate(
      {
        ours: () => drive(ours, TASKS_PER_ROUND, IN_FLIGHT, 'ours'),
        'bullmq default': () =>
          drive(bullmq(submitters.default), TASKS_PER_ROUND, IN_FLIGHT, 'bullmq default'),
        'bullmq tuned': () => drive(bullmq(submitters.tuned), TASKS_PER_ROUND, IN_FLIGHT, 'bullmq tuned'),
      },
      { rounds },
    );
    log(`latency: ${LATENCY_TASKS_PER_ROUND} trivial tasks per round, one at a time`);
    const latency = await alternateFigures(
      {
        ours: () => latencies(ours, LATENCY_TASKS_PER_ROUND),
        'bullmq default': () => latencies(bullmq(submitters.default), LATENCY_TASKS_PER_ROUND),
        'bullmq tuned': () => latencies(bullmq(submitters.tuned), LATENCY_TASKS_PER_ROUND),
      },
      { rounds },
    );
    return {
      throughput,
      latency,
      setup: {
        tasksPerRound: TASKS_PER_ROUND,
        latencyTasksPerRound: LATENCY_TASKS_PER_ROUND,
        inFlight: IN_FLIGHT,
        concurrency: CONCURRENCY,
      },
    };
  } finally {
    await Promise.allSettled(started.reverse().map((thing) => thing.close()));
  }
}
