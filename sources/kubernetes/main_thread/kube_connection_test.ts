import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { connectionFiles, parseKubeConnection } from "./kube_connection.ts";

Deno.test("parseKubeConnection() keeps what the main thread sent", () => {
  const connection = {
    server: "https://127.0.0.1:6443",
    ca: { pem: "CA" },
    clientCert: { file: "/etc/c.crt" },
    clientKey: { file: "/etc/c.key" },
    tokenFile: "/run/token",
    basicAuth: { username: "u", password: "p" },
  };
  assertEquals(parseKubeConnection({ ...connection, unknown: 1 }), connection);
  assertEquals(connectionFiles(connection), [
    "/etc/c.crt",
    "/etc/c.key",
    "/run/token",
  ]);
  assertEquals(
    parseKubeConnection({ server: "https://rancher.example/k8s/clusters/c-1" }),
    { server: "https://rancher.example/k8s/clusters/c-1" },
  );
});

Deno.test("parseKubeConnection() refuses malformed connections", async (t) => {
  const cases: [string, unknown, string][] = [
    ["not an object", "https://x", "not an object"],
    ["no server", {}, "connection.server undefined"],
    ["server with a query", { server: "https://x/?a" }, "is not http(s)"],
    [
      "server with a trailing slash",
      { server: "https://x/" },
      "is not http(s)",
    ],
    ["unix server", { server: "unix:///x" }, "is not http(s)"],
    [
      "relative file",
      { server: "https://x", ca: { file: "ca.crt" } },
      "connection.ca",
    ],
    ["pem a number", { server: "https://x", ca: { pem: 5 } }, "connection.ca"],
    [
      "cert without key",
      { server: "https://x", clientCert: { pem: "C" } },
      "needs its key",
    ],
    ["token a number", { server: "https://x", token: 5 }, "connection.token"],
    [
      "token file relative",
      { server: "https://x", tokenFile: "t" },
      "connection.tokenFile",
    ],
    [
      "basic auth half",
      { server: "https://x", basicAuth: { username: "u" } },
      "basicAuth",
    ],
  ];
  for (const [what, raw, message] of cases) {
    await t.step(
      what,
      () =>
        void assertThrows(() => parseKubeConnection(raw), TypeError, message),
    );
  }
});
