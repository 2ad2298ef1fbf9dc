// Shared helpers for benchmarks: summaries and alternating rounds against a peer.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The median of a list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** { min, median, max } of a list of numbers; `values` keeps them in round order (for pairing). */
export function summarize(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: sorted[0],
    median: median(values),
    max: sorted[sorted.length - 1],
    samples: sorted.length,
    values: [...values],
  };
}

/**
 * The median over rounds of `a / b`, each round's two measurements taken back to back by
 * {@link alternate}. On a machine whose speed drifts (other processes, frequency, heap growth), a
 * round-by-round ratio cancels the drift that a ratio of two medians taken from different rounds
 * keeps.
 */
export function pairedRatio(a, b) {
  return median(a.values.map((value, round) => value / b.values[round]));
}

/**
 * Runs each contender once per round, alternating the order every round so neither always runs
 * on a warmer (or more fragmented) heap, after `warmup` unrecorded rounds. Returns, per contender,
 * what its calls returned, in round order.
 */
export async function alternateRounds(contenders, { rounds = 5, warmup = 1 } = {}) {
  const names = Object.keys(contenders);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = -warmup; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const value = await contenders[name]();
      if (round >= 0) samples[name].push(value);
    }
  }
  return samples;
}

/**
 * {@link alternateRounds}, each contender's measurements summarized.
 * `contenders` maps a name to an async function returning one measurement.
 */
export async function alternate(contenders, options) {
  const samples = await alternateRounds(contenders, options);
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, summarize(values)]));
}

let gc;

/**
 * A full GC, if it can be had (each contender starts without the previous one's garbage). The flag
 * is set on the first call, so a benchmark that never collects keeps its V8 flags as they were.
 */
export function collectGarbage() {
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc');
    } catch {
      gc = () => undefined;
    }
  }
  gc();
}

/** Formats a number for tables. */
export function fmt(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return '-';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Prints a result of the harness shape as a small table. */
export function printResult(result) {
  console.log(`\n${result.name}`);
  const rows = result.results.map((r) => {
    const peers = Object.entries(r.peers ?? {})
      .map(([name, s]) => `${name} ${fmt(s.median)}`)
      .join(', ');
    return {
      metric: r.metric,
      unit: r.unit,
      'ours min/median/max': `${fmt(r.ours.min)} / ${fmt(r.ours.median)} / ${fmt(r.ours.max)}`,
      'peers (median)': peers || '-',
      ratio: r.ratio === undefined ? '-' : r.ratio.toFixed(2),
      target: r.target ?? '-',
      met: r.met === undefined ? '-' : r.met ? 'yes' : 'NO',
    };
  });
  console.table(rows);
}

/** True when this module is the script node was started with. */
export function isMain(importMetaUrl) {
  return process.argv[1] && new URL(importMetaUrl).pathname === process.argv[1];
}

/**
 * Runs `inFlight` lanes, each awaiting `step(i)` for the next index until `total` steps were taken
 * (what a service does with a fixed concurrency); returns steps per second.
 */
export async function runLanes(total, inFlight, step) {
  const started = performance.now();
  let taken = 0;
  const lane = async () => {
    while (taken < total) await step(taken++);
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return (total / (performance.now() - started)) * 1000;
}

/**
 * Keeps `inFlight` calls of `submit(i)` (i from 1) pending, starting the next one as each resolves,
 * until `total` have completed; rejects with the first rejection. Returns completions per second.
 * `watch(counts)` is called with `{ started, completed }` getters, for progress reports.
 */
export async function keepInFlight(total, inFlight, submit, watch = () => undefined) {
  let started = 0;
  let completed = 0;
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    watch({
      get started() {
        return started;
      },
      get completed() {
        return completed;
      },
    });
    const next = () => {
      if (started === total) return;
      started++;
      submit(started).then(() => {
        completed++;
        if (completed === total) resolve();
        else next();
      }, reject);
    };
    for (let i = 0; i < inFlight; i++) next();
  });
  return total / ((performance.now() - t0) / 1000);
}
