// Replacing the fatal error handler, the scheduler and the logger through a tsyringe container,
// the way a service that already uses tsyringe would wire taskwarden in.
// Run: npm start -w @taskwarden/example-di-overrides
import 'reflect-metadata'; // tsyringe needs it before it is imported; the SDK loads it for itself
import { InlineExecutor } from '@taskwarden/executor-local';
import { createRuntime, SystemScheduler, Tokens } from '@taskwarden/sdk';
import pino from 'pino';
import { container } from 'tsyringe';

/** A fatal handler that asks the service to restart the runtime instead of exiting the process. */
class RestartingFatalErrorHandler {
  restarts = 0;
  onFatalError(error) {
    this.restarts++;
    console.log(`[fatal handler] ${error.name}: ${error.message} -> scheduling a runtime restart`);
  }
}

/** A scheduler that runs every timer ten times sooner, and says what it arms. */
class FastForwardScheduler {
  #inner = new SystemScheduler();
  schedule(delayMs, callback) {
    console.log(`[scheduler] timer for ${delayMs} ms armed (fires after ${delayMs / 10} ms)`);
    return this.#inner.schedule(delayMs / 10, callback);
  }
  now() {
    return this.#inner.now() * 10;
  }
}

// The service's own logger: warnings and above, one short line each.
const logger = pino(
  { level: 'warn', base: { service: 'thumbnailer' } },
  { write: (line) => process.stdout.write(`[log] ${JSON.parse(line).msg}\n`) },
);

const services = container.createChildContainer();
const fatalErrorHandler = new RestartingFatalErrorHandler();
services.registerInstance(Tokens.FatalErrorHandler, fatalErrorHandler);
services.registerInstance(Tokens.Scheduler, new FastForwardScheduler());
services.registerInstance(Tokens.Logger, logger);

const runtime = createRuntime({
  numberOfSlots: 1,
  executors: { inline: new InlineExecutor() },
  cancellation: { interruptIntervalMs: 1_000, gracePeriodMs: 2_000, timeoutMs: 5_000 },
  container: services, // the runtime makes a child of it and resolves the overrides from there
});

runtime.slotTable.allocateSlot({ index: 0, jobId: 'job', allocationId: 'slot' });
runtime.slotTable.markSlotActive('slot');
let timer;
const deaf = runtime.submit({
  jobId: 'job',
  allocationId: 'slot',
  name: 'deaf',
  invokable: () => new Promise((resolve) => (timer = setTimeout(resolve, 60_000))),
});
await new Promise((resolve) => setTimeout(resolve, 20));
deaf.cancel();
const outcome = await deaf.done;
clearTimeout(timer);
console.log(`task ${deaf.name}: ${outcome.state}, abandoned: ${outcome.abandoned}`);
console.log(`runtime health: ${runtime.health}; restarts requested: ${fatalErrorHandler.restarts}`);
await runtime.close();
