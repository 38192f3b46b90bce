/**
 * The Kubernetes source against a real kube-apiserver (v1.32 with Debian's
 * etcd, in the peers directory: docs/testing.md): services made through the REST API as kubectl
 * would, the agent's real worker and permissions, restarts of every kind.
 * What a real server cannot be made to do on demand (a 410 in the middle of
 * a watch, bookmarks at will, hostile bodies) stays with
 * tests/kubernetes_fake_api_test.ts and its fake server.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import {
  canRunKubeApiServer,
  type KubeApiServer,
  startKubeApiServer,
} from "./engines/kube_apiserver.ts";
import { exec } from "./netns.ts";
import { onlySources, TEST_OPTIONS } from "./test_options.ts";
import { ignoreUnless } from "./requirements.ts";
import { startAgent } from "../agent/run_agent.ts";
import { injected, RecordingForwarder } from "./recording_forwarder.ts";
import { count, sized } from "./test_size.ts";
import { peerPath } from "./engines/peers.ts";
import { SourceMessages } from "./engine_answer.ts";
import { waitFor } from "./wait.ts";

/** Whether process `pid` has ended (gone, or a zombie nobody reaped yet). */
async function ended(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return /^\d+ \(.*\) Z/.test(stat);
  } catch {
    return true;
  }
}

/** Services made in bulk (a multiple of 50). */
const SERVICES = sized(100, 600);
/**
 * Services per list page (`--kubernetes-page-size`): small, so that the real
 * API server pages the bulk at the normal size (100 and the others: three
 * pages).
 */
const PAGE_SIZE = 40;
const LAST_SERVICE_PORT = 20000 + SERVICES - 1;
/** How long the API server stays down after a graceful stop. */
const DOWN_MS = sized(5_000, 30_000);

/**
 * A client certificate for `user` (no groups), signed by the API server's
 * client CA, as k3s issues them.
 */
async function clientCertificate(
  dir: string,
  user: string,
): Promise<{ cert: string; key: string }> {
  const pki = `${dir}/pki`;
  const steps = [
    [
      "openssl",
      "ecparam",
      "-name",
      "prime256v1",
      "-genkey",
      "-noout",
      "-out",
      `${pki}/${user}.key`,
    ],
    [
      "openssl",
      "req",
      "-new",
      "-key",
      `${pki}/${user}.key`,
      "-subj",
      `/CN=${user}`,
      "-out",
      `${pki}/${user}.csr`,
    ],
    [
      "openssl",
      "x509",
      "-req",
      "-in",
      `${pki}/${user}.csr`,
      "-CA",
      `${pki}/client-ca.crt`,
      "-CAkey",
      `${pki}/client-ca.key`,
      "-set_serial",
      "0x1234",
      "-days",
      "1",
      "-sha256",
      "-extfile",
      `${pki}/client.ext`,
      "-out",
      `${pki}/${user}.crt`,
    ],
  ];
  for (const step of steps) {
    const result = await exec(step);
    if (result.code !== 0) {
      throw new Error(`${step.join(" ")}: ${result.stderr}`);
    }
  }
  return {
    cert: await Deno.readTextFile(`${pki}/${user}.crt`),
    key: await Deno.readTextFile(`${pki}/${user}.key`),
  };
}

