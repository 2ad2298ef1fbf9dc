// The same packages from a CommonJS TypeScript file (`require` of ES modules, Node >= 20.19).
import sdk = require('@taskwarden/sdk');
import local = require('@taskwarden/executor-local');
import processExecutor = require('@taskwarden/executor-process');
import testing = require('@taskwarden/sdk/testing');

const runtime = sdk.createRuntime({
  numberOfSlots: 1,
  executors: { inline: new local.InlineExecutor(), process: new processExecutor.ProcessExecutor() },
  scheduler: new testing.ManualScheduler(),
});

export = { runtime };
