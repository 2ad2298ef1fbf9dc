/**
 * Where a worker thread is stuck, read from the host through the inspector.
 *
 * An inspector session inside the worker cannot help while the worker's JavaScript is busy, and
 * `Session#connectToMainThread` reaches the main thread only. The host's own main thread is not
 * blocked, so it opens an in-process session, attaches to the worker target through the
 * `NodeWorker` domain and sends it `Debugger.enable` + `Debugger.pause`. V8 services the pause as
 * an interrupt, so it lands even inside a `for (;;)` loop or `Atomics.wait`; the call frames of
 * `Debugger.paused` are the stack. Then `Debugger.resume` + `Debugger.disable` and the session is
 * closed, which detaches: the worker goes on as before.
 *
 * When the worker runs no JavaScript (it awaits a timer, I/O or a promise) the pause never lands;
 * after `pauseWaitMs` that is what the report says, and the pending pause is dropped by
 * `Debugger.disable`. A worker inside a synchronous native call (`execFileSync`, a blocking read)
 * services no inspector message at all; after `answerWaitMs` the report says that.
 * @internal
 * @module
 */

/** Options of {@link captureWorkerStack}. */
export interface CaptureWorkerStackOptions {
  /** Bound on the whole capture. */
  readonly timeoutMs: number;
  /** How long to wait for the pause to land before reporting that no JavaScript runs. */
  readonly pauseWaitMs: number;
  /**
   * How long to wait for the thread to answer at all. A thread that does not answer is not
   * servicing interrupts: it is inside a synchronous native call.
   */
  readonly answerWaitMs: number;
  /** Ends the capture early with its value (the thread exited meanwhile). */
  readonly cutShort?: Promise<string>;
}

interface CallFrame {
  readonly functionName: string;
  readonly location: {
    readonly scriptId: string;
    readonly lineNumber: number;
    readonly columnNumber: number;
  };
  readonly url?: string;
}

interface WorkerReply {
  readonly id?: number;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  readonly error?: { readonly message: string };
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(resolve, ms, undefined).unref());
}

/** Formats frames the way V8 prints a stack: `    at fn (url:line:column)`. */
function formatFrames(frames: readonly CallFrame[], urls: ReadonlyMap<string, string>): string {
  return frames
    .map((frame) => {
      const url = urls.get(frame.location.scriptId) || frame.url || `<script ${frame.location.scriptId}>`;
      const where = `${url}:${frame.location.lineNumber + 1}:${frame.location.columnNumber + 1}`;
      return frame.functionName ? `    at ${frame.functionName} (${where})` : `    at ${where}`;
    })
    .join('\n');
}

/**
 * The JavaScript stack of the worker thread `threadId` of this process, as text; or a sentence
 * saying why there is none. Never rejects.
 */
export async function captureWorkerStack(
  threadId: number,
  options: CaptureWorkerStackOptions,
): Promise<string> {
  let inspector: typeof import('node:inspector');
  try {
    inspector = await import('node:inspector');
  } catch (error) {
    return `diagnostics unavailable: this Node.js has no inspector (${(error as Error).message})`;
  }
  const session = new inspector.Session();
  let timer: NodeJS.Timeout | undefined;
  try {
    session.connect();
    // After a timeout the session is closed under the capture; its late failure is not news.
    const capture = captureWith(session, threadId, options).catch(
      (error: unknown) => `diagnostics unavailable: ${(error as Error).message}`,
    );
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(resolve, options.timeoutMs, `diagnostics timed out after ${options.timeoutMs} ms`);
      timer.unref();
    });
    return await Promise.race(options.cutShort ? [capture, timeout, options.cutShort] : [capture, timeout]);
  } catch (error) {
    return `diagnostics unavailable: ${(error as Error).message}`;
  } finally {
    clearTimeout(timer);
    try {
      session.disconnect();
    } catch {
      /* already closed */
    }
  }
}

async function captureWith(
  session: import('node:inspector').Session,
  threadId: number,
  options: CaptureWorkerStackOptions,
): Promise<string> {
  const hostCall = (method: string, params: object): Promise<unknown> =>
    new Promise((resolve, reject) => {
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result)));
    });

  let sessionId: string | undefined;
  const urls = new Map<string, string>();
  const replies = new Map<number, (reply: WorkerReply) => void>();
  let onPaused: ((frames: readonly CallFrame[]) => void) | undefined;
  let nextId = 1;

  // `workerId` is the session's own numbering; the title is `[worker <threadId>]`, plus the name.
  const title = `[worker ${threadId}]`;
  session.on(
    'NodeWorker.attachedToWorker',
    (message: { params: { sessionId: string; workerInfo: { title: string } } }) => {
      const workerTitle = message.params.workerInfo.title;
      if (workerTitle === title || workerTitle.startsWith(`${title} `)) sessionId = message.params.sessionId;
    },
  );
  session.on(
    'NodeWorker.receivedMessageFromWorker',
    (message: { params: { sessionId: string; message: string } }) => {
      if (message.params.sessionId !== sessionId) return;
      const reply = JSON.parse(message.params.message) as WorkerReply;
      if (reply.id !== undefined) {
        replies.get(reply.id)?.(reply);
        replies.delete(reply.id);
      } else if (reply.method === 'Debugger.scriptParsed') {
        const { scriptId, url } = reply.params as { scriptId: string; url: string };
        if (url) urls.set(scriptId, url);
      } else if (reply.method === 'Debugger.paused') {
        onPaused?.((reply.params as { callFrames: CallFrame[] }).callFrames);
      }
    },
  );
  const workerCall = (method: string, params: object = {}): Promise<WorkerReply> =>
    new Promise((resolve) => {
      const id = nextId++;
      replies.set(id, resolve);
      session.post('NodeWorker.sendMessageToWorker', {
        sessionId,
        message: JSON.stringify({ id, method, params }),
      });
    });

  // Attach events arrive before the reply to `enable`.
  await hostCall('NodeWorker.enable', { waitForDebuggerOnStart: false });
  if (sessionId === undefined) return `diagnostics unavailable: worker thread ${threadId} is not attachable`;

  const enabled = await Promise.race([workerCall('Debugger.enable'), delay(options.answerWaitMs)]);
  if (enabled === undefined) {
    return (
      `worker thread ${threadId} does not answer the inspector within ${options.answerWaitMs} ms: it ` +
      'is blocked in a synchronous native call (no JavaScript stack can be read)'
    );
  }
  if (enabled.error) return `diagnostics unavailable: ${enabled.error.message}`;
  const paused = new Promise<readonly CallFrame[] | undefined>((resolve) => {
    onPaused = resolve;
    setTimeout(resolve, options.pauseWaitMs, undefined).unref();
  });
  await workerCall('Debugger.pause');
  const frames = await paused;
  onPaused = undefined;
  if (frames) await workerCall('Debugger.resume');
  await workerCall('Debugger.disable');
  if (!frames) {
    return (
      `no JavaScript is running on worker thread ${threadId}: the task waits for a timer, I/O or a ` +
      'promise (no stack to show)'
    );
  }
  return `worker thread ${threadId}:\n${formatFrames(frames, urls)}`;
}
