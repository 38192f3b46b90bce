/**
 * The containerd worker's configuration: the type the main thread sends
 * (sources/containerd/source.ts) and the check the worker reads it back with.
 *
 * @module
 */
import { configPath } from "../../support/config_path.ts";

/** Configuration of the containerd source. */
export interface ContainerdConfig {
  /** containerd's gRPC socket. */
  readonly socketPath: string;
  /** nerdctl's data root: state dirs outside it are not read. */
  readonly nerdctlDataRoot: string;
}

const absolutePath = (value: unknown, field: string) =>
  configPath(value, "containerd", field);

/**
 * Reads the source's configuration from the start message.
 *
 * @throws {TypeError} When a path is not absolute.
 */
export function parseContainerdConfig(
  raw: Readonly<Record<string, unknown>>,
): ContainerdConfig {
  return {
    socketPath: absolutePath(raw.socketPath, "socketPath"),
    nerdctlDataRoot: absolutePath(raw.nerdctlDataRoot, "nerdctlDataRoot")
      .replace(/\/+$/, "") || "/",
  };
}
