import type { Logger } from '@taskwarden/sdk';
import type { AgentDirectory } from './agent-directory.js';
import { TEXT_LIMITS } from './serialize/limits.js';
import { errorSummary } from './serialize/safe-json.js';
import { type AgentsResult, agentsView } from './serialize/views.js';

/**
 * Reads an {@link AgentDirectory} with a deadline. Calls that overlap share one read; a directory
 * that throws, rejects, hangs or returns something else than a list gives `{ agentsError }`, logged
 * once per distinct message. @internal
 */
export class AgentsReader {
  readonly #directory: AgentDirectory;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  #inFlight: Promise<AgentsResult> | undefined;
  #lastError: string | undefined;

  constructor(directory: AgentDirectory, timeoutMs: number, logger: Logger) {
    this.#directory = directory;
    this.#timeoutMs = timeoutMs;
    this.#logger = logger;
  }

  /** The agents now, or why they cannot be shown. Never rejects. */
  read(): Promise<AgentsResult> {
    this.#inFlight ??= this.#read().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #read(): Promise<AgentsResult> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`agents() did not answer within ${this.#timeoutMs} ms`)),
          this.#timeoutMs,
        );
        timer.unref();
      });
      const agents = await Promise.race([Promise.resolve().then(() => this.#directory.agents()), deadline]);
      const result = { agents: agentsView(agents) };
      this.#lastError = undefined;
      return result;
    } catch (error) {
      const { message } = errorSummary(error, TEXT_LIMITS.message);
      if (message !== this.#lastError) {
        this.#lastError = message;
        try {
          this.#logger.warn({ err: error }, 'inspector: the agents directory failed');
        } catch {
          /* a logger that throws changes nothing here */
        }
      }
      return { agentsError: message };
    } finally {
      clearTimeout(timer);
    }
  }
}
