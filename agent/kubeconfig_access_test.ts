import { assertEquals, assertThrows } from "../tests/assert.ts";
import { kubeconfigAccess } from "./kubeconfig_access.ts";

const K3S = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: LS0tLS1CRUdJTi...
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
    client-certificate-data: LS0tLS1CRUdJTi...
    client-key-data: LS0tLS1CRUdJTi...
`;

Deno.test("kubeconfigAccess() reads k3s's kubeconfig", () => {
  assertEquals(kubeconfigAccess(K3S, "/etc/rancher/k3s/k3s.yaml"), {
    server: "https://127.0.0.1:6443",
    hostPort: "127.0.0.1:6443",
    files: [],
  });
});

Deno.test("kubeconfigAccess() lists referenced files, relative ones resolved", () => {
  const text = JSON.stringify({
    "current-context": "c",
    contexts: [{ name: "c", context: { cluster: "k", user: "u" } }],
    clusters: [{
      name: "k",
      cluster: {
        server: "https://api.example:8443",
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
  });
  assertEquals(
    kubeconfigAccess(
      text.replace("https://api.example:8443", "http://10.0.0.1"),
      "/k",
    ).hostPort,
    "10.0.0.1:80",
  );
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
