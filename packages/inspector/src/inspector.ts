/** Counters of an {@link Inspector}'s event streams, for monitoring and tests. */
export interface InspectorStats {
  /** Event streams open now. */
  readonly openStreams: number;
  /** Event streams refused with 503 because `maxStreams` were open. */
  readonly rejectedStreams: number;
  /** Event streams disconnected because more than `maxQueuedBytes` were waiting to be sent. */
  readonly droppedStreams: number;
  /** Bytes waiting to be sent, over every open stream. */
  readonly queuedBytes: number;
}

/** A running inspector, as {@link startInspector} resolves it. */
export interface Inspector {
  /** The page's address, `http://host:port/` (IPv6 hosts in brackets). */
  readonly url: string;
  /** The address the server listens on. */
  readonly host: string;
  /** The port the server listens on (the one chosen when `port` was 0). */
  readonly port: number;
  /** Counters of the event streams. */
  stats(): InspectorStats;
  /**
   * Stops listening, ends every event stream and open connection, and removes every listener the
   * inspector added to `runtime.events`. The runtime itself is untouched. Idempotent: later calls
   * return the same promise.
   */
  close(): Promise<void>;
}
