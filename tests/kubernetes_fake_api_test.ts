/**
 * The Kubernetes source against a FAKE API server (tests/fake_kube_api.ts)
 * for what the real kube-apiserver (tests/kubernetes_apiserver_e2e_test.ts)
 * cannot be made to do on demand: a 410 in the middle of a watch, a dropped
 * watch, bookmarks at will, hostile service bodies, a kubeconfig moved to
 * another server, mutual TLS with throwaway certificates. The fake speaks
 * the real list + watch HTTP protocol to the agent's own client
 * (sources/kubernetes/kube_api.ts) in the real worker with its permissions;
 * the agent observed through a recording forwarder.
 *
 * @module
 */
import { assert, assertEquals } from "./assert.ts";
import { FakeKubeApi, fakeService } from "./fake_kube_api.ts";
import { onlySources, TEST_OPTIONS } from "./test_options.ts";
import { injected, RecordingForwarder } from "./recording_forwarder.ts";
import { startAgent } from "../agent/run_agent.ts";
import { makeTestCertificates } from "./test_certificates.ts";

const TCP_UDP_53 = [
  { name: "dns", port: 53, nodePort: 30053, protocol: "UDP" },
  { name: "dns-tcp", port: 53, nodePort: 30053, protocol: "TCP" },
];

