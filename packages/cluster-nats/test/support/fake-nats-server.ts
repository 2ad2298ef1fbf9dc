/**
 * A TCP server that speaks just enough NATS to be connected to: it announces whatever INFO it is
 * given (an old version, no JetStream) and answers PING. For the "server too old" checks, since the
 * only real server here is 2.9.10.
 */
import type { Server, Socket } from 'node:net';
import { createServer } from 'node:net';

export class FakeNatsServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  port = 0;

  private constructor(info: Record<string, unknown> | undefined) {
    this.#server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
      socket.on('error', () => undefined);
      if (!info) return; // silent: accepts and never speaks (a blackhole)
      socket.write(
        `INFO ${JSON.stringify({ server_id: 'FAKE', port: this.port, max_payload: 1_048_576, proto: 1, headers: true, ...info })}\r\n`,
      );
      socket.on('data', (chunk: Buffer) => {
        if (chunk.toString('utf8').includes('PING')) socket.write('PONG\r\n');
      });
    });
  }

  /** `info` undefined: never answers at all. */
  static async start(info?: Record<string, unknown>): Promise<FakeNatsServer> {
    const fake = new FakeNatsServer(info);
    await new Promise<void>((resolve) => fake.#server.listen(0, '127.0.0.1', resolve));
    const address = fake.#server.address();
    fake.port = typeof address === 'object' && address ? address.port : 0;
    return fake;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
