import { ProcessExecutor } from '@taskwarden/executor-process';
import { describeExecutorConformance } from '@taskwarden/sdk/testing/conformance';

// `liveResources` counts child processes until they and their whole process group are gone.
describeExecutorConformance(
  'ProcessExecutor',
  ({ maxConcurrency }) => new ProcessExecutor({ maxProcesses: maxConcurrency, killGraceMs: 200 }),
  { liveResources: (executor) => (executor as ProcessExecutor).stats.processes },
);

describeExecutorConformance(
  'ProcessExecutor with reuse',
  ({ maxConcurrency }) =>
    new ProcessExecutor({ maxProcesses: maxConcurrency, killGraceMs: 200, reuse: true }),
  { liveResources: (executor) => (executor as ProcessExecutor).stats.processes },
);
