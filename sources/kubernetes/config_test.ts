import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { PAGE_SIZE_MAX, parseKubernetesConfig } from "./config.ts";

const CONNECTION = { server: "https://127.0.0.1:6443", token: "t" };

Deno.test("the Kubernetes config carries the listen address and the page size", () => {
  const config = parseKubernetesConfig({
    connection: CONNECTION,
    listenAddress: "127.0.0.1",
    pageSize: 40,
  });
  assertEquals([config.listenAddress, config.pageSize], ["127.0.0.1", 40]);
});

Deno.test("a page size that is not a whole number from 1 to the maximum is refused by name", () => {
  for (const pageSize of [0, -1, 2.5, PAGE_SIZE_MAX + 1, "40", null, NaN]) {
    assertThrows(
      () =>
        parseKubernetesConfig({
          connection: CONNECTION,
          listenAddress: "0.0.0.0",
          pageSize,
        }),
      TypeError,
      `pageSize must be a whole number from 1 to ${PAGE_SIZE_MAX}`,
    );
  }
});
