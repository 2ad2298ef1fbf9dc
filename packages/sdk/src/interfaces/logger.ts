import type { Logger as PinoLogger } from 'pino';

/** The pino logger taskwarden logs through; one child per task is bound to `{ jobId, executionId, task }`. */
export type Logger = PinoLogger;

/** DI token of the root {@link Logger}. */
export const LoggerToken: unique symbol = Symbol.for('@taskwarden/sdk:Logger');
