/**
 * A real `nats-server` for a test: on a free loopback port, with a temporary store, started and
 * ended by pid. `kill9()` + `restart()` keep the store (the server-restart scenario).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The binary: `NATS_SERVER` or `nats-server` on PATH (Debian: /usr/sbin). */
export function natsServerBinary(): string {
  const explicit = process.env.NATS_SERVER;
  if (explicit) return explicit;
  for (const candidate of ['nats-server', '/usr/sbin/nats-server', '/usr/local/bin/nats-server']) {
    if (spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  throw new Error('nats-server is not installed (apt-get install -y nats-server); the cluster tests need it');
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Start without JetStream (`-js` left out). */
  noJetStream?: boolean;
  /** The largest message the server accepts (through a config file). */
  maxPayload?: number;
}

/** A running test server. */
export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The current process's pid. */
  readonly pid: number;
  /** SIGKILL (kill -9) and wait for the exit. */
  kill9(): Promise<void>;
  /** Start again on the same port with the same store. */
  restart(): Promise<void>;
  /** End it (SIGKILL) and remove its store. */
  stop(): Promise<void>;
}

async function waitListening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts a server; call `stop()` when done (an `afterAll`). */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<TestNatsServer> {
  const binary = natsServerBinary();
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'taskwarden-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (!options.noJetStream) args.push('-js', '-sd', storeDir);
  if (options.maxPayload !== undefined) {
    const config = join(storeDir, 'server.conf');
    writeFileSync(config, `max_payload: ${options.maxPayload}\n`);
    args.push('-c', config);
  }
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async () => {
    const started = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4_000);
    });
    child = started;
    exited = new Promise((resolve) => started.once('exit', () => resolve()));
    try {
      await waitListening(port, 10_000);
    } catch (error) {
      started.kill('SIGKILL');
      throw new Error(`${(error as Error).message}; stderr: ${stderr}`);
    }
  };
  await launch();
  const kill9 = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return child?.pid as number;
    },
    kill9,
    restart: launch,
    stop: async () => {
      await kill9();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
