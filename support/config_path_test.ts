import { assertEquals, assertThrows } from "../tests/assert.ts";
import { configPath } from "./config_path.ts";

Deno.test("configPath() keeps an absolute path", () => {
  assertEquals(
    configPath("/run/docker.sock", "docker", "socketPath"),
    "/run/docker.sock",
  );
});

Deno.test("configPath() refuses relative paths, '..', NUL and what is not a string, naming source and field", () => {
  for (
    const value of [
      "run/docker.sock",
      "/run/../etc/shadow",
      "/a/..",
      "/a\0b",
      "",
      3,
      null,
      undefined,
    ]
  ) {
    assertThrows(
      () => configPath(value, "docker", "socketPath"),
      TypeError,
      'Cannot configure docker: socketPath must be an absolute path without ".."',
    );
  }
});
