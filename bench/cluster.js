/**
 * The cluster executor (`@taskwarden/cluster-nats`: a coordinator and two agents over nats-server)
 * against BullMQ on Redis (a submitter and two workers), measured in one run on one machine, on
 * loopback. Issue 17's rows:
 *
 * - trivial tasks/s with 256 in flight (an async function returning its input + 1, a fresh input
 *   per task), 2 agents × 16 against 2 BullMQ workers × concurrency 16;
 * - submit-to-result latency, one task at a time, p50 and p99;
 * - cancel-to-stopped of a running CPU-bound remote task (`for(;;)`), `gracePeriodMs: 0`, on the
 *   agents' process and worker executors; BullMQ: what `worker.cancelJob` does to a CPU-bound job;
 * - an agent (a BullMQ worker) SIGKILLed mid-task: until the submitter sees the task ended;
 * - duplicate runs when an agent (a worker) is SIGKILLed during 1,000 tasks of 50–500 ms;
 * - the coordinator's heap per 10,000 tasks waiting for capacity, and after they finished.
 *
 * BullMQ runs with its documented defaults ("bullmq default") and with its stalled-job detection
 * tuned ("bullmq tuned": `stalledInterval` 1 s, `lockDuration` 3 s = our default lease); both with
 * concurrency 16 per worker (its default is 1). Our agents and coordinator run with their defaults
 * (`leaseMs` 3 s) but for the agents' capacity (16, like BullMQ's concurrency). Rounds alternate
 * the contenders (the order reversed every round) after a warm-up round; medians over the rounds.
 *
 * Needs nats-server, redis-server and the npm packages bullmq and ioredis (root devDependencies);
 * it installs nothing and fails naming what is missing. Starts both servers itself on free ports
 * with temporary directories and ends them (and every process it started) by pid.
 *
 *   npm run bench -- cluster [--rounds=5]
 *   npm run build && node bench/cluster.js [rounds]
 *
 * Besides the harness's files, writes bench/results/cluster.json and bench/results/cluster.md.
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentKill } from './lib/cluster/agent-kill.js';
import { BULLMQ_SETTINGS } from './lib/cluster/bullmq.js';
import { cancelToStopped } from './lib/cluster/cancel.js';
import { duplicateRuns } from './lib/cluster/duplicates.js';
import { setting } from './lib/cluster/measure.js';
import { waitingMemory } from './lib/cluster/memory.js';
import { missingDependencies, startNats, startRedis } from './lib/cluster/servers.js';
import { IN_FLIGHT, throughputAndLatency } from './lib/cluster/throughput.js';
import { fmt, isMain, printResult } from './lib/stats.js';

/** Thrown when a server or package the benchmark needs is missing; its message says what to install. */
class MissingDependencyError extends Error {
  constructor(missing) {
    const message =
      'the cluster benchmark needs what is not installed here:\n' +
      missing.map(({ what, install }) => `  - ${what}: ${install}`).join('\n');
    super(message);
    this.name = 'MissingDependencyError';
    this.stack = `${this.name}: ${message}`; // the message is the whole story
  }
}

const PHASES = ['throughput', 'cancel', 'kill', 'duplicates', 'memory'];

