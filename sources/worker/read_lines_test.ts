import { assertEquals } from "../../tests/assert.ts";
import { readLines } from "./read_lines.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((chunk) => encoder.encode(chunk)));
}

async function collect(stream: ReadableStream<Uint8Array>, maxBytes?: number) {
  const lines: string[] = [];
  const oversized: [string, number][] = [];
  for await (
    const line of readLines(stream, {
      ...(maxBytes ? { maxBytes } : {}),
      onOversized: (head, bytes) => oversized.push([head, bytes]),
    })
  ) lines.push(line);
  return { lines, oversized };
}

Deno.test("readLines() joins lines split across chunks", async () => {
  assertEquals(
    (await collect(streamOf('{"a":', '1}\n{"b"', ":2}\n\n", "tail"))).lines,
    ['{"a":1}', '{"b":2}', "", "tail"],
  );
});

Deno.test("readLines() skips and reports a line over the bound", async () => {
  const { lines, oversized } = await collect(
    streamOf("ok\n", "x".repeat(30), "y".repeat(30), "\nafter\n"),
    50,
  );
  assertEquals(lines, ["ok", "after"]);
  assertEquals(oversized, [["x".repeat(30) + "y".repeat(30), 60]]);
});

Deno.test("readLines() keeps multi-byte characters split across chunks", async () => {
  const bytes = new TextEncoder().encode("é\n");
  const stream = ReadableStream.from([bytes.subarray(0, 1), bytes.subarray(1)]);
  assertEquals((await collect(stream)).lines, ["é"]);
});

/** A stream that yields `first` and then never answers another read. */
function stalledStream(first: string) {
  const cancelled: unknown[] = [];
  let sent = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return new Promise(() => {}); // the peer never writes again
      sent = true;
      controller.enqueue(new TextEncoder().encode(first));
    },
    cancel(reason) {
      cancelled.push(reason);
    },
  });
  return { stream, cancelled };
}

Deno.test("readLines() ends a read that never completes when its signal aborts", async () => {
  const { stream, cancelled } = stalledStream("one\n");
  const abort = new AbortController();
  const lines: string[] = [];
  const reading = (async () => {
    for await (const line of readLines(stream, { signal: abort.signal })) {
      lines.push(line);
      if (lines.length === 1) setTimeout(() => abort.abort(new Error("bye")));
    }
  })();
  const error = await reading.then(() => undefined, (e: Error) => e);
  assertEquals([lines, error?.message, cancelled.length], [["one"], "bye", 1]);
});

Deno.test("readLines() throws at once for an aborted signal and cancels on break", async () => {
  const aborted = AbortSignal.abort(new Error("already"));
  const first = stalledStream("x\n");
  const error = await (async () => {
    for await (const _ of readLines(first.stream, { signal: aborted })) {
      // never reached
    }
  })().then(() => undefined, (e: Error) => e);
  assertEquals(error?.message, "already");

  const second = stalledStream("a\nb\n");
  for await (const _ of readLines(second.stream)) break;
  assertEquals(second.cancelled.length, 1);
});
