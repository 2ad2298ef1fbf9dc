import type { SpawnSyncOptions } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../testing/index.js';
import { createCgroup, removeCgroup } from './cgroup.js';
import type { ExecSpec } from './cgroup-exec.js';
import { CGROUP_EXEC_REFUSED, cgroupExec, cgroupExecProblem } from './cgroup-exec.js';
import { detectTreeKill } from './tree-kill-mode.js';

const linux = process.platform === 'linux';
const pairs = (env: NodeJS.ProcessEnv) => Object.entries(env).map(([key, value]) => `${key}=${value}`);
const spec = (
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd?: string,
): ExecSpec => ({
  file,
  args: [file, ...args],
  envPairs: pairs(env),
  cwd,
});

describe('cgroupExecProblem: which spawns the wrapper can start unchanged', () => {
  it('refuses an argv[0] of its own, an environment a shell would change, a command that is not found', () => {
    expect(cgroupExecProblem({ ...spec('/bin/true', []), args: ['other'] })).toMatch(/argv\[0\]/);
    expect(cgroupExecProblem(spec('/bin/true', [], { 'NOT-A-NAME': '1' }))).toMatch(/"NOT-A-NAME"/);
    expect(cgroupExecProblem(spec('/bin/true', [], { '1X': '1' }))).toMatch(/"1X"/);
    expect(cgroupExecProblem(spec('/bin/true', [], { Ü: '1' }))).toMatch(/"Ü"/);
    expect(cgroupExecProblem({ ...spec('/bin/true', []), envPairs: ['A=1', 'A=2'] })).toMatch(/A twice/);
    expect(cgroupExecProblem(spec('/no/such/program', []))).toMatch(/not an executable file/);
    expect(cgroupExecProblem(spec('no-such-program-anywhere', []))).toMatch(/not an executable file/);
    using dir = tempDir('cgroup-exec-problem');
    const notExecutable = dir.file('data');
    writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    expect(cgroupExecProblem(spec(notExecutable, []))).toMatch(/not an executable file/);
    expect(cgroupExecProblem(spec(dir.path, []))).toMatch(/not an executable file/);
  });

  it('searches the spawn’s own PATH (glibc’s default without one), and resolves paths from its cwd', () => {
    using dir = tempDir('cgroup-exec-path');
    const program = dir.file('my-program');
    writeFileSync(program, '#!/bin/sh\n');
    chmodSync(program, 0o755);
    expect(cgroupExecProblem(spec('my-program', [], { PATH: `/nowhere:${dir.path}` }))).toBeUndefined();
    expect(cgroupExecProblem(spec('my-program', [], { PATH: '/usr/bin:/bin' }))).toBeDefined();
    expect(cgroupExecProblem(spec('sh', [], {}))).toBeUndefined(); // /bin:/usr/bin
    expect(cgroupExecProblem(spec('./my-program', [], {}, dir.path))).toBeUndefined();
    expect(cgroupExecProblem(spec('./my-program', [], {}, '/'))).toBeDefined();
    expect(cgroupExecProblem(spec('my-program', [], { PATH: ':/nowhere' }, dir.path))).toBeUndefined();
  });
});

const cgroupDir = linux && detectTreeKill().mode === 'cgroup' ? detectTreeKill().cgroupDir : undefined;

