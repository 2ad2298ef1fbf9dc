// The SDK's executor conformance suite, run against the example ShellExecutor. Its fixtures are
// shell scripts (test/fixtures/*.sh) doing what the shipped .mjs fixtures do; inputs and results
// travel as JSON.
import { fileURLToPath } from 'node:url';
import { describeExecutorConformance } from '@taskwarden/sdk/testing/conformance';
import { afterAll, expect } from 'vitest';
import { ShellExecutor } from '../src/shell-executor.js';
import { survivors, tagChildProcesses } from './processes.js';

// Every script this file starts inherits the tag, so afterAll can prove none is left.
const tag = tagChildProcesses();

const fixture = (name: string) => ({
  module: fileURLToPath(new URL(`./fixtures/${name}.sh`, import.meta.url)),
});

describeExecutorConformance(
  'ShellExecutor',
  ({ maxConcurrency }) => new ShellExecutor({ maxConcurrent: maxConcurrency }),
  {
    fixtures: {
      echo: fixture('echo'),
      throws: fixture('throws'),
      cooperative: fixture('cooperative'),
      record: fixture('record'),
      busy: fixture('busy'),
      crash: fixture('crash'),
      deaf: fixture('deaf'),
    },
    serialization: 'json',
    liveResources: (executor) => executor.liveProcesses,
  },
);

afterAll(async () => {
  expect(await survivors(tag)).toEqual([]);
});
