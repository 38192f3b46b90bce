/**
 * The Kubernetes source's main-thread companion: reads the kubeconfig
 * whenever it appears or changes and (re)starts the worker with grants for
 * exactly that API server and those files. An unreadable kubeconfig is
 * logged; the running worker stays.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { followFile } from "../../../support/follow_file.ts";
import {
  type KubeconfigAccess,
  kubeconfigAccess,
} from "./kubeconfig_access.ts";

/**
 * Follows `path` until `signal` aborts, calling `start` with each readable
 * version's access.
 *
 * @param path The kubeconfig.
 * @param start (Re)starts the worker for that access.
 * @param signal Ends the following.
 */
export async function followKubeconfig(
  path: string,
  start: (access: KubeconfigAccess) => void,
  signal: AbortSignal,
): Promise<void> {
  const logger = getLogger(["guest-agent", "kubernetes"]);
  await followFile(path, (state) => {
    if (state.kind === "missing") {
      logger.info("kubernetes: waiting for the kubeconfig {path}", { path });
      return;
    }
    let access: KubeconfigAccess;
    try {
      access = kubeconfigAccess(state.text, path);
    } catch (error) {
      logger.error("kubernetes: {error}", { error: (error as Error).message });
      return;
    }
    logger.info(
      "kubernetes: kubeconfig {path} read; watching services at {server}",
      { path, server: access.server },
    );
    for (const warning of access.warnings) {
      logger.warn("kubernetes: kubeconfig {path}: {warning}", {
        path,
        warning,
      });
    }
    start(access);
  }, signal);
}
