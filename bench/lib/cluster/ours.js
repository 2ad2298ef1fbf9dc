// Our side of the cluster benchmark: agents as processes (`agent-main.js`) and coordinators (a
// runtime whose executor is a NatsClusterExecutor) in the benchmark's process.
import { fileURLToPath } from 'node:url';
import { NatsClusterExecutor } from '@taskwarden/cluster-nats';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';
import { startChild } from './processes.js';

const AGENT = fileURLToPath(new URL('./agent-main.js', import.meta.url));

/** Absolute path of one of our task modules. */
export function taskModule(name) {
  return fileURLToPath(new URL(`./tasks/${name}.mjs`, import.meta.url));
}

/**
 * Starts an agent process. `options`: `{ servers, cluster, name, queue, capacity, executors,
 * leaseMs?, threads?, killGraceMs? }`.
 */
export function startAgentProcess(options) {
  return startChild(AGENT, options, { what: `agent ${options.name}` });
}

/**
 * A coordinator: a runtime with one slot whose only executor is a NatsClusterExecutor, both with
 * silent loggers (as the BullMQ side logs nothing). Connected before it returns.
 */
export async function startCoordinator({ servers, cluster, queue, agentExecutor, cancellation, leaseMs }) {
  const executor = new NatsClusterExecutor({
    servers,
    cluster,
    queue,
    agentExecutor,
    ...(leaseMs === undefined ? {} : { leaseMs }),
    logger: pino({ level: 'silent' }),
  });
  await executor.connect();
  const runtime = createRuntime({
    numberOfSlots: 1,
    executors: { remote: executor },
    defaultExecutor: 'remote',
    ...(cancellation === undefined ? {} : { cancellation }),
    fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
    logger: pino({ level: 'silent' }),
  });
  runtime.slotTable.allocateSlot({ index: 0, jobId: 'bench', allocationId: 'bench-slot' });
  runtime.slotTable.markSlotActive('bench-slot');
  return {
    executor,
    runtime,
    /** Submits a task of one of our modules; returns the Task. */
    submit(module, input) {
      return runtime.submit({ jobId: 'bench', allocationId: 'bench-slot', invokable: { module }, input });
    },
    /** Waits until the coordinator sees `count` agents. */
    async waitAgents(count, ms = 15_000) {
      const deadline = Date.now() + ms;
      while (executor.stats.agents < count) {
        if (Date.now() > deadline)
          throw new Error(`the coordinator saw ${executor.stats.agents} of ${count} agents`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => runtime.close({ graceMs: 0 }),
  };
}
