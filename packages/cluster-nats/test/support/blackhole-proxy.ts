/**
 * A TCP proxy between a client and a NATS server that can stop forwarding in both directions
 * without closing anything: to both ends the connection looks alive, nothing gets through (a
 * network partition). What either side sends meanwhile is held back; healing delivers it late, as a
 * real network would (the "late renewal" that must not resurrect a lease), even to a server whose
 * client has given up on that connection meanwhile.
 */
import type { Server, Socket } from 'node:net';
import { connect, createServer } from 'node:net';

interface Direction {
  readonly from: Socket;
  readonly to: Socket;
  readonly held: Buffer[];
  ended: boolean;
}

/** A proxy on a free loopback port. */
export class BlackholeProxy {
  readonly #server: Server;
  readonly #directions = new Set<Direction>();
  readonly #sockets = new Set<Socket>();
  #blackholed = false;
  port = 0;

  private constructor(targetPort: number) {
    this.#server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => this.#sockets.delete(socket));
      }
      this.#relay(client, upstream);
      this.#relay(upstream, client);
    });
  }

  #relay(from: Socket, to: Socket): void {
    const direction: Direction = { from, to, held: [], ended: false };
    this.#directions.add(direction);
    from.on('data', (chunk: Buffer) => {
      if (this.#blackholed) direction.held.push(chunk);
      else if (!to.destroyed) to.write(chunk);
    });
    from.on('close', () => {
      direction.ended = true;
      if (!this.#blackholed) {
        to.end();
        this.#directions.delete(direction);
      }
    });
  }

  /** Starts a proxy to `127.0.0.1:<targetPort>`. */
  static async start(targetPort: number): Promise<BlackholeProxy> {
    const proxy = new BlackholeProxy(targetPort);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    const address = proxy.#server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Stops forwarding: what either side sends is held back until {@link heal}. */
  blackhole(): void {
    this.#blackholed = true;
  }

  /** Forwards again, first delivering what was held back, late. */
  heal(): void {
    this.#blackholed = false;
    for (const direction of [...this.#directions]) {
      for (const chunk of direction.held.splice(0)) if (!direction.to.destroyed) direction.to.write(chunk);
      if (direction.ended) {
        direction.to.end();
        this.#directions.delete(direction);
      }
    }
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
