/**
 * Keep-alive HTTP/1.1 GET requests over a unix socket, for the Docker
 * source's inspect and list calls: one write and the reads of the answer on
 * a connection that stays open, without fetch's machinery (measured here:
 * an inspect 0.39 ms this way, 0.98 ms through fetch with a unix proxy).
 * The event stream stays on fetch.
 *
 * @module
 */
import { type Http1Response, Http1ResponseReader } from "./http1_response.ts";

/** Options of {@linkcode UnixHttpClient}. */
export interface UnixHttpClientOptions {
  /** The Host header. @default "docker" */
  readonly host?: string;
  /** Idle connections kept for the next requests. @default 4 */
  readonly maxIdle?: number;
}

const encoder = new TextEncoder();

/** A request that was never answered on a reused connection may be retried. */
class StaleConnection extends Error {}

/** GET requests over a unix socket, reusing idle connections. */
export class UnixHttpClient {
  readonly #path: string;
  readonly #host: string;
  readonly #maxIdle: number;
  readonly #idle: Deno.UnixConn[] = [];
  readonly #busy = new Set<Deno.UnixConn>();
  #closed = false;

  /**
   * Creates the client; nothing connects until a request.
   *
   * @param path The unix socket.
   * @param options Host header and idle pool size.
   */
  constructor(path: string, options: UnixHttpClientOptions = {}) {
    this.#path = path;
    this.#host = options.host ?? "docker";
    this.#maxIdle = options.maxIdle ?? 4;
  }

  /**
   * `GET target` and its complete response.
   *
   * @param target The request target (`/v1.41/containers/ID/json`).
   * @param signal Aborting closes the connection and rejects.
   * @throws {Error} When the socket cannot be reached, the answer is not
   *   HTTP/1.x, or the connection ends before the answer does.
   */
  async get(target: string, signal: AbortSignal): Promise<Http1Response> {
    if (!/^\/[\x21-\x7e]*$/.test(target)) {
      throw new TypeError(
        `Cannot request ${JSON.stringify(target)}: not a request target`,
      );
    }
    const request = encoder.encode(
      `GET ${target} HTTP/1.1\r\nHost: ${this.#host}\r\nUser-Agent: guest-agent\r\n\r\n`,
    );
    const reused = this.#idle.pop();
    if (reused !== undefined) {
      try {
        return await this.#exchange(reused, request, signal, true);
      } catch (error) {
        // The engine may have closed the idle connection: once, anew.
        if (!(error instanceof StaleConnection)) throw error;
      }
    }
    const conn = await Deno.connect({ transport: "unix", path: this.#path });
    return await this.#exchange(conn, request, signal, false);
  }

  async #exchange(
    conn: Deno.UnixConn,
    request: Uint8Array,
    signal: AbortSignal,
    reused: boolean,
  ): Promise<Http1Response> {
    signal.throwIfAborted();
    this.#busy.add(conn);
    const onAbort = () => this.#discard(conn);
    signal.addEventListener("abort", onAbort, { once: true });
    let keep = false;
    let answered = false;
    try {
      let written = 0;
      while (written < request.length) {
        written += await conn.write(request.subarray(written));
      }
      const reader = new Http1ResponseReader("GET");
      const buffer = new Uint8Array(64 * 1024);
      for (;;) {
        let count: number | null;
        try {
          count = await conn.read(buffer);
        } catch (error) {
          signal.throwIfAborted();
          if (reused && !answered) throw new StaleConnection();
          throw error;
        }
        if (count === null) {
          signal.throwIfAborted();
          if (reused && !answered) throw new StaleConnection();
          return reader.end();
        }
        answered = true;
        const response = reader.push(buffer.subarray(0, count));
        if (response !== undefined) {
          keep = response.keepAlive;
          return response;
        }
      }
    } catch (error) {
      if (reused && !answered && !signal.aborted) {
        throw new StaleConnection();
      }
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#busy.delete(conn);
      if (keep && !this.#closed && this.#idle.length < this.#maxIdle) {
        this.#idle.push(conn);
      } else this.#discard(conn);
    }
  }

  #discard(conn: Deno.UnixConn): void {
    try {
      conn.close();
    } catch { /* already closed */ }
  }

  /** Closes every connection; requests in flight reject. */
  close(): void {
    this.#closed = true;
    for (const conn of [...this.#idle, ...this.#busy]) this.#discard(conn);
    this.#idle.length = 0;
    this.#busy.clear();
  }
}
