/**
 * The sentinel of a worker thread whose tasks spawn processes: a tiny detached shell started (from
 * the thread, before its first spawn) with a pipe from the thread as its standard input. The thread
 * writes the pid and start time of every process it spawns into the pipe. When the pipe reaches its
 * end, the thread has exited or the host process has died:
 *
 * - a thread exit: the host is alive and stops what the thread spawned itself (see
 *   `ThreadLifecycle`); the sentinel just ends;
 * - the host died: the sentinel runs the orphan reaper (`orphan-reaper.ts`) with the thread's
 *   tree-kill mode, cookie, cgroup and spawns.
 *
 * The pipe may end a moment before a dying host shows as such in `/proc`, so the sentinel watches
 * the host for up to half a second before it decides. It forks once more and its first process
 * exits at once, so the thread reaps it and no zombie is left when the thread is gone; it ignores
 * hang-ups and terminal signals, and leads its own session: it outlives the host on purpose. It is
 * in the host's cgroup, not the thread's: killing the thread's tree does not kill it.
 * @internal
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import type { ThreadTreeSpec } from './tree-kill-setup.js';

/** `$1`: host pid; `$2`: node; `$3`: the reaper; `$4`..`$6`: the thread's mode, cookie, cgroup (or `-`). */
const SCRIPT = `exec 3<&0
(
  trap '' HUP INT TERM PIPE
  host=$1
  spawns=
  while read -r pid ticks; do
    case $pid in
      -*)
        pid=\${pid#-}
        case "$spawns " in
          *" $pid:"*)
            head=\${spawns%%" $pid:"*}
            tail=\${spawns#*" $pid:"}
            case $tail in *" "*) tail=" \${tail#* }" ;; *) tail= ;; esac
            spawns=$head$tail
            ;;
        esac
        ;;
      *) spawns="$spawns $pid:$ticks" ;;
    esac
  done
  n=0
  while [ $n -lt 10 ]; do
    if [ -r "/proc/$host/stat" ]; then
      read -r stat < "/proc/$host/stat" || break
      state=\${stat##*) }
      case "\${state%% *}" in Z|X) break ;; esac
    elif ! kill -0 "$host" 2>/dev/null; then
      break
    fi
    sleep 0.05 2>/dev/null || sleep 1
    n=$((n + 1))
  done
  [ $n -lt 10 ] || exit 0
  exec "$2" "$3" "$4" "$5" "$6" $spawns
) <&3 3<&- &
`;

/** What starting a sentinel needs. */
export interface SentinelOptions {
  /** `child_process.spawn` itself: the sentinel must not be tracked as a task's process. */
  readonly spawn: typeof import('node:child_process').spawn;
  readonly hostPid: number;
  readonly execPath: string;
  /** Path of the bundled orphan reaper. */
  readonly reaperPath: string;
  /** The thread's tree-kill mode, cookie and cgroup. */
  readonly tree: ThreadTreeSpec;
}

/** A started sentinel: tell it about every process the thread spawns. */
export interface Sentinel {
  /**
   * Records a spawned process (its pid leads its group and session) and when it started (clock
   * ticks after boot, 0 if unknown): the reaper kills its group and session should the host die,
   * if it is still that process. Never throws.
   */
  add(pid: number, startTicks: number): void;
  /** That process has exited and was reaped: forgotten (the list stays as long as the live spawns). */
  remove(pid: number): void;
}

/** Starts the sentinel; undefined when it cannot be started (the host's own sweeps still work). */
export function startSentinel(options: SentinelOptions): Sentinel | undefined {
  // The host's own environment: the thread's cookie is only ever given to what its tasks spawn.
  const env = { ...process.env };
  // The reaper is a plain script: nothing the host's Node options preload concerns it.
  delete env.NODE_OPTIONS;
  try {
    const child = options.spawn(
      '/bin/sh',
      [
        '-c',
        SCRIPT,
        'taskwarden-sentinel',
        String(options.hostPid),
        options.execPath,
        options.reaperPath,
        options.tree.mode,
        options.tree.cookie,
        options.tree.cgroup ?? '-',
      ],
      { detached: true, stdio: ['pipe', 'ignore', 'ignore'], env },
    );
    const input = child.stdin;
    // Node destroys a child's stdin when the child exits, and the sentinel's first process exits at
    // once: the pipe must outlive it, so the ChildProcess no longer holds it.
    (child as ChildProcess).stdin = null;
    child.on('error', () => undefined);
    if (input === null) return undefined;
    input.on('error', () => undefined);
    // Neither keeps the thread's event loop busy (an idle thread waits in Atomics.wait otherwise).
    child.unref();
    (input as unknown as { unref?: () => void }).unref?.();
    const write = (line: string): void => {
      try {
        input.write(line);
      } catch {
        // The sentinel is gone; the host's own sweeps remain.
      }
    };
    return {
      add(pid, startTicks) {
        write(`${pid} ${startTicks}\n`);
      },
      remove(pid) {
        write(`-${pid}\n`);
      },
    };
  } catch {
    return undefined;
  }
}
