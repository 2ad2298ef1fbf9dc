import { InlineExecutor } from '@taskwarden/executor-local';
import { describeExecutorConformance } from '@taskwarden/sdk/testing/conformance';

describeExecutorConformance('InlineExecutor', () => new InlineExecutor(), { limitsConcurrency: false });
