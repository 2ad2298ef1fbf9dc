// The servers of the cluster benchmark: nats-server (JetStream) and redis-server, each started on a
// free loopback port with a temporary directory, and ended by pid. Nothing is installed here: what is
// missing is named, with the command that installs it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

function binary(envName, names) {
  const explicit = process.env[envName];
  if (explicit) return spawnSync(explicit, ['--version']).status === 0 ? explicit : undefined;
  for (const candidate of names) {
    if (spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  return undefined;
}

/** The nats-server binary (`NATS_SERVER` or on PATH, Debian: /usr/sbin), or undefined. */
export function natsServerBinary() {
  return binary('NATS_SERVER', ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']);
}

/** The redis-server binary (`REDIS_SERVER` or on PATH, Debian: /usr/bin), or undefined. */
export function redisServerBinary() {
  return binary('REDIS_SERVER', ['redis-server', '/usr/bin/redis-server', '/usr/local/bin/redis-server']);
}

/**
 * What the cluster benchmark needs and is missing, each with the command that installs it; an empty
 * list when everything is there. Benchmark-only: none of it is a dependency of a package.
 */
export function missingDependencies() {
  const missing = [];
  if (!natsServerBinary()) {
    missing.push({ what: 'nats-server (2.9 or later)', install: 'apt-get install -y nats-server' });
  }
  if (!redisServerBinary()) {
    missing.push({ what: 'redis-server', install: 'apt-get install -y redis-server' });
  }
  for (const name of ['bullmq', 'ioredis']) {
    try {
      require.resolve(name);
    } catch {
      missing.push({
        what: `the npm package ${name}`,
        install: 'npm install (root devDependencies: bullmq, ioredis)',
      });
    }
  }
  return missing;
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitListening(port, ms, child, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited at start`);
    const ok = await new Promise((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function startServer(what, command, argsFor) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `taskwarden-bench-${what}-`));
  const child = spawn(command, argsFor(port, dir), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitListening(port, 10_000, child, what);
  } catch (error) {
    await stop();
    throw new Error(`${error.message}; stderr: ${stderr}`);
  }
  return { port, pid: child.pid, dir, stop };
}

/** Starts `nats-server -js` on a free port with a temporary store. */
export async function startNats() {
  const server = await startServer('nats', natsServerBinary(), (port, dir) => [
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
    '-js',
    '-sd',
    dir,
  ]);
  return { ...server, url: `nats://127.0.0.1:${server.port}` };
}

/**
 * Starts `redis-server` on a free port, its working directory (where its snapshots go) temporary,
 * otherwise with Redis's built-in defaults (RDB snapshots on, no append-only file, `noeviction`,
 * which BullMQ requires).
 */
export async function startRedis() {
  return startServer('redis', redisServerBinary(), (port, dir) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
  ]);
}
