import { assertEquals } from "../tests/assert.ts";
import { openFilesLimit, parseOpenFilesLimit } from "./open_files.ts";

Deno.test("parseOpenFilesLimit() reads the limits row, unlimited included", () => {
  const text = [
    "Limit                     Soft Limit           Hard Limit           Units",
    "Max processes             94000                94000                processes",
    "Max open files            1024                 4096                 files",
  ].join("\n");
  assertEquals(parseOpenFilesLimit(text), { soft: 1024, hard: 4096 });
  assertEquals(
    parseOpenFilesLimit("Max open files  unlimited  unlimited  files"),
    { soft: Infinity, hard: Infinity },
  );
  assertEquals(parseOpenFilesLimit("Max open files  lots  x"), undefined);
  assertEquals(parseOpenFilesLimit(""), undefined);
});

Deno.test("openFilesLimit() reads this process's limit", () => {
  const limit = openFilesLimit();
  assertEquals(typeof limit?.soft, "number");
});
