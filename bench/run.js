// The benchmark harness: `npm run bench` runs every benchmark, `npm run bench -- <name> [...]` runs
// some. Each benchmark module exports `run({ rounds })` and returns
// `{ name, description?, results: [{ metric, unit, ours, peers?, ratio?, target?, met? }] }`.
// Results go to bench/results/latest.json and bench/results/latest.md.
import { readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { fmt, printResult } from './lib/stats.js';

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
  try {
    const module = await import(`./${name}.js`);
    const result = await module.run({ rounds });
    result.seconds = Math.round((performance.now() - started) / 100) / 10;
    results.push(result);
    printResult(result);
  } catch (error) {
    failures++;
    console.error(`benchmark ${name} failed:`, error);
    results.push({ name, error: String(error?.stack ?? error) });
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
