/**
 * The two Kubernetes API calls the source makes, list (paged) and watch,
 * over Deno's own fetch with the kubeconfig's TLS material and credentials.
 * It replaces @kubernetes/client-node, whose import alone (its generated API
 * models and node-fetch) costs a worker more heap than the agent's whole
 * memory target (README, Dependencies).
 *
 * Slightly over ~300 lines: the two calls (list, watch) share their TLS,
 * error and line-reading handling.
 *
 * @module
 */
import type {
  KubeConnection,
  PemSource,
} from "./main_thread/kube_connection.ts";
import { readLines } from "../worker/read_lines.ts";

/** The API server answered with an error status (or an ERROR watch event). */
export class KubeApiError extends Error {
  /** The HTTP status (or the Status object's code). */
  readonly status: number;

  /** Creates the error for one request. */
  constructor(what: string, status: number, message: string) {
    super(
      `Cannot ${what}: the API server answered ${status}${
        message ? `: ${message}` : ""
      }`,
    );
    this.name = "KubeApiError";
    this.status = status;
  }
}

/** Reads a file as text (the worker's Deno.readTextFile, or a test's). */
export type ReadTextFile = (path: string) => Promise<string>;

/** Options of {@linkcode KubeApi.watch}. */
export interface WatchOptions {
  /** The resourceVersion to watch from. */
  readonly resourceVersion: string;
  /** The server ends the watch after this many seconds. @default 300 */
  readonly timeoutSeconds?: number;
  /** No line for this long (ms) means a dead connection. @default timeoutSeconds + 30 s */
  readonly idleMs?: number;
  /** Ends the watch. */
  readonly signal: AbortSignal;
}

/** The longest watch event line kept (a service is a few KiB). */
const MAX_EVENT_BYTES = 4 * 1024 * 1024;
/** The longest error body read. */
const MAX_ERROR_BYTES = 64 * 1024;

/** A connection to one API server. */
export class KubeApi {
  readonly #connection: KubeConnection;
  readonly #http: Deno.HttpClient;
  readonly #readTextFile: ReadTextFile;

  private constructor(
    connection: KubeConnection,
    http: Deno.HttpClient,
    readTextFile: ReadTextFile,
  ) {
    this.#connection = connection;
    this.#http = http;
    this.#readTextFile = readTextFile;
  }

  /**
   * Reads the connection's certificate files and creates the HTTP client.
   *
   * @param connection The server and credentials.
   * @param readTextFile Reads the referenced files. @default Deno.readTextFile
   * @throws {Error} When a referenced file cannot be read (naming it).
   */
  static async open(
    connection: KubeConnection,
    readTextFile: ReadTextFile = Deno.readTextFile,
  ): Promise<KubeApi> {
    const read = async (source: PemSource | undefined, what: string) => {
      if (source === undefined) return undefined;
      if ("pem" in source) return source.pem;
      try {
        return await readTextFile(source.file);
      } catch (error) {
        throw new Error(
          `Cannot read the ${what} ${source.file}: ${(error as Error).message}`,
        );
      }
    };
    const ca = await read(connection.ca, "certificate authority");
    const cert = await read(connection.clientCert, "client certificate");
    const key = await read(connection.clientKey, "client key");
    const http = Deno.createHttpClient({
      ...(ca === undefined ? {} : { caCerts: [ca] }),
      ...(cert === undefined || key === undefined ? {} : { cert, key }),
    });
    return new KubeApi(connection, http, readTextFile);
  }

  /** The server's URL. */
  get server(): string {
    return this.#connection.server;
  }

  /** Closes the HTTP client (and its pooled connections). */
  close(): void {
    this.#http.close();
  }

  /**
   * `GET path?limit=…&continue=…`: one page of a list.
   *
   * @returns The parsed JSON body (a *List object, unchecked).
   */
  async list(
    path: string,
    page: { readonly limit: number; readonly continue?: string },
    signal: AbortSignal,
  ): Promise<unknown> {
    const query = new URLSearchParams({ limit: String(page.limit) });
    if (page.continue) query.set("continue", page.continue);
    const response = await this.#get(`${path}?${query}`, signal);
    return await response.json();
  }

