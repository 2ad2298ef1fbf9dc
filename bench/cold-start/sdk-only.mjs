// Cold start, SDK only: import @taskwarden/sdk, create a runtime with an executor of its own, close it.
import { createRuntime } from '@taskwarden/sdk';

const executor = {
  name: 'none',
  capabilities: { hardStop: false, diagnostics: false, isolation: 'none' },
  launch() {
    throw new Error('not used');
  },
  async close() {},
};
const runtime = createRuntime({ numberOfSlots: 1, executors: { none: executor } });
await runtime.close();
