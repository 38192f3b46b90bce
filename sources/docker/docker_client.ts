/**
 * The few Docker Engine API calls the source makes, over the unix socket
 * (no Docker SDK): the event stream and the ping through Deno's fetch, the
 * inspect and list calls as keep-alive requests of our own
 * (unix_http_client.ts), which cost less than half as much per call.
 *
 * @module
 */
import { DOCKER_URL_HOST } from "./config.ts";
import { CONTAINER_ACTIONS } from "./parse_docker.ts";
import { UnixHttpClient } from "./unix_http_client.ts";

/** The engine answered with an error status. */
export class DockerApiError extends Error {
  /** The HTTP status. */
  readonly status: number;

  /** Creates the error for one request. */
  constructor(what: string, status: number, body: string) {
    super(
      `Cannot read Docker ${what}: it answered ${status}: ${
        body.trim().slice(0, 200)
      }`,
    );
    this.name = "DockerApiError";
    this.status = status;
  }
}

/** A client for one Docker (or Podman) socket. */
export class DockerClient {
  #http: Deno.HttpClient;
  #requests: UnixHttpClient;
  #socketPath: string;
  #prefix = "";

  /**
   * Creates a client; nothing is sent until a call.
   *
   * @param socketPath The engine's unix socket.
   */
  constructor(socketPath: string) {
    this.#socketPath = socketPath;
    this.#http = Deno.createHttpClient({
      proxy: { transport: "unix", path: socketPath },
    });
    this.#requests = new UnixHttpClient(socketPath, { host: DOCKER_URL_HOST });
  }

  /** The socket this client talks to. */
  get socketPath(): string {
    return this.#socketPath;
  }

  /**
   * `GET /_ping`: checks the engine answers and negotiates the API version
   * (later requests go to `/v<API-Version>/…`).
   *
   * @returns The engine's API version.
   */
  async ping(signal: AbortSignal): Promise<string> {
    const response = await this.#fetch("/_ping", signal, false);
    await response.body?.cancel();
    const version = response.headers.get("api-version");
    this.#prefix = version && /^\d+\.\d+$/.test(version) ? `/v${version}` : "";
    return version ?? "unknown";
  }

  /** Subscribes to container start/die/stop/destroy events; the body streams JSON lines. */
  async events(signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const filters = JSON.stringify({
      type: ["container"],
      event: CONTAINER_ACTIONS,
    });
    const response = await this.#fetch(
      `/events?filters=${encodeURIComponent(filters)}`,
      signal,
    );
    if (!response.body) {
      throw new Error("Cannot read Docker /events: it answered without a body");
    }
    return response.body;
  }

  /** Ids of the running containers. */
  async listRunning(signal: AbortSignal): Promise<unknown> {
    const filters = encodeURIComponent(JSON.stringify({ status: ["running"] }));
    return await this.#getJson(`/containers/json?filters=${filters}`, signal);
  }

  /** A container's inspect object, or undefined when it no longer exists. */
  async inspect(id: string, signal: AbortSignal): Promise<unknown> {
    try {
      return await this.#getJson(
        `/containers/${encodeURIComponent(id)}/json`,
        signal,
      );
    } catch (error) {
      if (error instanceof DockerApiError && error.status === 404) {
        return undefined;
      }
      throw error;
    }
  }

  /** Closes the HTTP clients. */
  close(): void {
    this.#http.close();
    this.#requests.close();
  }

  async #getJson(path: string, signal: AbortSignal): Promise<unknown> {
    const response = await this.#requests.get(`${this.#prefix}${path}`, signal);
    const text = new TextDecoder().decode(response.body);
    const what = path.split("?")[0]!;
    if (response.status < 200 || response.status > 299) {
      throw new DockerApiError(what, response.status, text);
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new SyntaxError(
        `Cannot read Docker ${what}: it answered with bad JSON: ${
          (error as Error).message
        }`,
      );
    }
  }

  async #fetch(
    path: string,
    signal: AbortSignal,
    versioned = true,
  ): Promise<Response> {
    const response = await fetch(
      `http://${DOCKER_URL_HOST}${versioned ? this.#prefix : ""}${path}`,
      { client: this.#http, signal },
    );
    if (!response.ok) {
      throw new DockerApiError(
        path.split("?")[0]!,
        response.status,
        await response.text(),
      );
    }
    return response;
  }
}
