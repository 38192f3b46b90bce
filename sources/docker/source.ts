/**
 * The Docker source: Docker Engine API events over its unix socket (also
 * Podman's Docker API). See docs/protocols.md, "Docker Engine API".
 *
 * @module
 */
import type { SourceDescriptor } from "../descriptor.ts";
import { detectPath, NO_PERMISSIONS, workerModule } from "../descriptor.ts";
import { pathValue, UsageError } from "../../support/option_table.ts";
import { DOCKER_URL_HOST, type DockerConfig } from "./config.ts";

/** The Docker source's options. */
export interface DockerOptions {
  /** Watch Docker events. */
  readonly docker: boolean;
  /** Docker socket path. */
  readonly dockerSocket: string;
}

/** The Docker source. */
export const dockerSource: SourceDescriptor<
  "docker",
  DockerOptions,
  DockerConfig
> = {
  name: "docker",
  options: [
    {
      key: "docker",
      name: "docker",
      goName: "docker",
      kind: "boolean",
      help: "watch Docker events (Go: -docker)",
      negation: "do not watch Docker",
    },
    {
      key: "dockerSocket",
      name: "docker-socket",
      kind: "value",
      valueName: "<path>",
      help: "Docker socket",
      parse: pathValue("--docker-socket"),
      shownDefault: "DOCKER_HOST=unix://… or /var/run/docker.sock",
    },
  ],
  defaults: { docker: true, dockerSocket: "/var/run/docker.sock" },
  resolveOptions(options, { given, env, explicit }) {
    const host = env.DOCKER_HOST;
    if (given.has("docker-socket") || !host) return options;
    if (host.startsWith("unix:///")) {
      return { ...options, dockerSocket: host.slice("unix://".length) };
    }
    if (explicit && options.docker) {
      throw new UsageError(
        `Cannot use DOCKER_HOST=${host}: accepted values are unix:///absolute/path (or pass --docker-socket)`,
      );
    }
    return options;
  },
  detect: (options, probe) => detectPath(probe, "socket", options.dockerSocket),
  worker: {
    module: workerModule("docker", import.meta.url),
    // A unix socket needs read, write and net "unix:<path>"; fetch also
    // checks the URL's host, a name that is never resolved.
    permissions: (options) => ({
      ...NO_PERMISSIONS,
      read: [options.dockerSocket],
      write: [options.dockerSocket],
      net: [`unix:${options.dockerSocket}`, DOCKER_URL_HOST],
    }),
    config: (options) => ({ socketPath: options.dockerSocket }),
  },
  observes: "engine-ports",
};
