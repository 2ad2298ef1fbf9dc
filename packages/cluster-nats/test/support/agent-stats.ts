/** Asking agents what they run, over the cluster's own control subject (`stats`). */
import { connect } from '@nats-io/transport-node';
import { decode, encode } from '../../src/protocol/codec.js';
import type { StatsReply } from '../../src/protocol/messages.js';
import { ClusterNames } from '../../src/protocol/subjects.js';
import { isStatsReply } from '../../src/protocol/validate.js';

/** Each agent's stats (running tasks, child pids), asked over NATS. */
export async function agentStats(
  servers: string,
  cluster: string,
  agents: readonly string[],
): Promise<StatsReply[]> {
  const nc = await connect({ servers });
  try {
    const names = new ClusterNames(cluster);
    return await Promise.all(
      agents.map(async (agent) => {
        const reply = decode(
          (await nc.request(names.agentControl(agent), encode({ t: 'stats' }), { timeout: 2_000 })).data,
        );
        if (!isStatsReply(reply)) throw new Error(`agent ${agent} sent no stats`);
        return reply;
      }),
    );
  } finally {
    await nc.close();
  }
}