describe.runIf(cgroupDir !== undefined)('cgroupExec: the command joins the cgroup before it runs', () => {
  const base = cgroupDir as string;
  const name = (label: string) =>
    `taskwarden-${process.pid}-test-exec-${label}-${Math.random().toString(36).slice(2, 6)}`;

  /** Runs `command` directly and through the wrapper; returns both results as text. */
  function both(command: ExecSpec, cgroup: string, options: SpawnSyncOptions = {}) {
    const run = (file: string, args: string[]) => {
      const result = spawnSync(file, args.slice(1), {
        ...options,
        argv0: args[0],
        cwd: command.cwd,
        env: Object.fromEntries(
          command.envPairs.map((pair) => [
            pair.slice(0, pair.indexOf('=')),
            pair.slice(pair.indexOf('=') + 1),
          ]),
        ),
        encoding: 'latin1',
      });
      // The order of environment entries is not kept (a shell rebuilds the list); nothing reads it.
      const stdout =
        file === '/usr/bin/env' || args.includes('/usr/bin/env')
          ? result.stdout.split('\0').sort()
          : result.stdout;
      return { stdout, stderr: result.stderr, status: result.status, signal: result.signal };
    };
    expect(cgroupExecProblem(command)).toBeUndefined();
    const wrapped = cgroupExec(cgroup, command);
    return { direct: run(command.file, [...command.args]), wrapped: run(wrapped.file, wrapped.args) };
  }

  const environments: Record<string, NodeJS.ProcessEnv> = {
    'the host’s': process.env,
    empty: {},
    'one the shell rewrites': { IFS: 'x', OPTIND: '7', PPID: '1', PWD: '/wrong', OLDPWD: '/o', PS4: 'q' },
    'an empty PWD, odd values': { PWD: '', NL: 'a\nb', EQ: 'a=b', SP: ' x ', ENV: '/nonexistent' },
  };

  it.each(Object.entries(environments))(
    'the command sees the same arguments, environment, directory, signals and descriptors (%s environment)',
    (_label, env) => {
      const cgroup = createCgroup(base, name('same'));
      try {
        for (const cwd of [undefined, '/tmp']) {
          const probes: ExecSpec[] = [
            spec('/usr/bin/env', ['-0'], env, cwd),
            spec('cat', ['/proc/self/cmdline'], env, cwd),
            spec('readlink', ['/proc/self/cwd'], env, cwd),
            spec('grep', ['-E', '^(Sig(Blk|Ign)|Cap|NoNewPrivs|Umask)', '/proc/self/status'], env, cwd),
            spec('ls', ['/proc/self/fd'], env, cwd),
          ];
          for (const probe of probes) {
            const { direct, wrapped } = both(probe, cgroup);
            expect(wrapped, `${probe.file} in ${cwd ?? 'the host’s cwd'}`).toEqual(direct);
            expect(direct.status).toBe(0);
          }
        }
        // It ran in the cgroup; the direct run did not.
        const where = both(spec('cat', ['/proc/self/cgroup']), cgroup);
        expect(where.wrapped.stdout).toContain(`0::${cgroup.slice(base.length).replace(/^\/*/, '/')}\n`);
        expect(where.direct.stdout).not.toContain(cgroup.slice(base.length));
      } finally {
        expect(removeCgroup(cgroup)).toBe(true);
      }
    },
  );

  it('exit statuses and deaths by signal are the command’s', () => {
    const cgroup = createCgroup(base, name('status'));
    try {
      for (const script of ['exit 3', 'kill -TERM $$', 'exit 0']) {
        const { direct, wrapped } = both(spec('/bin/sh', ['-c', script]), cgroup);
        expect(wrapped).toEqual(direct);
      }
    } finally {
      expect(removeCgroup(cgroup)).toBe(true);
    }
  });

  it(`a process that cannot join its cgroup (removed: its tree is being killed) runs nothing and exits ${CGROUP_EXEC_REFUSED}`, () => {
    using dir = tempDir('cgroup-exec-refused');
    const cgroup = createCgroup(base, name('gone'));
    expect(removeCgroup(cgroup)).toBe(true);
    const marker = dir.file('ran');
    const wrapped = cgroupExec(cgroup, spec('/usr/bin/touch', [marker]));
    const result = spawnSync(wrapped.file, wrapped.args.slice(1), { encoding: 'utf8' });
    expect(result.status).toBe(CGROUP_EXEC_REFUSED);
    expect(result.stderr).toContain('/usr/bin/touch not started: cannot join the cgroup');
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(cgroup))).toBe(false);
  });
});
