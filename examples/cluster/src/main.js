// taskwarden across machines, on one machine: a local nats-server, two agents (taskwarden-agent
// processes), and this process as the coordinator. A job of tasks runs on both agents; one agent is
// SIGKILLed mid-run (its tasks end FAILED with AgentLostError once its lease is taken over, and the
// task that was waiting runs on the other agent); a deaf task is cancelled and stopped hard on its
// agent. Prints a timeline and a summary with the bounds that held.
//
// Run it with `npm run demo:cluster` from the repository root. It needs nats-server (2.9 or later).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentLostError, DETECTION_TICK_MS, NatsClusterExecutor } from '@taskwarden/cluster-nats';
import { createRuntime, EmitOnlyFatalErrorHandler } from '@taskwarden/sdk';
import pino from 'pino';

const LEASE_MS = 2_000;
const GRACE_MS = 500;
const KILL_GRACE_MS = 300;
const started = performance.now();
const elapsed = () => String(Math.round(performance.now() - started)).padStart(6);
const say = (text) => console.log(`${elapsed()} ms  ${text}`);
const task = (name) => ({ module: fileURLToPath(new URL(`../tasks/${name}.mjs`, import.meta.url)) });

function findNatsServer() {
  for (const candidate of [
    process.env.NATS_SERVER,
    'nats-server',
    '/usr/sbin/nats-server',
    '/usr/local/bin/nats-server',
  ]) {
    if (candidate && spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  console.error(
    [
      'nats-server was not found (this demo starts one on a free local port).',
      'Install it, then run the demo again:',
      '  Debian or Ubuntu:  sudo apt-get install -y nats-server',
      '  macOS (Homebrew):  brew install nats-server',
      '  elsewhere:         a release binary from https://github.com/nats-io/nats-server/releases',
      'or point NATS_SERVER at the binary. Version 2.9 or later is needed.',
    ].join('\n'),
  );
  process.exit(1);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function listening(port) {
  for (let attempt = 0; attempt < 500; attempt++) {
    const ok = await new Promise((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => resolve(socket.destroy() || true)).once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nats-server did not listen on ${port}`);
}

const exited = (child) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', resolve));

// 1. A nats-server of our own, with JetStream and a temporary store.
const natsServer = findNatsServer();
const port = await freePort();
const store = mkdtempSync(join(tmpdir(), 'taskwarden-demo-nats-'));
const server = spawn(natsServer, ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port)], {
  stdio: 'ignore',
});
await listening(port);
const servers = `nats://127.0.0.1:${port}`;
say(
  `nats-server ${spawnSync(natsServer, ['--version'], { encoding: 'utf8' }).stdout.trim()} on ${servers} (pid ${server.pid})`,
);

// 2. Two agents, each a taskwarden-agent process running tasks in child processes.
const cli = join(
  dirname(createRequire(import.meta.url).resolve('@taskwarden/cluster-nats/package.json')),
  'dist/cli.js',
);
const agents = new Map();
for (const name of ['agent-1', 'agent-2']) {
  const child = spawn(
    process.execPath,
    [
      cli,
      '--servers',
      servers,
      '--name',
      name,
      '--capacity',
      '2',
      '--executor',
      'process',
      '--lease-ms',
      String(LEASE_MS),
      '--kill-grace-ms',
      String(KILL_GRACE_MS),
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  agents.set(child.pid, { name, child });
}

// 3. This process is the coordinator: a runtime whose tasks run on the agents.
const remote = new NatsClusterExecutor({
  servers,
  agentExecutor: 'process',
  leaseMs: LEASE_MS,
  logger: pino({ level: 'silent' }),
});
const runtime = createRuntime({
  numberOfSlots: 1,
  executors: { remote },
  defaultExecutor: 'remote',
  cancellation: { interruptIntervalMs: 5_000, gracePeriodMs: GRACE_MS, timeoutMs: 10_000 },
  fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
  logger: pino({ level: 'silent' }),
});
runtime.events.on('taskStateChanged', ({ task: t, from, to }) => say(`${t.name.padEnd(10)} ${from} → ${to}`));
runtime.slotTable.allocateSlot({ index: 0, jobId: 'images', allocationId: 'slot-1' });
runtime.slotTable.markSlotActive('slot-1');
await remote.connect();
while (remote.stats.agents < 2) await new Promise((resolve) => setTimeout(resolve, 20));
say('both agents serve the queue');

const submit = (name, invokable, input) =>
  runtime.submit({ jobId: 'images', allocationId: 'slot-1', name, executionId: name, invokable, input });
const tasks = [
  submit('resize-1', task('resize'), { file: 'a.png', ms: 2_500 }),
  submit('resize-2', task('resize'), { file: 'b.png', ms: 2_500 }),
  submit('resize-3', task('resize'), { file: 'c.png', ms: 2_500 }),
  submit('deaf', task('deaf'), { whereFile: join(store, 'deaf.json') }),
  submit('resize-4', task('resize'), { file: 'd.png', ms: 500 }),
];
const waiting = tasks[4];
while (tasks.slice(0, 4).some((t) => t.state !== 'RUNNING'))
  await new Promise((resolve) => setTimeout(resolve, 10));
say('four tasks run on two agents; resize-4 waits for capacity (DEPLOYING)');

// 4. SIGKILL one agent mid-run: not the one running the deaf task (that one is cancelled below).
while (!existsSync(join(store, 'deaf.json'))) await new Promise((resolve) => setTimeout(resolve, 10));
const deafWhere = JSON.parse(readFileSync(join(store, 'deaf.json'), 'utf8'));
const deafAgentPid = deafWhere.agentPid;
const victimPid = [...agents.keys()].find((pid) => pid !== deafAgentPid);
const victim = agents.get(victimPid);
const killedAt = performance.now();
victim.child.kill('SIGKILL');
say(`${victim.name} SIGKILLed (pid ${victimPid}) while running tasks`);
const lostAfter = [];
for (const t of tasks.slice(0, 4)) {
  t.done.then((outcome) => {
    if (outcome.error instanceof AgentLostError) lostAfter.push(performance.now() - killedAt);
  });
}

// 5. Cancel the deaf task: its signal is ignored, so after gracePeriodMs it is stopped hard there.
const deaf = tasks[3];
const cancelledAt = performance.now();
deaf.cancel();
const deafOutcome = await deaf.done;
const deafMs = performance.now() - cancelledAt;
say(
  `deaf       ended ${deafOutcome.state} ${Math.round(deafMs)} ms after the cancel (stopped hard on its agent)`,
);

const outcomes = await Promise.all(tasks.map((t) => t.done));
await runtime.close();

// 6. The summary.
const agentOf = (outcome, index) =>
  outcome.error instanceof AgentLostError
    ? outcome.error.agent
    : (agents.get(index === 3 ? deafAgentPid : outcome.result?.agentPid)?.name ?? '-');
console.log('\nsummary');
console.log(`  ${'task'.padEnd(10)} ${'state'.padEnd(9)} ${'agent'.padEnd(8)} detail`);
tasks.forEach((t, index) => {
  const outcome = outcomes[index];
  const detail = outcome.error
    ? `${outcome.error.code ?? outcome.error.name}: ${outcome.error.message}`
    : `${outcome.result?.file} done`;
  console.log(
    `  ${t.name.padEnd(10)} ${outcome.state.padEnd(9)} ${agentOf(outcome, index).padEnd(8)} ${detail.slice(0, 90)}`,
  );
});
const lostBound = LEASE_MS + DETECTION_TICK_MS;
const cancelBound = GRACE_MS + KILL_GRACE_MS + 250;
const worstLost = Math.round(Math.max(...lostAfter, 0));
console.log('\nbounds');
console.log(
  `  ${victim.name} SIGKILLed → its tasks ended FAILED (AGENT_LOST) after ≤ ${worstLost} ms; bound leaseMs + tick = ${lostBound} ms: ${worstLost <= lostBound + 500 ? 'held' : 'MISSED'}`,
);
console.log(
  `  deaf task cancelled → CANCELED after ${Math.round(deafMs)} ms; bound gracePeriodMs + killGraceMs + reaping = ${cancelBound} ms (+ network): ${deafMs <= cancelBound + 500 ? 'held' : 'MISSED'}`,
);
console.log(
  `  resize-4 waited while both agents were full, then ran on ${agentOf(outcomes[4], 4)}: ${waiting.state}`,
);

// 7. Clean up: drain the surviving agent (it exits 0), stop the server, leave nothing behind.
const survivor = [...agents.values()].find((agent) => agent !== victim);
survivor.child.kill('SIGTERM');
await exited(survivor.child);
await exited(victim.child);
server.kill('SIGKILL');
await exited(server);
rmSync(store, { recursive: true, force: true });
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
};
const left = [server.pid, ...agents.keys(), deafWhere.pid].filter(alive);
console.log(
  `\nclosed: ${survivor.name} drained and exited with code ${survivor.child.exitCode}; nats-server stopped; ` +
    (left.length === 0 ? 'nothing left running' : `STILL RUNNING: ${left.join(', ')}`),
);
if (left.length > 0) process.exitCode = 1;