  /**
   * `GET path?watch=true&resourceVersion=…`: resolves once the server has
   * answered, with the watch's event lines as they arrive. The lines end
   * when the server closes the stream; reading them throws when the
   * connection breaks or stays silent for `idleMs`. Read them to the end
   * (or return early): that releases the connection.
   */
  async watch(
    path: string,
    options: WatchOptions,
  ): Promise<AsyncGenerator<string>> {
    const timeoutSeconds = options.timeoutSeconds ?? 300;
    const idleMs = options.idleMs ?? (timeoutSeconds + 30) * 1000;
    const query = new URLSearchParams({
      watch: "true",
      resourceVersion: options.resourceVersion,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(timeoutSeconds),
    });
    const ending = new AbortController();
    const abort = () => ending.abort(options.signal.reason);
    options.signal.addEventListener("abort", abort, { once: true });
    let idle: ReturnType<typeof setTimeout> | undefined;
    // Set only when the watchdog ended the watch: then that is the reason,
    // not whatever the aborted read threw (an AbortError says nothing).
    let silence: Error | undefined;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        silence = new Error(
          `Cannot trust the watch: it was silent for ${
            Math.round(idleMs / 1000)
          } s`,
        );
        ending.abort(silence);
      }, idleMs);
    };
    const release = () => {
      clearTimeout(idle);
      options.signal.removeEventListener("abort", abort);
      ending.abort();
    };
    const silentOrError = (error: unknown) =>
      silence !== undefined && !options.signal.aborted ? silence : error;
    let response: Response;
    try {
      arm();
      response = await this.#get(`${path}?${query}`, ending.signal);
    } catch (error) {
      release();
      throw silentOrError(error);
    }
    return (async function* () {
      try {
        if (response.body === null) return;
        const lines = readLines(response.body, {
          signal: ending.signal,
          maxBytes: MAX_EVENT_BYTES,
          onOversized: (head, bytes) => {
            throw new Error(
              `Cannot read a watch event of ${bytes} bytes: over ${MAX_EVENT_BYTES}: ${head}`,
            );
          },
        });
        for await (const line of lines) {
          arm();
          if (line.trim() !== "") yield line;
        }
      } catch (error) {
        const reason = silentOrError(error);
        if (reason !== error || options.signal.aborted) throw reason;
        // The connection broke while the watch was open.
        throw new Error(`Cannot read the watch: ${explainFetchError(error)}`);
      } finally {
        release();
      }
    })();
  }

  async #get(pathAndQuery: string, signal: AbortSignal): Promise<Response> {
    const what = `GET ${this.#connection.server}${pathAndQuery}`;
    let response: Response;
    try {
      response = await fetch(`${this.#connection.server}${pathAndQuery}`, {
        client: this.#http,
        headers: await this.#headers(),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new Error(
        `Cannot GET ${pathAndQuery.split("?")[0]}: ${explainFetchError(error)}`,
      );
    }
    if (response.ok) return response;
    throw new KubeApiError(
      what,
      response.status,
      statusMessage(await readBounded(response)),
    );
  }

  async #headers(): Promise<Record<string, string>> {
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": "guest-agent",
    };
    const { token, tokenFile, basicAuth } = this.#connection;
    if (tokenFile !== undefined) {
      let text: string;
      try {
        text = await this.#readTextFile(tokenFile);
      } catch (error) {
        throw new Error(
          `Cannot read the token file ${tokenFile}: ${
            (error as Error).message
          }`,
        );
      }
      headers.authorization = `Bearer ${text.trim()}`;
    } else if (token !== undefined) {
      headers.authorization = `Bearer ${token}`;
    } else if (basicAuth !== undefined) {
      headers.authorization = `Basic ${
        btoa(
          String.fromCharCode(
            ...new TextEncoder().encode(
              `${basicAuth.username}:${basicAuth.password}`,
            ),
          ),
        )
      }`;
    }
    return headers;
  }
}

/**
 * What a failed request ran into, in a few words an operator can act on:
 * "connection refused", "connection reset", "TLS: …", or the error's own
 * message when it is none of these.
 */
export function explainFetchError(error: unknown): string {
  // Deno's fetch says "fetch failed" and keeps the reason in `cause`.
  const messages: string[] = [];
  for (
    let at: unknown = error, depth = 0;
    at !== undefined && at !== null && depth < 4;
    at = (at as { cause?: unknown }).cause, depth++
  ) {
    messages.push(at instanceof Error ? at.message : String(at));
  }
  const message = messages.join(": ");
  if (/connection refused/i.test(message)) return "connection refused";
  if (/connection reset|reset by peer/i.test(message)) {
    return "connection reset by the server";
  }
  if (/certificate|tls|handshake|UnknownIssuer/i.test(message)) {
    const detail =
      /(invalid peer certificate[^)]*|UnknownIssuer|certificate[^:)]*)/i
        .exec(message)?.[1];
    return `TLS: ${detail ?? message.slice(0, 200)}`;
  }
  if (/timed out|deadline/i.test(message)) return "timed out";
  if (/connection closed|unexpected eof|IncompleteMessage/i.test(message)) {
    return "the server closed the connection";
  }
  return message.slice(0, 300);
}

async function readBounded(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let length = 0;
  try {
    while (length < MAX_ERROR_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      length += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return new TextDecoder().decode(whole.subarray(0, MAX_ERROR_BYTES));
}

/** The message of a Status body, or the body's first 200 characters. */
function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body);
    if (typeof status?.message === "string") return status.message;
  } catch { /* not JSON */ }
  return body.trim().slice(0, 200);
}
