/**
 * Client of the host-switch forwarder API (gvisor-tap-vsock,
 * docs/protocols.md, "host-switch API").
 *
 * Exchange:
 * - `POST /services/forwarder/expose` `{"local","remote","protocol"}` → 200, empty body;
 *   500 "proxy already running …" when the local address is taken.
 * - `POST /services/forwarder/unexpose` `{"local","protocol"}` → 200; 500 "proxy not found".
 * - `GET /services/forwarder/all` → 200 `[{"local","remote","protocol"}]`.
 * - 400 plain text for a wrong method or bad JSON.
 *
 * @module
 */

/** One forward on the host side. */
export interface HostSwitchMapping {
  /** Host address:port, e.g. "127.0.0.1:8080". */
  readonly local: string;
  /** VM address:port, e.g. "192.168.127.2:8080". */
  readonly remote: string;
  /** "tcp" or "udp" (the API also knows unix and npipe). */
  readonly protocol: string;
}

/** The API answered with an error status. */
export class HostSwitchError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The plain-text body. */
  readonly body: string;

  /** Creates the error for one request to `url`. */
  constructor(url: string, status: number, body: string) {
    super(
      `Cannot call host-switch ${url}: it answered ${status}: ${
        JSON.stringify(body.trim().slice(0, 200))
      }`,
    );
    this.name = "HostSwitchError";
    this.status = status;
    this.body = body;
  }

  /** "proxy already running …": the local address is exposed already. */
  get alreadyRunning(): boolean {
    return this.status === 500 && /proxy already running/.test(this.body);
  }

  /** "proxy not found": nothing to unexpose. */
  get notFound(): boolean {
    return this.status === 500 && /proxy not found/.test(this.body);
  }
}

/** Options of {@linkcode HostSwitchClient}. */
export interface HostSwitchClientOptions {
  /** Time for one request, in ms. @default 3000 */
  readonly timeoutMs?: number;
}

/** Calls the host-switch API at one base URL. */
export class HostSwitchClient {
  #baseUrl: string;
  #timeoutMs: number;

  /**
   * Creates a client.
   *
   * @param baseUrl e.g. "http://192.168.127.1:80".
   * @param options Request timeout.
   */
  constructor(baseUrl: string, options: HostSwitchClientOptions = {}) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 3000;
  }

  /** Exposes a mapping. @throws {HostSwitchError} For an error status. */
  async expose(
    mapping: HostSwitchMapping,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#request("expose", "POST", {
      local: mapping.local,
      remote: mapping.remote,
      protocol: mapping.protocol,
    }, signal);
  }

  /** Removes a mapping (the protocol is always sent). */
  async unexpose(
    mapping: Pick<HostSwitchMapping, "local" | "protocol">,
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#request("unexpose", "POST", {
      local: mapping.local,
      protocol: mapping.protocol,
    }, signal);
  }

  /**
   * Lists every mapping the host side has.
   *
   * @throws {SyntaxError} When the answer is not JSON (naming the peer and its first bytes).
   * @throws {TypeError} When it is JSON but not a list.
   */
  async all(signal?: AbortSignal): Promise<HostSwitchMapping[]> {
    const body = await this.#request("all", "GET", undefined, signal);
    const where = `${this.#baseUrl}/services/forwarder/all`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new SyntaxError(
        `Cannot read host-switch ${where}: not JSON: ${
          JSON.stringify(body.slice(0, 80))
        }`,
      );
    }
    if (!Array.isArray(parsed)) {
      throw new TypeError(
        `Cannot read host-switch ${where}: expected a JSON array, got ${
          JSON.stringify(body.slice(0, 80))
        }`,
      );
    }
    return parsed.flatMap((item): HostSwitchMapping[] =>
      typeof item === "object" && item !== null &&
        typeof item.local === "string" && typeof item.remote === "string"
        ? [{
          local: item.local,
          remote: item.remote,
          protocol: typeof item.protocol === "string" && item.protocol !== ""
            ? item.protocol
            : "tcp",
        }]
        : []
    );
  }

  async #request(
    what: string,
    method: "GET" | "POST",
    body: unknown,
    signal?: AbortSignal,
  ): Promise<string> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const url = `${this.#baseUrl}/services/forwarder/${what}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        ...(body === undefined ? {} : {
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
        }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      const reason = timeout.aborted
        ? `no answer within ${this.#timeoutMs} ms`
        : (error as Error).message;
      throw new Error(`Cannot reach host-switch at ${url}: ${reason}`);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      const reason = timeout.aborted
        ? `the answer did not end within ${this.#timeoutMs} ms`
        : (error as Error).message;
      throw new Error(`Cannot read host-switch ${url}'s answer: ${reason}`);
    }
    if (!response.ok) throw new HostSwitchError(url, response.status, text);
    return text;
  }
}
