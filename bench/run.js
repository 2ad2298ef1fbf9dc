// The benchmark harness: `npm run bench` runs every benchmark, `npm run bench -- <name> [...]` runs
// some. Each benchmark module exports `run({ rounds })` and returns
// `{ name, description?, results: [{ metric, unit, ours, peers?, ratio?, target?, met? }] }`.
// Results go to bench/results/latest.json and bench/results/latest.md.
//
// Each benchmark runs in a process of its own: what one leaves behind (a module that enables
// async_hooks for every promise, open sockets, a grown heap) must not slow the next one. Measured:
// run after the cluster benchmark in one process, the inline benchmarks ran at a quarter of their speed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, printResult } from './lib/stats.js';

const one = process.argv.find((arg) => arg.startsWith('--one='))?.split('=')[1];
if (one !== undefined) {
  // The child: runs one benchmark and writes its result where the harness said.
  const out = process.argv.find((arg) => arg.startsWith('--out='))?.slice('--out='.length);
  const childRounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.split('=')[1] ?? 5);
  const module = await import(`./${one}.js`);
  const result = await module.run({ rounds: childRounds });
  writeFileSync(out, JSON.stringify(result));
  process.exit(0);
}

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith('.js') && file !== 'run.js')
  .map((file) => file.slice(0, -3))
  .sort();

const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
const rounds = Number(process.argv.find((arg) => arg.startsWith('--rounds='))?.split('=')[1] ?? 5);
const unknown = args.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
const selected = args.length > 0 ? args : available;

const machine = {
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  cpus: `${os.availableParallelism()} x ${os.cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
};
console.log(`machine: ${JSON.stringify(machine)}; rounds: ${rounds}`);

const results = [];
let failures = 0;
for (const name of selected) {
  const started = performance.now();
  const dir = mkdtempSync(join(os.tmpdir(), 'taskwarden-bench-'));
  const out = join(dir, 'result.json');
  try {
    const passOn = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
    const child = spawnSync(
      process.execPath,
      [fileURLToPath(import.meta.url), `--one=${name}`, `--out=${out}`, `--rounds=${rounds}`, ...passOn],
      { stdio: 'inherit' },
    );
    if (child.status !== 0) throw new Error(`exited with ${child.signal ?? child.status}`);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    result.seconds = Math.round((performance.now() - started) / 100) / 10;
    results.push(result);
    printResult(result);
  } catch (error) {
    failures++;
    console.error(`benchmark ${name} failed:`, error);
    results.push({ name, error: String(error?.stack ?? error) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const report = { date: new Date().toISOString(), machine, rounds, results };
const suffix = args.length > 0 ? `-${selected.join('+')}` : '';
writeFileSync(
  new URL(`results/latest${suffix}.json`, import.meta.url),
  `${JSON.stringify(report, null, 2)}\n`,
);
writeFileSync(new URL(`results/latest${suffix}.md`, import.meta.url), markdown(report));
console.log(`\nwrote bench/results/latest${suffix}.json and .md`);
if (failures > 0) process.exitCode = 1;

function markdown({ date, machine: m, results: list }) {
  const lines = [
    `Measured ${date.slice(0, 10)} on ${m.cpus}, ${m.memoryGiB} GiB, Node ${m.node} (${m.platform}); median of ${rounds} alternating rounds.`,
    '',
    '| benchmark | metric | ours (median) | peer (median) | ratio | target | met |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const result of list) {
    if (result.error) {
      lines.push(`| ${result.name} | failed | - | - | - | - | - |`);
      continue;
    }
    for (const r of result.results) {
      const peers = Object.entries(r.peers ?? {})
        .map(([peer, s]) => `${peer}: ${fmt(s.median)}`)
        .join('<br>');
      lines.push(
        `| ${result.name} | ${r.metric} (${r.unit}) | ${fmt(r.ours.median)} | ${peers || '-'} | ${r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x`} | ${r.target ?? '-'} | ${r.met === undefined ? '-' : r.met ? 'yes' : '**no**'} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
