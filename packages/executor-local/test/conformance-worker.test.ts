import { WorkerExecutor } from '@taskwarden/executor-local';
import { describeExecutorConformance } from '@taskwarden/sdk/testing/conformance';

describeExecutorConformance(
  'WorkerExecutor',
  ({ maxConcurrency }) => new WorkerExecutor({ maxThreads: maxConcurrency }),
  { liveResources: (executor) => (executor as WorkerExecutor).threadCount },
);
