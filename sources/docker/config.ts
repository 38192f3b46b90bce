/**
 * The Docker worker's configuration: the type the main thread sends
 * (sources/docker/source.ts) and the check the worker reads it back with.
 *
 * @module
 */
import { configPath } from "../../support/config_path.ts";

/** Configuration of the Docker source. */
export interface DockerConfig {
  /** The engine's unix socket. */
  readonly socketPath: string;
}

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When the socket path is not absolute.
 */
export function parseDockerConfig(
  raw: Readonly<Record<string, unknown>>,
): DockerConfig {
  return { socketPath: configPath(raw.socketPath, "docker", "socketPath") };
}

/** The host name put in request URLs; never resolved (the socket carries the request). */
export const DOCKER_URL_HOST = "docker";
