/**
 * Follows one file: calls back with its text when it appears and each time
 * its content changes, and when it disappears. Waits on file-system events
 * of its folder (or of the nearest existing ancestor while the folder does
 * not exist yet), never on a sleep loop.
 *
 * @module
 */

/** What {@linkcode followFile} reports. */
export type FileState =
  | {
    /** The file exists with this content (new or changed). */
    readonly kind: "content";
    /** Its text. */
    readonly text: string;
  }
  | {
    /** The file does not exist (reported at start and when it goes). */
    readonly kind: "missing";
  };

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function nearestExisting(folder: string): Promise<string> {
  let current = folder;
  while (current !== "/" && !await exists(current)) {
    current = current.slice(0, current.lastIndexOf("/")) || "/";
  }
  return current;
}

/**
 * Follows `path` until `signal` aborts.
 *
 * @param path An absolute file path.
 * @param onState Called with the first state and every change after it.
 * @param signal Ends the following.
 * @param settleMs Quiet time after events before the file is read again.
 */
export async function followFile(
  path: string,
  onState: (state: FileState) => void,
  signal: AbortSignal,
  settleMs = 50,
): Promise<void> {
  const folder = path.slice(0, path.lastIndexOf("/")) || "/";
  let last: string | undefined | null = null; // null: nothing reported yet
  const check = async () => {
    let text: string | undefined;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      text = undefined;
    }
    if (text === last) return;
    last = text;
    onState(
      text === undefined ? { kind: "missing" } : { kind: "content", text },
    );
  };
  while (!signal.aborted) {
    const watched = await nearestExisting(folder);
    const watcher = Deno.watchFs(watched, { recursive: false });
    const close = () => watcher.close();
    signal.addEventListener("abort", close, { once: true });
    try {
      await check(); // after the watch is set up: no change is missed
      // A folder that appeared before the watch began sends no event.
      if (watched !== folder && await nearestExisting(folder) !== watched) {
        continue;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      for await (const _event of watcher) {
        // While an ancestor is watched, move down as folders appear.
        if (watched !== folder) {
          if (await nearestExisting(folder) !== watched) break;
          continue;
        }
        clearTimeout(timer);
        timer = setTimeout(() => void check(), settleMs);
      }
      clearTimeout(timer);
    } finally {
      signal.removeEventListener("abort", close);
      try {
        watcher.close();
      } catch { /* closed already */ }
    }
  }
}