Deno.test("Kubernetes source against a real kube-apiserver", {
  ignore: ignoreUnless(
    "the kube-apiserver peer, etcd (etcd-server), openssl and curl",
    await canRunKubeApiServer(),
  ),
}, async (t) => {
  const k: KubeApiServer = await startKubeApiServer();
  const forwarder = new RecordingForwarder();
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  const source = () =>
    agent!.supervisor.status().find((s) => s.name === "kubernetes");
  const until = (check: () => boolean, what: string, timeoutMs = 20_000) =>
    forwarder.until(check, what, timeoutMs);
  /** From the API server ready again to a service created then forwarded. */
  const readyToForwarded = async (port: number): Promise<number> => {
    const ready = performance.now();
    await k.applyService(`after-${port}`, "LoadBalancer", [{ port }]);
    await until(() => forwarder.keys.has(`tcp/0.0.0.0:${port}`), `${port}`);
    return performance.now() - ready;
  };
  try {
    await k.applyService("early", "NodePort", [{ port: 80, nodePort: 30080 }]);
    agent = await startAgent({
      ...TEST_OPTIONS,
      ...onlySources("kubernetes"),
      mode: "listeners",
      kubeconfig: k.kubeconfig,
      kubernetesPageSize: PAGE_SIZE,
    }, injected([forwarder]));

    await t.step("a service made before the agent is tracked", async () => {
      await until(() => forwarder.keys.has("tcp/0.0.0.0:30080"), "early");
      await until(() => source()?.state === "connected", "connected");
    });

    await t.step(
      "NodePort and LoadBalancer, TCP and UDP on one port",
      async () => {
        await k.applyService("dns", "NodePort", [
          { name: "dns", port: 53, nodePort: 30053, protocol: "UDP" },
          { name: "dns-tcp", port: 53, nodePort: 30053, protocol: "TCP" },
        ], "kube-system");
        await k.applyService("lb1", "LoadBalancer", [{ port: 8081 }]);
        await until(
          () =>
            forwarder.keys.has("tcp/0.0.0.0:30053") &&
            forwarder.keys.has("udp/0.0.0.0:30053") &&
            forwarder.keys.has("tcp/0.0.0.0:8081"),
          "dns and lb1",
        );
        const holder = agent!.tracker.bindings()
          .find((b) => b.key === "udp/0.0.0.0:30053")!.holders[0]!;
        assertEquals(holder.entry.name, "kube-system/dns");
      },
    );

    await t.step("port and type changes", async () => {
      await k.applyService("web", "NodePort", [{ port: 80, nodePort: 30090 }]);
      await until(() => forwarder.keys.has("tcp/0.0.0.0:30090"), "30090");
      await k.applyService("web", "NodePort", [{ port: 80, nodePort: 30091 }]);
      await until(
        () =>
          forwarder.keys.has("tcp/0.0.0.0:30091") &&
          !forwarder.keys.has("tcp/0.0.0.0:30090"),
        "moved to 30091",
      );
      await k.applyService("web", "ClusterIP", [{ port: 80 }]);
      await until(() => forwarder.keysWith(30091).length === 0, "ClusterIP");
      await k.applyService("web", "LoadBalancer", [{ port: 8090 }]);
      await until(() => forwarder.keys.has("tcp/0.0.0.0:8090"), "LB 8090");
    });

    await t.step(
      "two services sharing a port: the binding goes with the last",
      async () => {
        await k.applyService("share-a", "LoadBalancer", [{ port: 8095 }]);
        await k.applyService("share-b", "LoadBalancer", [{ port: 8095 }]);
        await until(
          () =>
            agent!.tracker.bindings().find((b) => b.key === "tcp/0.0.0.0:8095")
              ?.holders.length === 2,
          "two holders",
        );
        await k.deleteService("share-a");
        await until(
          () =>
            agent!.tracker.bindings().find((b) => b.key === "tcp/0.0.0.0:8095")
              ?.holders.length === 1,
          "one holder left",
        );
        assert(forwarder.keys.has("tcp/0.0.0.0:8095"));
        await k.deleteService("share-b");
        await until(() => !forwarder.keys.has("tcp/0.0.0.0:8095"), "gone");
      },
    );

    await t.step(
      "deleted and created again with the same ports: no flap",
      async () => {
        await k.applyService("again", "LoadBalancer", [{ port: 8099 }]);
        await until(() => forwarder.keys.has("tcp/0.0.0.0:8099"), "again");
        const uid = () =>
          agent!.tracker.bindings().find((b) => b.key === "tcp/0.0.0.0:8099")
            ?.holders[0]?.entry.ownerId;
        const before = uid();
        const mark = forwarder.history.length;
        await k.deleteService("again");
        await k.applyService("again", "LoadBalancer", [{ port: 8099 }]);
        await until(() => uid() !== undefined && uid() !== before, "new uid");
        // A service made afterwards, forwarded: the watch events and the
        // forwarder calls before it have all happened.
        await k.applyService("after-again", "LoadBalancer", [{ port: 8098 }]);
        await until(() => forwarder.keys.has("tcp/0.0.0.0:8098"), "8098");
        assertEquals(
          forwarder.history.slice(mark).filter((e) => e.endsWith(":8099")),
          [],
          "the binding was neither removed nor added again",
        );
      },
    );

    await t.step(
      `${
        count(SERVICES)
      } services; a fresh agent lists them ${PAGE_SIZE} to a page; the API server SIGKILLed and started again: all kept, a new one forwarded within 5 s of ready`,
      async () => {
        for (let i = 0; i < SERVICES; i += 25) {
          await Promise.all(
            Array.from(
              { length: 25 },
              (_, j) =>
                k.applyService(`bulk-${i + j}`, "LoadBalancer", [{
                  port: 20000 + i + j,
                }]),
            ),
          );
        }
        await until(
          () => forwarder.keysWith(LAST_SERVICE_PORT).length === 1,
          `${SERVICES} services`,
          60_000,
        );
        // The server pages at this size (it returns a continue token) …
        const { items, metadata } = await k.request(
          "GET",
          "/api/v1/services",
        ) as { items: unknown[]; metadata: unknown };
        assert(items.length > 2 * PAGE_SIZE, `${items.length} services`);
        const firstPage = await k.request(
          "GET",
          `/api/v1/services?limit=${PAGE_SIZE}`,
        ) as { items: unknown[]; metadata: { continue?: string } };
        assertEquals(firstPage.items.length, PAGE_SIZE);
        assert(firstPage.metadata.continue, JSON.stringify(metadata));
        // … and a fresh agent's first snapshot holds every NodePort and
        // LoadBalancer service of every page.
        const fresh = new SourceMessages();
        const second = await startAgent({
          ...TEST_OPTIONS,
          ...onlySources("kubernetes"),
          mode: "listeners",
          kubeconfig: k.kubeconfig,
          kubernetesPageSize: PAGE_SIZE,
        }, {
          ...injected([new RecordingForwarder()]),
          onSourceMessage: fresh.onSourceMessage,
        });
        try {
          const snapshot = () => {
            const found = fresh.seen.find(({ message }) =>
              message.type === "snapshot"
            )?.message;
            return found?.type === "snapshot" ? found : undefined;
          };
          await waitFor(
            () => snapshot() !== undefined,
            20_000,
            () => " for the fresh agent's first snapshot",
          );
          const ports = new Set(
            snapshot()!.entries.map((entry) => entry.binding.hostPort),
          );
          const bulk = Array.from({ length: SERVICES }, (_, i) => 20000 + i);
          assertEquals(bulk.filter((port) => !ports.has(port)), []);
          assert(ports.has(30080), "early, from the first page");
        } finally {
          await second.stop();
        }
        await k.stopApiServer("KILL");
        await k.deleteService("bulk-0").catch(() => {}); // refused: it is down
        await until(
          () => source()?.state === "reconnecting",
          "the source to notice",
        );
        await k.startApiServer();
        const took = await readyToForwarded(9001);
        assert(
          forwarder.keysWith(20000).length === 1 &&
            forwarder.keysWith(LAST_SERVICE_PORT).length === 1,
          `the ${SERVICES} are still there`,
        );
        assert(took < 5_000, `ready → forwarded took ${took.toFixed(0)} ms`);
        for (let i = 0; i < SERVICES; i += 50) {
          await Promise.all(
            Array.from(
              { length: 50 },
              (_, j) => k.deleteService(`bulk-${i + j}`),
            ),
          );
        }
        await until(
          () => forwarder.keysWith(LAST_SERVICE_PORT).length === 0,
          "all gone",
        );
      },
    );

    await t.step(
      `graceful SIGTERM, then down for ${
        DOWN_MS / 1000
      } s: the reason says the connection is refused; a new service forwarded within 5 s of ready; the worker never restarted`,
      async () => {
        await k.stopApiServer("TERM");
        await until(
          () => source()?.state === "reconnecting",
          "the source to notice",
        );
        await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
        const reason = source()?.reason ?? "";
        assert(
          !/signal has been aborted/i.test(reason),
          `a reason that says what happened: ${reason}`,
        );
        assert(
          /refused|connect/i.test(reason),
          `connection refused: ${reason}`,
        );
        await k.applyService("meanwhile", "LoadBalancer", [{ port: 9002 }])
          .catch(() => {}); // refused while down
        await k.startApiServer();
        const took = await readyToForwarded(9003);
        assert(took < 5_000, `ready → forwarded took ${took.toFixed(0)} ms`);
        assertEquals(
          source()?.restarts,
          0,
          "reconnected; the worker never crashed",
        );
      },
    );

    await t.step(
      "a user RBAC refuses: the reason names the user; allowed later, it lists within 5 s",
      async () => {
        const admin = await Deno.readTextFile(k.kubeconfig);
        const user = "guest-agent-limited";
        const { cert, key } = await clientCertificate(k.dir, user);
        await Deno.writeTextFile(
          k.kubeconfig,
          admin
            .replace(
              /client-certificate-data: \S+/,
              `client-certificate-data: ${btoa(cert)}`,
            )
            .replace(/client-key-data: \S+/, `client-key-data: ${btoa(key)}`),
        );
        await until(
          () =>
            /403/.test(source()?.reason ?? "") &&
            (source()?.reason ?? "").includes(user),
          "a 403 naming the user",
        );
        await k.request(
          "POST",
          "/apis/rbac.authorization.k8s.io/v1/clusterroles",
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: { name: "guest-agent-services" },
            rules: [{
              apiGroups: [""],
              resources: ["services"],
              verbs: ["list", "watch"],
            }],
          },
        );
        await k.request(
          "POST",
          "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
          {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: "guest-agent-services" },
            roleRef: {
              apiGroup: "rbac.authorization.k8s.io",
              kind: "ClusterRole",
              name: "guest-agent-services",
            },
            subjects: [{
              apiGroup: "rbac.authorization.k8s.io",
              kind: "User",
              name: user,
            }],
          },
        );
        const allowed = performance.now();
        await until(() => source()?.state === "connected", "allowed");
        const took = performance.now() - allowed;
        assert(took < 5_000, `allowed → listed took ${took.toFixed(0)} ms`);
        await k.applyService("as-limited", "LoadBalancer", [{ port: 9005 }]);
        await until(
          () => forwarder.keys.has("tcp/0.0.0.0:9005"),
          "as the limited user",
        );
        await Deno.writeTextFile(k.kubeconfig, admin);
      },
    );

    await t.step(
      "etcd restarted under a running API server: converges",
      async () => {
        const etcdPid = Number(
          (await Deno.readTextFile(`${k.dir}/etcd.pid`)).trim(),
        );
        Deno.kill(etcdPid, "SIGKILL");
        await waitFor(() => ended(etcdPid), 10_000, () => " for etcd to end");
        // The start script brings back what is not running: etcd only.
        await k.startApiServer();
        await readyToForwarded(9006);
        assertEquals(source()?.restarts, 0, "the worker never crashed");
      },
    );

    await t.step(
      "kubeconfig rewritten with new certificates: the source follows",
      async () => {
        await k.stopApiServer("TERM");
        // A new CA and client certificate, as k3s's rotation writes them.
        await exec(["rm", "-rf", `${k.dir}/pki`, k.kubeconfig]);
        await exec([
          peerPath("kube-apiserver-stop.sh"),
          k.dir,
        ]);
        await k.startApiServer();
        await readyToForwarded(9004);
        assert(forwarder.keys.has("tcp/0.0.0.0:30080"), "early still there");
      },
    );
  } finally {
    await agent?.stop();
    await k.stop();
  }
});
