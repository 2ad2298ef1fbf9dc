/**
 * Starting a command inside a cgroup before it runs anything: the process is spawned as a tiny
 * `/bin/sh` that writes its own pid into the cgroup's `cgroup.procs` and then `exec`s the command
 * (same pid, same arguments, same environment). A process moved into its cgroup after `spawn()`
 * returns has already run: whatever it forked meanwhile, with a cleared environment and in a
 * session of its own, was never in the cgroup. Linux has `clone3(CLONE_INTO_CGROUP)` for this, but
 * Node cannot call it.
 *
 * The command must be indistinguishable from one spawned directly, so the wrapper is used only when
 * that holds (see {@link cgroupExecProblem}): a POSIX shell drops environment entries whose names it
 * cannot hold as variables and rewrites `PWD`, `IFS`, `OPTIND` and `PPID`, which the script puts
 * back; `exec` cannot set an `argv[0]` other than the command's name; and a command that cannot be
 * found must fail the spawn itself (`ENOENT`) rather than start a shell that exits 127.
 * @internal
 * @module
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/** The shell that runs the wrapper; `exec` replaces it with the command. @internal */
export const CGROUP_EXEC_SHELL = '/bin/sh';

/**
 * The exit status of a wrapper that could not join its cgroup: it does not run the command (it
 * writes why to its standard error). The cgroup is gone when the tree it belongs to is being
 * killed, so a command started at that moment must not run outside of it.
 * @internal
 */
export const CGROUP_EXEC_REFUSED = 126;

/**
 * `$0`: the cgroup's `cgroup.procs`; `$1`..`$4`: `=value` or `-` (absent) for `PWD`, `IFS`,
 * `OPTIND`, `PPID`, which dash rewrites at start and exports when the environment had them; `$5`:
 * `-` when the environment has no `PATH` (then the command is searched where `execvp` searches
 * without one, and `PATH` stays out of its environment); then the command and its arguments.
 */
const SCRIPT = `{ echo $$ > "$0"; } 2>/dev/null || { echo "taskwarden: $6 not started: cannot join the cgroup of $0" >&2; exit ${CGROUP_EXEC_REFUSED}; }
case $1 in =*) PWD=\${1#=} ;; *) unset PWD ;; esac
case $2 in =*) IFS=\${2#=} ;; esac
case $3 in =*) OPTIND=\${3#=} ;; esac
case $4 in =*) PPID=\${4#=} ;; esac
case $5 in -) PATH=/bin:/usr/bin ;; esac
shift 5
exec "$@"`;

/** What a spawn is about to run, as Node's spawn bindings are given it. @internal */
export interface ExecSpec {
  /** The program: a path, or a name searched in `PATH`. */
  readonly file: string;
  /** The whole argument vector, `argv[0]` included. */
  readonly args: readonly string[];
  /** The environment, as `KEY=value` strings. */
  readonly envPairs: readonly string[];
  /** The working directory the process starts in (the caller's when undefined). */
  readonly cwd?: string | undefined;
}

/** Names a POSIX shell keeps as variables (dash: ASCII letters, digits, `_`, not first a digit). */
const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variables the wrapper puts back, in the order of the script's `$1`..`$4`. */
const RESTORED = ['PWD', 'IFS', 'OPTIND', 'PPID'] as const;

/**
 * Why `spec` cannot be started through {@link cgroupExec} exactly as if it were spawned directly;
 * undefined when it can. A command that cannot be found (or is not an executable file) is one of
 * them: spawned directly, it fails before anything runs, as it should.
 * @internal
 */
export function cgroupExecProblem(spec: ExecSpec): string | undefined {
  if (spec.args[0] !== spec.file) return 'its argv[0] is not its file name (a shell cannot exec it so)';
  const names = new Set<string>();
  for (const pair of spec.envPairs) {
    const name = pair.slice(0, pair.indexOf('='));
    if (!SHELL_NAME.test(name)) return `its environment has a name a shell drops (${JSON.stringify(name)})`;
    if (names.has(name)) return `its environment has ${name} twice`;
    names.add(name);
  }
  if (!findsExecutable(spec)) return `${spec.file} is not an executable file here`;
  return undefined;
}

/**
 * The file and arguments that start `spec` inside `cgroup` (a cgroup directory) before it runs
 * anything; check {@link cgroupExecProblem} first. The environment and working directory are the
 * spawn's own, unchanged. If the process cannot join the cgroup (it is gone), it exits with
 * {@link CGROUP_EXEC_REFUSED} without running the command.
 * @internal
 */
export function cgroupExec(cgroup: string, spec: ExecSpec): { file: string; args: string[] } {
  const values = new Map<string, string>();
  for (const pair of spec.envPairs) {
    const at = pair.indexOf('=');
    const name = pair.slice(0, at);
    if ((RESTORED as readonly string[]).includes(name) || name === 'PATH')
      values.set(name, pair.slice(at + 1));
  }
  const marker = (name: string) => {
    const value = values.get(name);
    return value === undefined ? '-' : `=${value}`;
  };
  return {
    file: CGROUP_EXEC_SHELL,
    args: [
      CGROUP_EXEC_SHELL,
      '-c',
      SCRIPT,
      join(cgroup, 'cgroup.procs'),
      ...RESTORED.map(marker),
      values.has('PATH') ? '=' : '-',
      spec.file,
      ...spec.args.slice(1),
    ],
  };
}

/** Where `execvp` looks when the environment has no `PATH` (glibc's default). */
const DEFAULT_PATH = '/bin:/usr/bin';

/** Whether `execvp` would find an executable file for `spec.file` (searching the spawn's `PATH`). */
function findsExecutable(spec: ExecSpec): boolean {
  const cwd = spec.cwd ?? process.cwd();
  if (spec.file.includes('/'))
    return isExecutableFile(isAbsolute(spec.file) ? spec.file : resolve(cwd, spec.file));
  const path = spec.envPairs.find((pair) => pair.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  for (const dir of path.split(':')) {
    // An empty entry is the working directory.
    if (isExecutableFile(resolve(cwd, dir, spec.file))) return true;
  }
  return false;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
