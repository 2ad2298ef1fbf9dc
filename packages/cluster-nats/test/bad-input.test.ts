import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import {
  ClusterUnreachableError,
  NatsClusterExecutor,
  startAgent,
  UnsupportedServerError,
} from '@taskwarden/cluster-nats';
import { InlineExecutor, WorkerExecutor } from '@taskwarden/executor-local';
import { ProcessExecutor } from '@taskwarden/executor-process';
import { createRuntime, EmitOnlyFatalErrorHandler, SerializationError } from '@taskwarden/sdk';
import { captureLogger } from '@taskwarden/sdk/testing';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../src/protocol/codec.js';
import { ClusterNames } from '../src/protocol/subjects.js';
import { fixture, useCluster } from './support/cluster-harness.js';
import { FakeNatsServer } from './support/fake-nats-server.js';
import { freePort, startNatsServer, type TestNatsServer } from './support/nats-server.js';

const silent = pino({ level: 'silent' });

describe('bad input gets a typed error and loses nothing', () => {
  describe('servers that cannot serve the cluster', () => {
    it('unreachable servers: connect() and the task fail at once with ClusterUnreachableError naming them', async () => {
      const servers = [`nats://127.0.0.1:${await freePort()}`, `nats://127.0.0.1:${await freePort()}`];
      const remote = new NatsClusterExecutor({ servers, logger: silent });
      const error = await remote.connect().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ClusterUnreachableError);
      expect(error).toMatchObject({ code: 'CLUSTER_UNREACHABLE', servers });
      for (const server of servers) expect((error as Error).message).toContain(server);

      const runtime = createRuntime({
        numberOfSlots: 1,
        executors: { remote },
        fatalErrorHandler: new EmitOnlyFatalErrorHandler(),
        logger: silent,
      });
      runtime.slotTable.allocateSlot({ index: 0, jobId: 'j', allocationId: 's' });
      runtime.slotTable.markSlotActive('s');
      const outcome = await runtime.submit({
        jobId: 'j',
        allocationId: 's',
        invokable: { module: fixture('echo.mjs') },
      }).done;
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toBeInstanceOf(ClusterUnreachableError);
      await runtime.close();

      const agentError = await startAgent({
        servers,
        executors: { worker: new WorkerExecutor() },
        logger: silent,
      }).catch((caught: unknown) => caught);
      expect(agentError).toBeInstanceOf(ClusterUnreachableError);
    });

    it('a server that accepts connections but never answers: refused within connectTimeoutMs, no hang', async () => {
      const blackhole = await FakeNatsServer.start();
      try {
        const startedAt = Date.now();
        const remote = new NatsClusterExecutor({
          servers: blackhole.url,
          connectTimeoutMs: 500,
          logger: silent,
        });
        await expect(remote.connect()).rejects.toBeInstanceOf(ClusterUnreachableError);
        expect(Date.now() - startedAt).toBeLessThan(5_000);
        await remote.close();
      } finally {
        await blackhole.close();
      }
    });

    it('a server older than 2.9.0 is refused at start with the version it reported', async () => {
      const old = await FakeNatsServer.start({ version: '2.8.4', jetstream: true });
      try {
        const remote = new NatsClusterExecutor({ servers: old.url, logger: silent });
        const error = await remote.connect().catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(UnsupportedServerError);
        expect(error).toMatchObject({ code: 'UNSUPPORTED_SERVER', version: '2.8.4', jetstream: true });
        expect((error as Error).message).toContain('older than the minimum 2.9.0');
        const agentError = await startAgent({
          servers: old.url,
          executors: { worker: new WorkerExecutor() },
          logger: silent,
        }).catch((caught: unknown) => caught);
        expect(agentError).toMatchObject({ code: 'UNSUPPORTED_SERVER', version: '2.8.4' });
      } finally {
        await old.close();
      }
    });

    describe('a real server without JetStream', () => {
      let plain: TestNatsServer | undefined;
      beforeAll(async () => {
        plain = await startNatsServer({ noJetStream: true });
      });
      afterAll(async () => {
        await plain?.stop();
      });

      it('is refused at start, naming its version and the missing JetStream', async () => {
        const remote = new NatsClusterExecutor({ servers: (plain as TestNatsServer).url, logger: silent });
        const error = await remote.connect().catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(UnsupportedServerError);
        expect(error).toMatchObject({ jetstream: false, version: '2.9.10' });
        expect((error as Error).message).toContain('has no JetStream');
      });
    });
  });

  describe('settings', () => {
    it('a lease that cannot hold the fencing margin is refused with the numbers, before connecting', async () => {
      const error = await startAgent({
        servers: 'nats://127.0.0.1:1',
        leaseMs: 600,
        executors: { process: new ProcessExecutor({ hostLease: true, killGraceMs: 500 }) },
        logger: silent,
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(RangeError);
      const message = (error as Error).message;
      expect(message).toContain('leaseMs 600 cannot hold the fencing margin');
      expect(message).toContain('1000 ms'); // killGraceMs 500 + 500: the process executor's hardStopMs
      expect(message).toContain('leaseMs >= 1300');
    });

    it('executors an agent cannot fence with are refused', async () => {
      await expect(
        startAgent({
          servers: 'nats://127.0.0.1:1',
          executors: { inline: new InlineExecutor() },
          logger: silent,
        }),
      ).rejects.toThrow(/cannot stop work hard/);
      await expect(
        startAgent({
          servers: 'nats://127.0.0.1:1',
          executors: { process: new ProcessExecutor() },
          logger: silent,
        }),
      ).rejects.toThrow(/hostLease: true/);
    });

    it('bad options are TypeErrors or RangeErrors naming the option', async () => {
      expect(() => new NatsClusterExecutor({ servers: [] })).toThrow(/servers/);
      expect(() => new NatsClusterExecutor({ servers: 'nats://x', queue: 'a.b' })).toThrow(/options.queue/);
      expect(() => new NatsClusterExecutor({ servers: 'nats://x', leaseMs: 10 })).toThrow(RangeError);
      expect(() => new NatsClusterExecutor({ servers: 'nats://x', leaseMS: 10 } as never)).toThrow(
        /unknown option leaseMS/,
      );
      await expect(startAgent({ servers: 'nats://x', executors: {}, logger: silent })).rejects.toThrow(
        /options.executors/,
      );
      await expect(
        startAgent({
          servers: 'nats://x',
          capacity: 0,
          executors: { worker: new WorkerExecutor() },
          logger: silent,
        }),
      ).rejects.toThrow(/options.capacity/);
    });
  });

  describe('tasks and messages', () => {
    const cluster = useCluster({ maxPayload: 64 * 1024 });

    it('timings whose timeoutMs cannot cover gracePeriodMs + the lease + the detection tick are refused at submit', async () => {
      const name = cluster.newCluster();
      const { runtime } = cluster.coordinator({ cluster: name });
      expect(() =>
        runtime.submit({
          jobId: 'job',
          allocationId: 'slot',
          invokable: { module: fixture('echo.mjs') },
          cancellation: { gracePeriodMs: 1_000, timeoutMs: 2_000 },
        }),
      ).toThrow(/timeoutMs/);
    });

    it("a module missing on the agent: FAILED with the agent's error naming it", async () => {
      const name = cluster.newCluster();
      await cluster.startAgent({ cluster: name, name: 'a1' });
      const { submit } = cluster.coordinator({ cluster: name });
      const outcome = await submit('/nowhere/on/the/agent/task.mjs').done;
      expect(outcome.state).toBe('FAILED');
      expect(outcome.error).toMatchObject({ name: 'InvalidInvokableError', code: 'INVALID_INVOKABLE' });
      expect(outcome.error?.message).toContain('/nowhere/on/the/agent/task.mjs');
    });

    it('an input or result above the server maximum payload fails its task with SerializationError; the next runs', async () => {
      const name = cluster.newCluster();
      await cluster.startAgent({ cluster: name, name: 'a1' });
      const { submit } = cluster.coordinator({ cluster: name });
      const bigInput = await submit(fixture('echo.mjs'), 'x'.repeat(100 * 1024)).done;
      expect(bigInput.state).toBe('FAILED');
      expect(bigInput.error).toBeInstanceOf(SerializationError);
      expect(bigInput.error).toMatchObject({ what: 'input' });
      const bigResult = await submit(fixture('big-result.mjs'), { bytes: 100 * 1024 }).done;
      expect(bigResult.state).toBe('FAILED');
      expect(bigResult.error).toMatchObject({ name: 'SerializationError', what: 'result' });
      expect(await submit(fixture('echo.mjs'), 'small').done).toMatchObject({ state: 'FINISHED' });
    });

    it('garbage from a stranger on every subject and in both buckets is ignored and logged, never a crash', async () => {
      const name = cluster.newCluster();
      const agent = await cluster.startAgent({ cluster: name, name: 'a1' });
      const captured = captureLogger('warn');
      const { submit, executor } = cluster.coordinator({ cluster: name, logger: captured.logger });
      await executor.connect();
      const names = new ClusterNames(name);
      const stranger = await connect({ servers: cluster.server.url });
      try {
        const garbage = [
          new Uint8Array([1, 2, 3]),
          Buffer.from('{"t":"offer"}'),
          encode({ t: 'offer', tasks: 'nope' }),
          encode({ t: 'report', agent: 'a1', agentEpoch: 'x', free: 1, events: [{ id: 1 }] }),
          encode(null),
          encode({ t: 'live?', tasks: [[1, 2]] }),
          encode({ t: 'control', op: 'explode', coordinator: 'x', id: 'y', token: 1 }),
        ];
        const subjects = [
          names.agentOffer('a1'),
          names.agentControl('a1'),
          names.coordinatorReport(executor.id),
          names.coordinatorLive(executor.id),
          names.free('default'),
        ];
        const requests: Promise<unknown>[] = [];
        for (const subject of subjects) {
          for (const payload of garbage) {
            stranger.publish(subject, payload);
            requests.push(stranger.request(subject, payload, { timeout: 200 }).catch(() => undefined));
          }
        }
        await Promise.all(requests);
        const kvm = new Kvm(jetstream(stranger));
        const leases = await kvm.open(names.leasesBucket);
        const tasks = await kvm.open(names.tasksBucket);
        await leases.put('a.stranger', 'not a lease');
        await leases.put('c.stranger', '{"v":1,"kind":"coordinator"}');
        await tasks.put('Z2FyYmFnZQ', 'not a task record');
        await stranger.flush();

        expect(await submit(fixture('echo.mjs'), 'still fine').done).toMatchObject({ state: 'FINISHED' });
        expect(agent.alive).toBe(true);
        expect(captured.lines.some((line) => String(line.msg).includes('ignored a malformed message'))).toBe(
          true,
        );
        expect(agent.lines.some((line) => String(line.msg).includes('ignored a malformed message'))).toBe(
          true,
        );
      } finally {
        await stranger.close();
      }
    });
  });
});
