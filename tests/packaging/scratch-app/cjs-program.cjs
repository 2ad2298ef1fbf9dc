// CommonJS against the installed tarballs: `require()` of ES modules, which Node has without a flag
// from 20.19 on. Requires every subpath of every package named on the command line (a subpath whose
// optional peer dependency is not installed must fail naming it), then runs one inline task and
// cancels another through what it required. Prints a JSON summary; exits non-zero when a check fails.
const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

setTimeout(() => {
  console.error('cjs-program: still running after 30 s');
  process.exit(2);
}, 30_000).unref();

const required = {};
for (const name of process.argv.slice(2)) {
  const manifest = JSON.parse(readFileSync(join(__dirname, 'node_modules', name, 'package.json'), 'utf8'));
  const optionalPeers = Object.entries(manifest.peerDependenciesMeta ?? {})
    .filter(([, meta]) => meta.optional)
    .map(([peer]) => peer);
  for (const subpath of Object.keys(manifest.exports)) {
    if (subpath === './package.json') continue;
    const specifier = subpath === '.' ? name : `${name}/${subpath.slice(2)}`;
    try {
      required[specifier] = Object.keys(require(specifier)).length;
    } catch (error) {
      const missingPeer = optionalPeers.find((peer) => error.message.includes(`'${peer}'`));
      const notFound = error.code === 'MODULE_NOT_FOUND' || error.code === 'ERR_MODULE_NOT_FOUND';
      if (!notFound || missingPeer === undefined) throw error;
      required[specifier] = `needs ${missingPeer}`;
    }
  }
}

// The SDK before tsyringe: the SDK loads the reflect-metadata polyfill tsyringe needs.
const { createRuntime, EmitOnlyFatalErrorHandler } = require('@taskwarden/sdk');
const { InlineExecutor } = require('@taskwarden/executor-local');
const { container } = require('tsyringe');

async function main() {
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { inline: new InlineExecutor() },
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    container: container.createChildContainer(),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
  runtime.slotTable.markSlotActive('slot');
  const finished = runtime.submit({ jobId: 'job', allocationId: 'slot', invokable: () => 'done' });
  const cancelled = runtime.submit({
    jobId: 'job',
    allocationId: 'slot',
    invokable: ({ signal }) =>
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
  });
  const finishedOutcome = await finished.done;
  cancelled.cancel();
  const cancelledOutcome = await cancelled.done;
  await runtime.close();
  const summary = {
    required,
    finished: { state: finishedOutcome.state, result: finishedOutcome.result },
    cancelled: {
      state: cancelledOutcome.state,
      cancellationRequested: cancelledOutcome.cancellationRequested,
    },
  };
  console.log(JSON.stringify(summary));
  assert.deepEqual(summary.finished, { state: 'FINISHED', result: 'done' });
  assert.deepEqual(summary.cancelled, { state: 'CANCELED', cancellationRequested: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