/** Measures; returns the report (the harness's shape). */
export async function run({ rounds = 5 } = {}) {
  const missing = missingDependencies();
  if (missing.length > 0) throw new MissingDependencyError(missing);
  const only = setting('BENCH_CLUSTER_PHASES')?.split(',') ?? PHASES;
  const log = (line) => console.log(`[cluster] ${line}`);
  const dir = mkdtempSync(join(tmpdir(), 'taskwarden-bench-cluster-'));
  const [nats, redis] = await Promise.all([startNats(), startRedis()]);
  const versions = serverVersions();
  log(`nats-server ${versions.nats} (pid ${nats.pid}), redis-server ${versions.redis} (pid ${redis.pid})`);
  const ctx = { nats, redis, rounds, log, dir };
  // Interrupted: the servers are ours to end (the other processes end with their parent).
  const interrupted = () => {
    void Promise.allSettled([nats.stop(), redis.stop()]).then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const measured = {};
  try {
    if (only.includes('throughput')) measured.throughput = await throughputAndLatency(ctx);
    if (only.includes('cancel')) measured.cancel = await cancelToStopped(ctx);
    if (only.includes('kill')) measured.kill = await agentKill(ctx);
    if (only.includes('duplicates')) measured.duplicates = await duplicateRuns(ctx);
    if (only.includes('memory')) measured.memory = await waitingMemory(ctx);
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await Promise.allSettled([nats.stop(), redis.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  if (setting('BENCH_VERBOSE')) log(JSON.stringify(measured, null, 2));
  const results = rows(measured);
  const report = {
    name: 'cluster',
    description: `cluster executor (2 agents) vs BullMQ (2 workers), loopback, one run; bullmq ${versions.bullmq}, redis ${versions.redis}, nats-server ${versions.nats}`,
    results,
  };
  if (only.length === PHASES.length) writeReport(report, measured, versions, rounds);
  return report;
}

function serverVersions() {
  const version = (command) => {
    try {
      return execText(command);
    } catch {
      return 'unknown';
    }
  };
  return {
    nats: version('nats-server --version || /usr/sbin/nats-server --version').replace(/^nats-server: v?/, ''),
    redis: version('redis-server --version').match(/v=(\S+)/)?.[1] ?? 'unknown',
    bullmq: JSON.parse(version('node -p "JSON.stringify(require(\'bullmq/package.json\').version)"')),
    ioredis: JSON.parse(version('node -p "JSON.stringify(require(\'ioredis/package.json\').version)"')),
  };
}

function execText(command) {
  return execSync(command, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

const ratio = (a, b) => Math.round((a / b) * 100) / 100;

/** The harness's rows from what was measured; `peers` are BullMQ with its defaults and tuned. */
function rows(m) {
  const out = [];
  const peers = (byName) => ({
    'bullmq default': byName['bullmq default'],
    'bullmq tuned': byName['bullmq tuned'],
  });
  if (m.throughput) {
    const t = m.throughput.throughput;
    const c = m.throughput.setup.concurrency;
    for (const [side, label] of [
      [
        'ours',
        `trivial tasks/s, ${IN_FLIGHT} in flight, 2 agents x ${c} (2 threads each) / 2 workers x ${c}`,
      ],
    ]) {
      const r = ratio(t[side].median, t['bullmq default'].median);
      out.push({
        metric: label,
        unit: 'tasks/s',
        ours: t[side],
        peers: peers(t),
        ratio: r,
        ratioTuned: ratio(t[side].median, t['bullmq tuned'].median),
        target: '>= 1.0x BullMQ (moonshot 2x)',
        met: r >= 1 && ratio(t[side].median, t['bullmq tuned'].median) >= 1,
      });
    }
    const l = m.throughput.latency;
    for (const key of ['p50', 'p99']) {
      const byName = Object.fromEntries(Object.entries(l).map(([name, figures]) => [name, figures[key]]));
      const r = ratio(l.ours[key].median, l['bullmq default'][key].median);
      out.push({
        metric: `submit-to-result latency, one at a time, ${key}`,
        unit: 'ms',
        ours: l.ours[key],
        peers: peers(byName),
        ratio: r,
        ratioTuned: ratio(l.ours[key].median, l['bullmq tuned'][key].median),
        ...(key === 'p50'
          ? {
              target: 'no worse than BullMQ',
              met: r <= 1 && l.ours.p50.median <= l['bullmq tuned'].p50.median,
            }
          : {}),
      });
    }
  }
  if (m.cancel) {
    const b = m.cancel.bullmq;
    for (const executor of ['worker', 'process']) {
      const c = m.cancel.ours[executor];
      for (const key of ['p50', 'p99']) {
        out.push({
          metric: `cancel-to-stopped, CPU-bound for(;;), gracePeriodMs 0, agents' ${executor} executor, ${key} (${c.samples} tasks)`,
          unit: 'ms',
          ours: single(c[key]),
          peers: { 'bullmq default': single(b[key]) },
          note: `BullMQ: worker.cancelJob on a job spinning ${b.jobMs} ms, ${b.cancelledAfterMs} ms in; it ran to its end (${b.states.join(', ')})`,
          ...(key === 'p99' ? { target: '<= 50 ms', met: c.p99 <= 50 } : {}),
        });
      }
    }
  }
  if (m.kill) {
    const k = m.kill;
    out.push({
      metric: `agent / worker SIGKILLed mid-task: until the submitter sees the task ended, max of ${k.ours.samples} (leaseMs ${k.leaseMs})`,
      unit: 'ms',
      ours: single(k.ours.max),
      peers: { 'bullmq default': single(k.bullmq.default.max), 'bullmq tuned': single(k.bullmq.tuned.max) },
      note: `BullMQ: its stalled-job checker moved the job back and the other worker ran it again (${k.bullmq.default.ranTwice}/${k.bullmq.default.samples} default, ${k.bullmq.tuned.ranTwice}/${k.bullmq.tuned.samples} tuned)`,
      target: `<= leaseMs + 200 = ${k.leaseMs + 200} ms`,
      met: k.ours.max <= k.leaseMs + 200,
    });
  }
  if (m.duplicates) {
    const d = m.duplicates;
    out.push({
      metric: `tasks started twice: ${d.tasks.toLocaleString('en-US')} tasks of 50-500 ms, an agent / worker SIGKILLed after ${d.killAfterStarts} starts`,
      unit: 'tasks',
      ours: single(d.ours.startedTwice),
      peers: {
        'bullmq default': single(d.bullmq.default.startedTwice),
        'bullmq tuned': single(d.bullmq.tuned.startedTwice),
      },
      note: `ours: ${JSON.stringify(d.ours.outcomes)}; BullMQ default ${JSON.stringify(d.bullmq.default.outcomes)}, tuned ${JSON.stringify(d.bullmq.tuned.outcomes)}`,
      target: '0',
      met: d.ours.startedTwice === 0,
    });
  }
  if (m.memory) {
    const mem = m.memory;
    out.push({
      metric: `coordinator heap per ${mem.waiting.toLocaleString('en-US')} tasks waiting for capacity`,
      unit: 'MB',
      ours: single(mem.perTenThousandMB),
      note: `${mem.bytesPerWaitingTask} bytes a task, the SDK's task and launch spec included`,
      target: 'report',
    });
    out.push({
      metric: `coordinator heap after they finished vs before, forced GC (after each of ${mem.cycles} cycles: ${mem.afterEachCycleMB.join(' / ')} MB)`,
      unit: 'MB',
      ours: single(mem.growthMB),
      target: 'no growth (<= 1 MB, flat across cycles)',
      met: mem.growthMB <= 1 && mem.afterEachCycleMB.at(-1) - mem.afterEachCycleMB[0] <= 0.5,
    });
  }
  return out;
}

/** A single measurement in the harness's summary shape. */
function single(value) {
  return { min: value, median: value, max: value, samples: 1 };
}

function writeReport(report, measured, versions, rounds) {
  const machine = {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: `${os.availableParallelism()} x ${os.cpus()[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
  const json = {
    date: new Date().toISOString(),
    machine,
    rounds,
    versions,
    bullmqSettings: BULLMQ_SETTINGS,
    measured,
    report,
  };
  writeFileSync(new URL('results/cluster.json', import.meta.url), `${JSON.stringify(json, null, 2)}\n`);
  const cell = (summary) => (summary === undefined ? '-' : fmt(summary.median));
  const lines = [
    '# Cluster benchmark: cluster-nats against BullMQ',
    '',
    `Measured ${json.date.slice(0, 10)} on ${machine.cpus}, ${machine.memoryGiB} GiB, Node ${machine.node} (${machine.platform}), load average at the end ${machine.loadAverage.join(' / ')}; nats-server ${versions.nats}, redis-server ${versions.redis}, bullmq ${versions.bullmq}, ioredis ${versions.ioredis}. ${rounds} alternating rounds after a warm-up, medians over the rounds. \`npm run bench -- cluster\`.`,
    '',
    `BullMQ default: Worker options as shipped (lockDuration 30,000 ms, stalledInterval 30,000 ms, maxStalledCount 1) but for concurrency. BullMQ tuned: ${JSON.stringify(BULLMQ_SETTINGS.tuned)}. Both: concurrency 16 per worker, jobs kept after completion (the default).`,
    '',
    '| metric | ours | BullMQ default | BullMQ tuned | ratio (default / tuned) | target | met |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of report.results) {
    const ratios =
      r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x / ${r.ratioTuned?.toFixed(2) ?? '-'}x`;
    lines.push(
      `| ${r.metric} (${r.unit})${r.note ? `. ${r.note}` : ''} | ${cell(r.ours)} | ${cell(r.peers?.['bullmq default'])} | ${cell(r.peers?.['bullmq tuned'])} | ${ratios} | ${r.target ?? '-'} | ${r.met === undefined ? '-' : r.met ? 'yes' : '**no**'} |`,
    );
  }
  lines.push('', '## Everything measured', '', '```json', JSON.stringify(measured, null, 2), '```', '');
  writeFileSync(new URL('results/cluster.md', import.meta.url), lines.join('\n'));
}

if (isMain(import.meta.url)) {
  const rounds = process.argv[2] ? Number(process.argv[2]) : undefined;
  printResult(await run(rounds ? { rounds } : {}));
}
