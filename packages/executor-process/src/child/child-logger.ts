/**
 * `ctx.logger` in the child: a pino logger whose records go to the host over the control pipe, one
 * JSON line each, where the task's logger re-logs them.
 * @internal
 * @module
 */
import { createRequire } from 'node:module';
import type { Logger } from '@taskwarden/sdk';
import { describe, safeString } from '@taskwarden/sdk/internal';

type LogMethod = (this: Logger, ...args: unknown[]) => void;

type PinoFactory = (
  options: {
    level: string;
    base: null;
    timestamp: false;
    hooks: { logMethod(this: Logger, args: unknown[], method: LogMethod): void };
  },
  destination: { write(line: string): void },
) => Logger;

/**
 * A logger at `level` that hands every record (a JSON line without its newline) to `send`. A call
 * whose values cannot be written (a Proxy whose traps throw, an object whose getter or `toJSON`
 * throws, a Symbol as the message) never throws into the task: a record saying so is written
 * instead. So do its child loggers.
 */
export function createChildLogger(level: string, send: (line: string) => void): Logger {
  // pino is a dependency of the SDK; resolve it from there rather than rely on hoisting.
  const sdkPackage = createRequire(__filename).resolve('@taskwarden/sdk/package.json');
  const pino = createRequire(sdkPackage)('pino') as PinoFactory;
  return pino(
    {
      level,
      base: null,
      timestamp: false,
      hooks: {
        logMethod(args, method) {
          // pino drops a record whose message is a Symbol; it is written as its description instead.
          if (typeof args[0] === 'symbol') args[0] = safeString(args[0]);
          try {
            method.apply(this, args);
          } catch (error) {
            try {
              method.call(this, `a log call failed: its values could not be written (${describe(error)})`);
            } catch {
              /* nothing more can be said about it */
            }
          }
        },
      },
    },
    {
      write(line: string) {
        send(line.endsWith('\n') ? line.slice(0, -1) : line);
      },
    },
  );
}
