#!/usr/bin/env node
/**
 * The `taskwarden-agent` command: starts an agent from flags (see `cli-args.ts`), logs with pino
 * (JSON lines on stdout), and on SIGTERM or SIGINT drains it (`agent.close`) and exits 0. A second
 * signal while draining exits at once with code 130. Failing to start exits with code 1.
 * @internal
 * @module
 */
import { WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import type { Executor } from '@taskwarden/sdk';
import pino from 'pino';
import { startAgent } from './agent/start-agent.js';
import type { AgentCommand } from './cli-args.js';
import { parseAgentArgs, USAGE } from './cli-args.js';

async function main(): Promise<void> {
  let command: AgentCommand;
  try {
    command = parseAgentArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`taskwarden-agent: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (command.help) {
    process.stdout.write(USAGE);
    return;
  }
  const logger = pino({ name: 'taskwarden-agent', level: command.logLevel });
  const executors: Record<string, Executor> = {};
  for (const kind of command.executors) {
    executors[kind] =
      kind === 'process'
        ? new ProcessExecutor({
            hostLease: true,
            killGraceMs: command.killGraceMs,
            reuse: command.reuse,
            ...(command.capacity === undefined ? {} : { maxProcesses: command.capacity }),
            ...(command.cwd === undefined ? {} : { cwd: command.cwd }),
          })
        : new WorkerExecutor(command.capacity === undefined ? {} : { maxThreads: command.capacity });
  }
  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    agent = await startAgent({
      servers: command.servers,
      executors,
      logger,
      ...(command.name === undefined ? {} : { name: command.name }),
      ...(command.queue === undefined ? {} : { queue: command.queue }),
      ...(command.capacity === undefined ? {} : { capacity: command.capacity }),
      ...(command.leaseMs === undefined ? {} : { leaseMs: command.leaseMs }),
      ...(command.cluster === undefined ? {} : { cluster: command.cluster }),
    });
  } catch (error) {
    logger.fatal({ err: error }, `the agent could not start: ${(error as Error).message}`);
    await Promise.allSettled(Object.values(executors).map((executor) => executor.close()));
    logger.flush();
    process.exit(1);
  }
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      logger.warn(`${signal} again while draining: exiting now`);
      logger.flush();
      process.exit(130);
    }
    draining = true;
    logger.info(`${signal}: draining`);
    agent.close({ graceMs: command.graceMs }).then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'draining failed');
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

void main();
