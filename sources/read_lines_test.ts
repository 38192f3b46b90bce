import { assertEquals } from "../tests/assert.ts";
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
