/**
 * Bundles a built entry point (and everything it imports from the workspace) into one file.
 *
 * Used by the executor packages for the code that starts in every fresh worker thread or child
 * process: Node's ESM loader pays per module (resolve, read, link), and a fresh process or thread
 * pays it on every task's latency path. One CommonJS file loads in a fraction of that time.
 *
 *   node ../../scripts/bundle.mjs <entry.js> <out-file> [--format=cjs|esm]
 *
 * Node built-ins stay external; the task's own module is imported at run time (dynamic `import()`
 * of a computed specifier), never bundled.
 */
import { build } from 'esbuild';

const [entry, outfile, ...flags] = process.argv.slice(2);
if (entry === undefined || outfile === undefined) {
  console.error('usage: node scripts/bundle.mjs <entry.js> <out-file> [--format=cjs|esm]');
  process.exit(2);
}
const formatFlag = flags.find((flag) => flag.startsWith('--format='));
const format = formatFlag === undefined ? 'cjs' : formatFlag.slice('--format='.length);
if (format !== 'cjs' && format !== 'esm') {
  console.error(`bundle: unknown format ${format}`);
  process.exit(2);
}

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format,
  sourcemap: true,
  logLevel: 'warning',
  legalComments: 'none',
});
