import { assertEquals, assertThrows } from "../../../tests/assert.ts";
import { kubeconfigAccess } from "./kubeconfig_access.ts";

const CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN EC PRIVATE KEY-----\nK\n-----END EC PRIVATE KEY-----\n";

// The shape k3s writes to /etc/rancher/k3s/k3s.yaml.
const K3S = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${btoa(CA)}
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: ${btoa(CERT)}
    client-key-data: ${btoa(KEY)}
`;

Deno.test("kubeconfigAccess() reads k3s's kubeconfig: inline certificates, nothing to grant but the server", () => {
  assertEquals(kubeconfigAccess(K3S, "/etc/rancher/k3s/k3s.yaml"), {
    server: "https://127.0.0.1:6443",
    hostPort: "127.0.0.1:6443",
    files: [],
    connection: {
      server: "https://127.0.0.1:6443",
      ca: { pem: CA },
      clientCert: { pem: CERT },
      clientKey: { pem: KEY },
    },
    warnings: [],
  });
});

Deno.test("kubeconfigAccess() lists referenced files, relative ones resolved", () => {
  const text = JSON.stringify({
    "current-context": "c",
    contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
    clusters: [{
      name: "k",
      cluster: {
        server: "https://api.example:8443/",
        "certificate-authority": "ca.crt",
      },
    }],
    users: [{
      name: "u",
      user: {
        "client-certificate": "/etc/k/c.crt",
        "client-key": "k.key",
        tokenFile: "/run/token",
      },
    }],
  });
  assertEquals(kubeconfigAccess(text, "/home/me/.kube/config"), {
    server: "https://api.example:8443",
    hostPort: "api.example:8443",
    files: [
      "/home/me/.kube/ca.crt",
      "/etc/k/c.crt",
      "/home/me/.kube/k.key",
      "/run/token",
    ],
    connection: {
      server: "https://api.example:8443",
      ca: { file: "/home/me/.kube/ca.crt" },
      clientCert: { file: "/etc/k/c.crt" },
      clientKey: { file: "/home/me/.kube/k.key" },
      tokenFile: "/run/token",
    },
    warnings: [],
  });
  assertEquals(
    kubeconfigAccess(
      text.replace("https://api.example:8443/", "http://10.0.0.1"),
      "/k",
    ).hostPort,
    "10.0.0.1:80",
  );
});

Deno.test("kubeconfigAccess() reads tokens, basic auth and a path prefix; warns of what it does not honour", () => {
  const text = JSON.stringify({
    "current-context": "c",
    contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
    clusters: [{
      name: "k",
      cluster: {
        server: "https://rancher.example/k8s/clusters/c-1",
        "insecure-skip-tls-verify": true,
        "proxy-url": "http://proxy:3128",
      },
    }],
    users: [{
      name: "u",
      user: { token: "t0k", username: "me", password: "pw", exec: {} },
    }],
  });
  const access = kubeconfigAccess(text, "/k");
  assertEquals(access.connection, {
    server: "https://rancher.example/k8s/clusters/c-1",
    token: "t0k",
    basicAuth: { username: "me", password: "pw" },
  });
  assertEquals(access.hostPort, "rancher.example:443");
  assertEquals(access.warnings.length, 2);
});

Deno.test("kubeconfigAccess() refuses invalid kubeconfigs, naming the file", async (t) => {
  const cases: [string, string, string][] = [
    ["not YAML", "a: [b", "not YAML"],
    ["a list", "- a", "not a mapping"],
    ["empty", "", "not a mapping"],
    [
      "no such context",
      K3S.replace("current-context: default", "current-context: other"),
      '"other" is not among',
    ],
    [
      "no server",
      K3S.replace("    server: https://127.0.0.1:6443\n", ""),
      "has no server",
    ],
    [
      "server not a URL",
      K3S.replace("https://127.0.0.1:6443", "not a url"),
      "is not a URL",
    ],
    [
      "server not http",
      K3S.replace("https://127.0.0.1:6443", "unix:///x"),
      "is not http(s)",
    ],
    [
      // Found by bench/fuzz_long.ts: the URL parser reads host "&" here,
      // which the worker's guard then refused.
      "server the URL parser reads leniently",
      K3S.replace("https://127.0.0.1:6443", "https:&//127.0.0.1:6443"),
      "is not http(s)://host[:port][/path]",
    ],
    [
      "server without slashes",
      K3S.replace("https://127.0.0.1:6443", "https:127.0.0.1:6443"),
      "is not http(s)://host[:port][/path]",
    ],
    [
      "server with a query",
      K3S.replace("https://127.0.0.1:6443", "https://127.0.0.1:6443/?a=b"),
      "has a query",
    ],
    [
      "certificate data not base64",
      K3S.replace(
        /certificate-authority-data: .*/,
        "certificate-authority-data: '%%%'",
      ),
      "certificate-authority-data is not base64",
    ],
    [
      "certificate data not a string",
      K3S.replace(/client-key-data: .*/, "client-key-data: [1]"),
      "client-key-data is not a string",
    ],
    [
      "a client certificate without its key",
      K3S.replace(/ *client-key-data: .*\n/, ""),
      "without the other",
    ],
    [
      "only an exec plugin",
      K3S.replace(/ *client-certificate-data: .*\n/, "")
        .replace(/ *client-key-data: .*\n/, "    exec: {command: aws}\n"),
      "authenticates with exec",
    ],
    [
      "a token that is not a string",
      K3S.replace(/ *client-key-data: .*\n/, "    token: 5\n")
        .replace(/ *client-certificate-data: .*\n/, ""),
      "token is not a string",
    ],
  ];
  for (const [what, text, message] of cases) {
    await t.step(what, () => {
      assertThrows(
        () => kubeconfigAccess(text, "/k.yaml"),
        TypeError,
        `kubeconfig /k.yaml: `,
      );
      assertThrows(() => kubeconfigAccess(text, "/k.yaml"), TypeError, message);
    });
  }
});
