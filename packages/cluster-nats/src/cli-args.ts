/**
 * Parsing the flags of the `taskwarden-agent` command.
 * @internal
 * @module
 */

/** What the command was asked for. @internal */
export interface AgentCommand {
  readonly servers: string;
  readonly name: string | undefined;
  readonly queue: string | undefined;
  readonly capacity: number | undefined;
  readonly executors: readonly ('process' | 'worker')[];
  readonly leaseMs: number | undefined;
  readonly cluster: string | undefined;
  readonly killGraceMs: number;
  readonly reuse: boolean;
  readonly graceMs: number;
  readonly cwd: string | undefined;
  readonly logLevel: string;
  readonly help: boolean;
}

/** The command's usage text. @internal */
export const USAGE = `Usage: taskwarden-agent --servers <url[,url...]> [options]

Runs a taskwarden agent: takes tasks from coordinators (NatsClusterExecutor) of its queue and runs
them in child processes or worker threads on this machine. SIGTERM or SIGINT drains it and exits 0.

  --servers <urls>        NATS servers, comma-separated (required), e.g. nats://10.0.0.5:4222
  --name <name>           agent name, unique in the cluster (default: <hostname>-<pid>)
  --queue <queue>         queue to serve (default: default)
  --capacity <n>          tasks at once (default: the number of CPUs)
  --executor <kinds>      process, worker, or process,worker (default: process)
  --lease-ms <ms>         the agent's lease (default: 3000)
  --cluster <name>        cluster name, as the coordinators use it (default: taskwarden)
  --kill-grace-ms <ms>    process executor: SIGTERM -> SIGKILL delay of a hard stop (default: 500)
  --reuse                 process executor: keep a process whose task returned or threw for later
                          tasks (much faster; a task's leftovers live until the process is stopped)
  --grace-ms <ms>         on SIGTERM/SIGINT: how long cancelled tasks may take (default: 5000)
  --cwd <dir>             working directory of task processes; package specifiers resolve from it
  --log-level <level>     pino level: fatal, error, warn, info, debug, trace (default: info)
  --help                  this text
`;

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Parses `argv` (without node and the script); throws a `TypeError` naming a bad flag. @internal */
export function parseAgentArgs(argv: readonly string[]): AgentCommand {
  const values = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--reuse') {
      values.set('reuse', 'true');
      continue;
    }
    if (!arg.startsWith('--')) throw new TypeError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value.length === 0) throw new TypeError(`--${flag} needs a value`);
    values.set(flag, value);
  }
  const known = [
    'servers',
    'name',
    'queue',
    'capacity',
    'executor',
    'lease-ms',
    'cluster',
    'kill-grace-ms',
    'reuse',
    'grace-ms',
    'cwd',
    'log-level',
  ];
  for (const flag of values.keys()) {
    if (!known.includes(flag)) throw new TypeError(`unknown flag --${flag}`);
  }
  const servers = values.get('servers');
  if (!help && servers === undefined) throw new TypeError('--servers is required');
  const executors = (values.get('executor') ?? 'process').split(',').map((kind) => kind.trim());
  for (const kind of executors) {
    if (kind !== 'process' && kind !== 'worker') {
      throw new TypeError(
        `--executor must be process, worker or process,worker, got ${JSON.stringify(kind)}`,
      );
    }
  }
  const logLevel = values.get('log-level') ?? 'info';
  if (!LEVELS.has(logLevel)) throw new TypeError(`--log-level must be one of ${[...LEVELS].join(', ')}`);
  return {
    servers: servers ?? '',
    name: values.get('name'),
    queue: values.get('queue'),
    capacity: integer(values, 'capacity'),
    executors: executors as ('process' | 'worker')[],
    leaseMs: integer(values, 'lease-ms'),
    cluster: values.get('cluster'),
    killGraceMs: integer(values, 'kill-grace-ms') ?? 500,
    reuse: values.has('reuse'),
    graceMs: integer(values, 'grace-ms') ?? 5_000,
    cwd: values.get('cwd'),
    logLevel,
    help,
  };
}

function integer(values: Map<string, string>, flag: string): number | undefined {
  const text = values.get(flag);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new TypeError(`--${flag} must be a whole number, got ${JSON.stringify(text)}`);
  return value;
}
