/**
 * The list and watch wire formats of the Kubernetes API (a *List page; one
 * JSON watch event per line). Pure; malformed input throws a TypeError
 * that quotes it.
 *
 * @module
 */
import { jsonRecord } from "./main_thread/json_record.ts";

/** One page of a list. */
export interface ListPage {
  /** The objects (unchecked: each is parsed on its own). */
  readonly items: readonly unknown[];
  /** The list's resourceVersion: where a watch starts. */
  readonly resourceVersion: string;
  /** The token of the next page, when there is one. */
  readonly continue?: string;
}

/** One watch event. */
export type WatchEvent =
  | {
    /** ADDED or MODIFIED. */
    readonly kind: "change";
    /** The object as it is now. */
    readonly object: unknown;
    /** Its resourceVersion, when it has one. */
    readonly resourceVersion?: string;
  }
  | {
    /** DELETED. */
    readonly kind: "delete";
    /** The object as it was. */
    readonly object: unknown;
    /** Its resourceVersion, when it has one. */
    readonly resourceVersion?: string;
  }
  | {
    /** BOOKMARK: only the version moves on. */
    readonly kind: "bookmark";
    /** The version to resume from. */
    readonly resourceVersion: string;
  }
  | {
    /** ERROR: a Status (410 Gone: the version is too old, relist). */
    readonly kind: "error";
    /** The Status code (0 when it has none). */
    readonly code: number;
    /** The Status message. */
    readonly message: string;
  };

function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

function versionOf(object: unknown): string | undefined {
  const version = jsonRecord(jsonRecord(object)?.metadata)?.resourceVersion;
  return typeof version === "string" && version !== "" ? version : undefined;
}

/**
 * Reads one page of a list.
 *
 * @param body The parsed response body.
 * @throws {TypeError} When it has no items list or no resourceVersion.
 */
export function parseListPage(body: unknown): ListPage {
  const list = jsonRecord(body);
  if (list === undefined) {
    throw new TypeError("Cannot read a list: the body is not an object");
  }
  const items = list.items;
  if (items !== null && items !== undefined && !Array.isArray(items)) {
    throw new TypeError("Cannot read a list: items is not a list");
  }
  const resourceVersion = versionOf(list);
  if (resourceVersion === undefined) {
    throw new TypeError(
      "Cannot read a list: it has no metadata.resourceVersion",
    );
  }
  const next = jsonRecord(list.metadata)?.continue;
  return {
    items: (items ?? []) as unknown[],
    resourceVersion,
    ...(typeof next === "string" && next !== "" ? { continue: next } : {}),
  };
}

/**
 * Reads one watch event line.
 *
 * @param line One line of the watch stream.
 * @throws {TypeError} When it is not JSON, not an event or of an unknown type.
 */
export function parseWatchEvent(line: string): WatchEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new TypeError(`Cannot read a watch event: not JSON: ${quote(line)}`);
  }
  const event = jsonRecord(parsed);
  const object = jsonRecord(event?.object);
  if (event === undefined || object === undefined) {
    throw new TypeError(
      `Cannot read a watch event: no object in ${quote(line)}`,
    );
  }
  const resourceVersion = versionOf(object);
  const version = resourceVersion === undefined ? {} : { resourceVersion };
  switch (event.type) {
    case "ADDED":
    case "MODIFIED":
      return { kind: "change", object, ...version };
    case "DELETED":
      return { kind: "delete", object, ...version };
    case "BOOKMARK":
      if (resourceVersion === undefined) {
        throw new TypeError(
          `Cannot read a watch event: a bookmark without a resourceVersion: ${
            quote(line)
          }`,
        );
      }
      return { kind: "bookmark", resourceVersion };
    case "ERROR":
      return {
        kind: "error",
        code: typeof object.code === "number" ? object.code : 0,
        message: typeof object.message === "string"
          ? object.message
          : quote(line),
      };
    default:
      throw new TypeError(
        `Cannot read a watch event: unknown type ${
          JSON.stringify(event.type)
        } in ${quote(line)}`,
      );
  }
}
