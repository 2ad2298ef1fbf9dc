// Cold start as a user starts: import @taskwarden/sdk and @taskwarden/executor-local, create a
// runtime with an InlineExecutor, close it.
import { InlineExecutor } from '@taskwarden/executor-local';
import { createRuntime } from '@taskwarden/sdk';

const runtime = createRuntime({ numberOfSlots: 1, executors: { inline: new InlineExecutor() } });
await runtime.close();
