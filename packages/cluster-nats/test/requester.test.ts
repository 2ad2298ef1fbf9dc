import type { NatsConnection } from '@nats-io/transport-node';
import { connect, RequestError } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNoResponders, isTimeout } from '../src/nats/cas-errors.js';
import { Requester } from '../src/nats/requester.js';
import type { TestNatsServer } from './support/nats-server.js';
import { startNatsServer } from './support/nats-server.js';

describe('requester: request/reply with one reply subscription and one deadline timer', () => {
  let server: TestNatsServer;
  let responder: NatsConnection;
  let client: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer({ noJetStream: true });
    [responder, client] = await Promise.all([
      connect({ servers: server.url }),
      connect({ servers: server.url }),
    ]);
    // Echoes, the later requests first: replies must find their own request, not the next in line.
    const held: Array<() => void> = [];
    responder.subscribe('echo.reversed', {
      callback: (_error, msg) => {
        held.push(() => msg.respond(msg.data));
        if (held.length === 50) for (const reply of held.splice(0).reverse()) reply();
      },
    });
    responder.subscribe('echo.late', {
      callback: (_error, msg) => {
        setTimeout(() => msg.respond(msg.data), 300);
      },
    });
    await responder.flush();
  }, 30_000);

  afterAll(async () => {
    await Promise.all([responder?.close(), client?.close()]);
    await server?.stop();
  });

  it('each reply resolves its own request, with many in flight answered out of order', async () => {
    const requester = new Requester(client);
    const payloads = Array.from({ length: 50 }, (_, i) => Uint8Array.of(i, 255 - i));
    const replies = await Promise.all(
      payloads.map((payload) => requester.request('echo.reversed', payload, 5_000)),
    );
    expect(replies.map((msg) => [...msg.data])).toEqual(payloads.map((payload) => [...payload]));
    expect(requester.pending).toBe(0);
    requester.close();
  });

  it('a subject nobody listens on fails at once with no responders (the offer reached no one)', async () => {
    const requester = new Requester(client);
    const started = performance.now();
    const error = await requester.request('nobody.here', Uint8Array.of(1), 5_000).catch((e: unknown) => e);
    expect(isNoResponders(error)).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
    requester.close();
  });

  it('no reply within the timeout fails with a timeout; the reply that comes later changes nothing', async () => {
    const requester = new Requester(client);
    const error = await requester.request('echo.late', Uint8Array.of(1), 100).catch((e: unknown) => e);
    expect(isTimeout(error)).toBe(true);
    expect(requester.pending).toBe(0);
    // The late reply arrives while the next request is out: it must not answer that one.
    const next = requester.request('echo.late', Uint8Array.of(2), 5_000);
    const reply = await next;
    expect([...reply.data]).toEqual([2]);
    requester.close();
  });

  it('closing fails what is in flight and every later request', async () => {
    const requester = new Requester(client);
    const inFlight = requester.request('echo.late', Uint8Array.of(1), 5_000);
    requester.close();
    await expect(inFlight).rejects.toBeInstanceOf(RequestError);
    await expect(requester.request('echo.late', Uint8Array.of(1), 5_000)).rejects.toBeInstanceOf(
      RequestError,
    );
    expect(requester.pending).toBe(0);
  });
});
