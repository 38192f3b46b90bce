/**
 * The worker side of a source: receives the start message, runs the
 * source's watcher, and posts what it yields. Worker entry files are one call
 * to {@linkcode runSourceWorker}.
 *
 * @module
 */
import {
  MESSAGE_VERSION,
  parseControlMessage,
  type SourceMessage,
} from "../messages.ts";
import { setSourceLogSink, sourceLogger } from "../source_log.ts";
import { wallClockMs } from "../../support/clock.ts";
import {
  setStageStamping,
  stageStamping,
} from "../../support/stage_profile.ts";

/** A source message without its version field (the runtime adds it). */
export type SourceMessageBody = SourceMessage extends infer M
  ? M extends SourceMessage ? Omit<M, "v"> : never
  : never;

/** What a source's worker runs: watch until `signal` aborts, calling `emit`. */
export type SourceRunner = (
  config: Readonly<Record<string, unknown>>,
  emit: (message: SourceMessageBody) => void,
  signal: AbortSignal,
) => Promise<void>;

/**
 * With stage profiling on, an upsert or remove leaves with its stages: when
 * the source saw the change (`seen`, its observedAt), the source's own
 * stamps, and `posted`, now.
 */
function stamped(message: SourceMessageBody): SourceMessageBody {
  if (
    !stageStamping() ||
    (message.type !== "upsert" && message.type !== "remove")
  ) return message;
  return {
    ...message,
    stages: {
      ...message.observedAt === undefined ? {} : { seen: message.observedAt },
      ...message.stages,
      posted: wallClockMs(),
    },
  };
}

interface WorkerScope {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

/**
 * Runs a source inside the current worker. Call it at the top of the worker
 * entry, before any `await`, so the start message is never missed.
 *
 * @param source The source's name, used as its log category.
 * @param runner The watcher.
 */
export function runSourceWorker(source: string, runner: SourceRunner): void {
  const scope = globalThis as unknown as WorkerScope;
  const controller = new AbortController();
  let started = false;
  const post = (message: SourceMessageBody) =>
    scope.postMessage({ v: MESSAGE_VERSION, ...stamped(message) });

  scope.onmessage = (event: MessageEvent) => {
    let message;
    try {
      message = parseControlMessage(event.data);
    } catch (error) {
      post({ type: "error", message: (error as Error).message });
      return;
    }
    if (message.type === "stop") {
      controller.abort(new Error("Cannot go on: the source was stopped"));
      if (!started) {
        post({ type: "stopped" });
        scope.close();
      }
      return;
    }
    if (started) return;
    started = true;
    // Records go to the main thread, which logs them with its own setup;
    // debug records are not even posted unless the agent logs debug.
    const debug = message.debug;
    setStageStamping(message.profile === true);
    setSourceLogSink((level, _source, text, properties) => {
      if (level === "debug" && !debug) return;
      post({ type: "log", level, message: text, properties });
    });
    const logger = sourceLogger(source);
    runner(message.config, post, controller.signal).then(
      () => {
        if (controller.signal.aborted) {
          post({ type: "stopped" });
          scope.close();
        } else post({ type: "error", message: "the source ended on its own" });
      },
      (error: unknown) => {
        if (controller.signal.aborted) {
          post({ type: "stopped" });
          return scope.close();
        }
        logger.error("{source} failed: {error}", { source, error });
        post({
          type: "error",
          message: error instanceof Error ? error.message : String(error),
        });
      },
    );
  };
}
