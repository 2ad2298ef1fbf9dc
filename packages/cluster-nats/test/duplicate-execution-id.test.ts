import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { taskKey } from '../src/protocol/subjects.js';
import { fixture, readLines, useCluster } from './support/cluster-harness.js';
import { sleep, until } from './support/pids.js';

describe('duplicate execution ids are refused cluster-wide', () => {
  const cluster = useCluster();

  it('a second live task with the same id from another coordinator is refused before it starts; the first is untouched', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1', capacity: 2 });
    const first = cluster.coordinator({ cluster: name });
    const second = cluster.coordinator({ cluster: name });
    const log = cluster.pidFile();
    const original = first.submit(fixture('sleeper.mjs'), { log, ms: 800 }, { executionId: 'shared-id' });
    await until(
      () => readLines(log).some((line) => line.event === 'start'),
      'the first task to start',
      15_000,
    );

    const duplicate = second.submit(fixture('sleeper.mjs'), { log, ms: 0 }, { executionId: 'shared-id' });
    const refused = await duplicate.done;
    expect(refused.state).toBe('FAILED');
    expect(refused.error).toMatchObject({ name: 'TaskSubmissionError', code: 'DUPLICATE_EXECUTION_ID' });
    expect(refused.error?.message).toContain(first.executor.id);

    expect(await original.done).toMatchObject({ state: 'FINISHED', result: 'shared-id' });
    expect(readLines(log).filter((line) => line.event === 'start')).toHaveLength(1);

    // Once the first is done, the id may be used again, from any coordinator (a retry).
    expect(
      await second.submit(fixture('sleeper.mjs'), { log, ms: 0 }, { executionId: 'shared-id' }).done,
    ).toMatchObject({
      state: 'FINISHED',
    });
    expect(readLines(log).filter((line) => line.event === 'start')).toHaveLength(2);
  });

  it('an id held by a coordinator that is gone (its lease released or taken over) is taken over by compare-and-set', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1' });
    const dead = cluster.coordinator({ cluster: name });
    const log = cluster.pidFile();
    const orphan = dead.submit(fixture('cooperative.mjs'), { log }, { executionId: 'inherited' });
    await until(() => readLines(log).some((line) => line.event === 'start'), 'the task to start', 15_000);
    // Closing releases the lease: agents stop the task; its record is left behind.
    await dead.close();
    expect((await orphan.done).state).toBe('CANCELED');
    const heir = cluster.coordinator({ cluster: name });
    expect(
      await heir.submit(fixture('echo.mjs'), 'mine now', { executionId: 'inherited' }).done,
    ).toMatchObject({
      state: 'FINISHED',
    });
  });

  it('an id whose record was deleted (a delete marker is left) is registered by compare-and-set on the marker', async () => {
    const name = cluster.newCluster();
    await cluster.startAgent({ cluster: name, name: 'a1' });
    const coordinator = cluster.coordinator({ cluster: name });
    expect(
      await coordinator.submit(fixture('echo.mjs'), 'first', { executionId: 'marked' }).done,
    ).toMatchObject({
      state: 'FINISHED',
    });
    const nc = await connect({ servers: cluster.server.url });
    try {
      const tasks = await new Kvm(nc).open(`${name}-tasks`);
      await tasks.delete(taskKey('marked'));
      expect((await tasks.get(taskKey('marked')))?.operation).toBe('DEL');
    } finally {
      await nc.close();
    }
    // A create is refused on a key with any message, a marker too: the marker's revision is taken.
    const again = coordinator.submit(fixture('echo.mjs'), 'second', { executionId: 'marked' });
    const outcome = await Promise.race([again.done, sleep(10_000).then(() => 'still waiting')]);
    expect(outcome).toMatchObject({ state: 'FINISHED', result: { input: 'second' } });
  });
});
