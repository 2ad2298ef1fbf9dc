// Duplicate runs: 1,000 tasks of 50–500 ms (the same durations on every side) submitted at once to
// two agents (two BullMQ workers); one of them is SIGKILLed once 300 tasks have started. Every start
// is appended to a file outside the killed process; a task whose code started twice is counted.
import { join } from 'node:path';
import { startSubmitter, startWorkerProcess } from './bullmq.js';
import { logFile, random, readLines, sleep } from './measure.js';
import { startAgentProcess, startCoordinator, taskModule } from './ours.js';
import { CONCURRENCY } from './throughput.js';

const TASKS = 1_000;
const KILL_AFTER_STARTS = 300;
const WARM_UP_MS = 1_500;

/**
 * Before the measured run, 32 tasks sleeping 1.5 s, two every 50 ms: an agent starts a thread per
 * task it runs at once (`new Worker` holds its event loop ~10 ms each here, so sixteen at once could
 * starve its lease renewals), and BullMQ's workers warm up the same way.
 */
async function warmUp(submit) {
  const done = [];
  for (let i = 0; i < 2 * CONCURRENCY; i++) {
    done.push(submit(i));
    if (i % 2 === 1) await sleep(50);
  }
  await Promise.all(done);
}

function durations() {
  const rand = random(17);
  return Array.from({ length: TASKS }, () => 50 + Math.floor(rand() * 451));
}

async function waitStarts(file, count) {
  for (;;) {
    const lines = readLines(file);
    if (lines.length >= count) return lines;
    await sleep(5);
  }
}

function count(file, victimPid) {
  const perId = new Map();
  let onVictim = 0;
  for (const line of readLines(file)) {
    perId.set(line.id, (perId.get(line.id) ?? 0) + 1);
    if (line.pid === victimPid) onVictim++;
  }
  return {
    started: perId.size,
    startedTwice: [...perId.values()].filter((n) => n > 1).length,
    startsOnKilled: onVictim,
  };
}

/** Measures; returns `{ ours, bullmq: { default, tuned } }`. */
export async function duplicateRuns({ nats, redis, log, dir }) {
  const ms = durations();
  const started = [];
  try {
    // Ours.
    const cluster = 'dups';
    const agents = await Promise.all(
      ['dups-1', 'dups-2'].map((name) =>
        startAgentProcess({
          servers: nats.url,
          cluster,
          name,
          queue: 'dups',
          capacity: CONCURRENCY,
          executors: ['worker'],
          // Sleeping tasks: a thread each, so 16 sleep at once as BullMQ's 16 jobs do (the agent
          // command's default: as many threads as capacity).
          threads: CONCURRENCY,
        }),
      ),
    );
    started.push(...agents);
    const coordinator = await startCoordinator({
      servers: nats.url,
      cluster,
      queue: 'dups',
      agentExecutor: 'worker',
    });
    started.push(coordinator);
    await coordinator.waitAgents(2);
    const warmLog = logFile(join(dir, 'dups-warm-up.log'));
    await warmUp(
      (i) => coordinator.submit(taskModule('sleeper'), { id: `w${i}`, ms: WARM_UP_MS, log: warmLog }).done,
    );
    log(
      `duplicates: ${TASKS} tasks of 50-500 ms, an agent SIGKILLed after ${KILL_AFTER_STARTS} starts (ours)`,
    );
    let file = logFile(join(dir, 'dups-ours.log'));
    const t0 = performance.now();
    const tasks = ms.map((duration, id) =>
      coordinator.submit(taskModule('sleeper'), { id, ms: duration, log: file }),
    );
    await waitStarts(file, KILL_AFTER_STARTS);
    const victim = agents[1];
    const killedAt = performance.now();
    await victim.kill();
    const endedAt = new Map();
    const outcomes = await Promise.all(
      tasks.map((task, id) =>
        task.done.then((outcome) => {
          endedAt.set(id, performance.now());
          return outcome;
        }),
      ),
    );
    const states = {};
    for (const outcome of outcomes) {
      const key = outcome.state === 'FAILED' ? `FAILED ${outcome.error?.code}` : outcome.state;
      states[key] = (states[key] ?? 0) + 1;
    }
    const lost = outcomes
      .map((outcome, id) => (outcome.error?.code === 'AGENT_LOST' ? endedAt.get(id) - killedAt : undefined))
      .filter((v) => v !== undefined);
    const ours = {
      ...count(file, victim.pid),
      outcomes: states,
      killToLostMaxMs: lost.length ? Math.max(...lost) : undefined,
      allDoneMs: Math.max(...endedAt.values()) - t0,
    };

    // BullMQ, tuned first (its default takes a minute or more).
    const bullmq = {};
    for (const settings of ['tuned', 'default']) {
      const queue = `dups-${settings}`;
      const workers = await Promise.all(
        [1, 2].map(() =>
          startWorkerProcess({
            redisPort: redis.port,
            queue,
            processor: 'sleeper',
            concurrency: CONCURRENCY,
            settings,
          }),
        ),
      );
      started.push(...workers);
      const submitter = await startSubmitter({ redisPort: redis.port, queue });
      started.push(submitter);
      await warmUp((i) => submitter.submit('sleeper', { id: `w${i}`, ms: WARM_UP_MS, log: warmLog }));
      log(`duplicates: the same with bullmq ${settings}`);
      file = logFile(join(dir, `dups-bull-${settings}.log`));
      const b0 = performance.now();
      const jobs = await Promise.all(
        ms.map((duration, id) => submitter.add('sleeper', { id, ms: duration, log: file })),
      );
      await waitStarts(file, KILL_AFTER_STARTS);
      const bullVictim = workers[1];
      await bullVictim.kill();
      const ends = await Promise.all(jobs.map((job) => job.done));
      const bstates = {};
      for (const outcome of ends) bstates[outcome.state] = (bstates[outcome.state] ?? 0) + 1;
      bullmq[settings] = {
        ...count(file, bullVictim.pid),
        outcomes: bstates,
        allDoneMs: Math.max(...ends.map((outcome) => outcome.at)) - b0,
      };
    }
    return { tasks: TASKS, killAfterStarts: KILL_AFTER_STARTS, ours, bullmq };
  } finally {
    await Promise.allSettled(started.reverse().map((thing) => thing.close()));
  }
}