Deno.test("Kubernetes source against a fake API server speaking list + watch", async (t) => {
  const api = new FakeKubeApi();
  await api.start();
  const dir = await Deno.makeTempDir({ prefix: "gak8s" });
  const kubeconfig = `${dir}/rancher/k3s/k3s.yaml`;
  const forwarder = new RecordingForwarder();
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  const status = () =>
    agent!.supervisor.status().find((s) => s.name === "kubernetes");
  try {
    api.apply(
      fakeService("early", "NodePort", [{ port: 80, nodePort: 30080 }]),
    );
    agent = await startAgent({
      ...TEST_OPTIONS,
      ...onlySources("kubernetes"),
      mode: "listeners",
      kubeconfig,
    }, injected([forwarder]));

    await t.step(
      "with -kubernetes the API port is forwarded at once",
      async () => {
        await forwarder.until(
          () => forwarder.keys.has("tcp/127.0.0.1:6443"),
          "the API port",
        );
        assertEquals(status(), undefined, "no worker before the kubeconfig");
      },
    );

    await t.step(
      "a kubeconfig written after the start: services present before are tracked",
      async () => {
        await Deno.mkdir(`${dir}/rancher/k3s`, { recursive: true });
        await Deno.writeTextFile(kubeconfig, api.kubeconfig());
        await forwarder.until(
          () => forwarder.keys.has("tcp/0.0.0.0:30080"),
          "the early service",
        );
        await forwarder.until(
          () => status()?.state === "connected",
          "the source connected",
        );
      },
    );

    await t.step(
      "added, TCP and UDP on one port, modified, type changes, deleted",
      async () => {
        api.apply(fakeService("dns", "NodePort", TCP_UDP_53, "kube-system"));
        await forwarder.until(
          () => forwarder.keysWith(30053).length === 2,
          "tcp and udp 30053",
        );
        assertEquals(forwarder.keysWith(30053), [
          "tcp/0.0.0.0:30053",
          "udp/0.0.0.0:30053",
        ]);
        const entry =
          forwarder.details.get("udp/0.0.0.0:30053")!.holders[0]!.entry;
        assertEquals([entry.ownerId, entry.name, entry.namespace], [
          "dns",
          "kube-system/svc-dns",
          "kube-system",
        ]);

        api.apply(
          fakeService("early", "NodePort", [{ port: 80, nodePort: 30081 }]),
        );
        await forwarder.until(
          () =>
            forwarder.keys.has("tcp/0.0.0.0:30081") &&
            !forwarder.keys.has("tcp/0.0.0.0:30080"),
          "the port change",
        );
        api.apply(fakeService("early", "ClusterIP", [{ port: 80 }]));
        await forwarder.until(
          () => forwarder.keysWith(30081).length === 0,
          "NodePort → ClusterIP",
        );
        api.apply(
          fakeService("early", "LoadBalancer", [{
            port: 8443,
            nodePort: 30443,
          }]),
        );
        await forwarder.until(
          () => forwarder.keys.has("tcp/0.0.0.0:8443"),
          "ClusterIP → LoadBalancer",
        );
        assertEquals(
          forwarder.keysWith(30443),
          [],
          "a LoadBalancer publishes its port, not its nodePort",
        );
        api.delete("dns");
        await forwarder.until(
          () => forwarder.keysWith(30053).length === 0,
          "dns deleted",
        );
      },
    );

    await t.step(
      "hostile service objects are skipped; the rest carries on",
      async () => {
        api.apply({
          metadata: { name: "bad", namespace: "default", uid: "bad" },
          spec: {
            type: "NodePort",
            ports: [{ port: 1, nodePort: 99999 }, {
              port: 2,
              nodePort: 30002,
              protocol: "SCTP",
            }],
          },
        });
        api.apply(
          fakeService("after-bad", "NodePort", [{ port: 3, nodePort: 30003 }]),
        );
        await forwarder.until(
          () => forwarder.keys.has("tcp/0.0.0.0:30003"),
          "after-bad",
        );
        assertEquals(forwarder.keysWith(30002), []);
        assertEquals(status()?.restarts, 0);
      },
    );

    await t.step(
      "a dropped watch resumes from its resourceVersion; bookmarks are taken",
      async () => {
        api.bookmark();
        const bookmarked = api.resourceVersion;
        // The bookmark is queued on the stream before the drop closes it:
        // the agent reads it before the stream's end.
        const lists = api.requests.filter((r) =>
          !r.includes("watch=true")
        ).length;
        api.dropWatches();
        api.apply(
          fakeService("while-dropped", "NodePort", [{
            port: 4,
            nodePort: 30004,
          }]),
        );
        await forwarder.until(
          () => forwarder.keys.has("tcp/0.0.0.0:30004"),
          "a change while the watch was down",
        );
        assertEquals(
          api.requests.filter((r) => !r.includes("watch=true")).length,
          lists,
          "no relist",
        );
        assert(
          api.requests.some((request) => {
            const query = new URL(request, "http://x").searchParams;
            return query.get("watch") === "true" &&
              query.get("resourceVersion") === String(bookmarked);
          }),
          `resumed from the bookmark's version ${bookmarked}: ${api.requests}`,
        );
      },
    );

    await t.step("410 Gone: relists and converges", async () => {
      api.compact();
      api.delete("after-bad"); // history compacted: only a relist can say so
      api.expireWatches();
      await forwarder.until(
        () => !forwarder.keys.has("tcp/0.0.0.0:30003"),
        "after-bad gone by relist",
      );
    });

    await t.step(
      "an error status, then a server restart with changes while down",
      async () => {
        await api.stop();
        api.delete("while-dropped");
        api.apply(
          fakeService("while-down", "NodePort", [{ port: 5, nodePort: 30005 }]),
        );
        api.compact();
        await forwarder.until(
          () => status()?.state === "reconnecting",
          "reconnecting",
        );
        api.failNext(500);
        api.failNext(403, "Forbidden");
        await api.start();
        await forwarder.until(
          () =>
            forwarder.keys.has("tcp/0.0.0.0:30005") &&
            !forwarder.keys.has("tcp/0.0.0.0:30004") &&
            forwarder.keys.has("tcp/0.0.0.0:8443"),
          "the truth after the restart",
        );
        await forwarder.until(
          () => status()?.state === "connected",
          "connected",
        );
        assertEquals(
          status()?.restarts,
          0,
          "the worker reconnected; it did not crash",
        );
      },
    );

    await t.step(
      "a rewritten kubeconfig with a new server restarts the worker with the new grant",
      async () => {
        const other = new FakeKubeApi();
        await other.start();
        try {
          other.apply(
            fakeService("elsewhere", "NodePort", [{
              port: 6,
              nodePort: 30006,
            }]),
          );
          await Deno.writeTextFile(`${kubeconfig}.new`, other.kubeconfig());
          await Deno.rename(`${kubeconfig}.new`, kubeconfig);
          await forwarder.until(
            () =>
              forwarder.keys.has("tcp/0.0.0.0:30006") &&
              !forwarder.keys.has("tcp/0.0.0.0:30005"),
            "the other server's services only",
          );
          // Stop while the worker idles in a watch: that is when the Docker
          // worker's events read once outlived its abort (see readLines); a
          // stop must end the watch, not wait for the grace time.
          await forwarder.until(
            () => other.requests.some((r) => r.includes("watch=true")),
            "a watch open on the other server",
          );
          const report = await agent!.stop();
          assertEquals(report.terminatedSources, [], "the worker stopped");
        } finally {
          await agent?.stop();
          agent = undefined;
          await other.stop();
        }
      },
    );
  } finally {
    await agent?.stop();
    await api.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Kubernetes source over mutual TLS with a k3s-shaped kubeconfig (FAKE API server, real certificates)", async () => {
  const api = new FakeKubeApi({ tls: await makeTestCertificates() });
  await api.start();
  const dir = await Deno.makeTempDir({ prefix: "gak8stls" });
  const kubeconfig = `${dir}/k3s.yaml`;
  const forwarder = new RecordingForwarder();
  let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
  try {
    for (let i = 0; i < 3; i++) {
      api.apply(
        fakeService(`tls${i}`, "NodePort", [{ port: 80, nodePort: 31000 + i }]),
      );
    }
    await Deno.writeTextFile(kubeconfig, api.kubeconfig());
    agent = await startAgent({
      ...TEST_OPTIONS,
      ...onlySources("kubernetes"),
      mode: "listeners",
      kubeconfig,
    }, injected([forwarder]));
    await forwarder.until(
      () =>
        [0, 1, 2].every((i) => forwarder.keys.has(`tcp/0.0.0.0:${31000 + i}`)),
      "the services listed over TLS",
    );
    api.apply(
      fakeService("tls-late", "LoadBalancer", [{ port: 8080 }]),
    );
    await forwarder.until(
      () => forwarder.keys.has("tcp/0.0.0.0:8080"),
      "a service added through the TLS watch",
    );
    assertEquals(
      agent.supervisor.status().find((s) => s.name === "kubernetes")?.state,
      "connected",
    );
  } finally {
    await agent?.stop();
    await api.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
