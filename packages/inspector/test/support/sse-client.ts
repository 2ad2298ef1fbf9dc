import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { until } from '@taskwarden/sdk/testing';

/** One server-sent event as received. */
export interface SseMessage {
  event: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read event fields one by one
  data: any;
}

/**
 * A minimal `text/event-stream` reader for tests: it parses every message (and counts comment lines)
 * so a test can wait for the one it expects.
 */
export class SseClient {
  readonly messages: SseMessage[] = [];
  comments = 0;
  status = 0;
  closed = false;
  readonly #request: ClientRequest;
  #response: IncomingMessage | undefined;
  #buffer = '';

  private constructor(request: ClientRequest) {
    this.#request = request;
  }

  /** Opens `GET url` and resolves once the status line is in. */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, {
        headers: { Accept: 'text/event-stream', ...headers },
        agent: false,
      });
      const client = new SseClient(request);
      request.on('error', (error) => {
        client.closed = true;
        if (client.status === 0) reject(error);
      });
      request.on('response', (response) => {
        client.#response = response;
        client.status = response.statusCode ?? 0;
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => client.#parse(chunk));
        response.on('close', () => {
          client.closed = true;
        });
        response.on('error', () => {
          client.closed = true;
        });
        resolve(client);
      });
      request.end();
    });
  }

  /** The messages named `event`. */
  named(event: string): SseMessage[] {
    return this.messages.filter((message) => message.event === event);
  }

  /** Waits for a message that satisfies `predicate`, and returns it. */
  async next(predicate: (message: SseMessage) => boolean, what: string, ms = 10_000): Promise<SseMessage> {
    await until(() => this.messages.some(predicate), what, ms);
    return this.messages.find(predicate) as SseMessage;
  }

  /** Closes the connection from the client's side. */
  close(): void {
    this.#response?.destroy();
    this.#request.destroy();
  }

  #parse(chunk: string): void {
    this.#buffer += chunk;
    let end = this.#buffer.indexOf('\n\n');
    while (end !== -1) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments += 1;
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.messages.push({ event, data: JSON.parse(data.join('\n')) });
      end = this.#buffer.indexOf('\n\n');
    }
  }
}
