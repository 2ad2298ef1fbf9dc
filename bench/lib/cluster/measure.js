// Small measuring tools of the cluster benchmark.
import { readFileSync, writeFileSync } from 'node:fs';
import { alternateRounds, collectGarbage, keepInFlight, summarize } from '../stats.js';

/**
 * A setting of the benchmark from the environment (development only): `BENCH_VERBOSE` prints
 * progress, the processes' stderr and the details; `BENCH_CLUSTER_PHASES=throughput,cancel,...`
 * runs some phases (no results files are written then).
 */
export function setting(name) {
  return process.env[name];
}

/** The q-quantile (0..1) of a list, nearest rank. */
export function quantile(values, q) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Sleeps `ms`. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A small deterministic PRNG, so every side gets the same task durations. */
export function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** An empty file that tasks append JSON lines to. */
export function logFile(path) {
  writeFileSync(path, '');
  return path;
}

/** The JSON lines of a log file. */
export function readLines(path) {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}

/** Polls `path` (every `everyMs`) until it has at least `count` lines; returns them. */
export async function waitLines(path, count, { ms = 60_000, everyMs = 2 } = {}) {
  const deadline = performance.now() + ms;
  for (;;) {
    const lines = readLines(path);
    if (lines.length >= count) return lines;
    if (performance.now() > deadline)
      throw new Error(`${path}: ${lines.length} of ${count} lines after ${ms} ms`);
    await sleep(everyMs);
  }
}

/**
 * Keeps `inFlight` calls of `submit(i)` pending until `total` have completed; returns tasks/s.
 * `submit` resolves when the submitter has the task's result.
 */
export async function drive(submit, total, inFlight, label = '') {
  collectGarbage();
  let progress;
  let stalled;
  const stall = new Promise((_, reject) => {
    stalled = reject;
  });
  const rate = keepInFlight(total, inFlight, submit, (counts) => {
    let seen = -1;
    progress = setInterval(() => {
      if (setting('BENCH_VERBOSE'))
        console.error(`drive ${label}: ${counts.started} started, ${counts.completed} completed`);
      if (counts.completed === seen)
        stalled(new Error(`${label}: no task completed for 10 s (${counts.completed} of ${total})`));
      seen = counts.completed;
    }, 10_000);
  });
  try {
    rate.catch(() => undefined); // a rejection after a stall is already reported
    return await Promise.race([rate, stall]);
  } finally {
    clearInterval(progress);
  }
}

/** Submit-to-result latency, one task at a time, `count` tasks: `{ p50, p99 }` in ms. */
export async function latencies(submit, count) {
  collectGarbage();
  const samples = [];
  for (let i = 1; i <= count; i++) {
    const t0 = performance.now();
    await submit(i);
    samples.push(performance.now() - t0);
  }
  return { p50: quantile(samples, 0.5), p99: quantile(samples, 0.99) };
}

/**
 * Like `alternate` (bench/lib/stats.js) for contenders that return several figures at once (an
 * object of numbers): returns, per contender, per figure, its summary over the rounds.
 */
export async function alternateFigures(contenders, { rounds, warmup = 1 }) {
  const samples = await alternateRounds(contenders, { rounds, warmup });
  return Object.fromEntries(
    Object.entries(samples).map(([name, list]) => {
      const keys = Object.keys(list[0] ?? {});
      return [name, Object.fromEntries(keys.map((key) => [key, summarize(list.map((s) => s[key]))]))];
    }),
  );
}
