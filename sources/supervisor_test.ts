import { FakeClock } from "../support/clock.ts";
import { waitFor } from "../tests/wait.ts";
import { assert, assertEquals, assertStringIncludes } from "../tests/assert.ts";
import { resetSync } from "@logtape/logtape";
import { findLibcPath } from "../support/libc.ts";
import { systemProbe } from "./probe.ts";
import { setupLogging } from "../support/logging.ts";
import { DEFAULT_OPTIONS } from "../agent/options.ts";
import { NO_PERMISSIONS } from "./descriptor.ts";
import { SOURCES } from "./registry.ts";
import { procnetSource } from "./procnet/source.ts";
import type { SourceMessage } from "./messages.ts";
import { SourceSupervisor } from "./supervisor.ts";

const CRASHING = new URL(
  "../tests/fixtures/crashing_source_worker.ts",
  import.meta.url,
);
const PROBE = new URL(
  "../tests/fixtures/permission_probe_worker.ts",
  import.meta.url,
);

function superviseCrashing(behaviour: string) {
  const received: SourceMessage[] = [];
  const supervisor = new SourceSupervisor([{
    name: "crashing",
    module: CRASHING,
    permissions: NO_PERMISSIONS,
    config: { behaviour, port: 1234 },
  }], {
    onPortMessage: (_source, message) => received.push(message),
    backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
  });
  return { supervisor, received };
}

Deno.test("SourceSupervisor restarts a worker that throws", async () => {
  const { supervisor, received } = superviseCrashing("throw");
  supervisor.start();
  await waitFor(() => (supervisor.status()[0]?.restarts ?? 0) >= 2);
  const status = supervisor.status()[0]!;
  assert(
    status.lastError?.includes("injected uncaught fault"),
    status.lastError,
  );
  assert(received.filter((m) => m.type === "snapshot").length >= 2);
  await supervisor.stop(500);
  assertEquals(supervisor.status()[0]?.worker, "stopped");
});

Deno.test("SourceSupervisor restarts a worker that reports a fatal error", async () => {
  const { supervisor, received } = superviseCrashing("fatal");
  supervisor.start();
  await waitFor(() => (supervisor.status()[0]?.restarts ?? 0) >= 2);
  assertEquals(supervisor.status()[0]?.lastError, "injected fatal fault");
  assertEquals(received[0]?.type, "snapshot");
  await supervisor.stop(500);
});

Deno.test("SourceSupervisor logs a worker's records under its source's category", async () => {
  const lines: string[] = [];
  setupLogging({ write: (line) => lines.push(line) });
  const { supervisor } = superviseCrashing("logs");
  try {
    supervisor.start();
    await waitFor(() => supervisor.status()[0]?.state === "connected");
  } finally {
    await supervisor.stop(2_000);
    resetSync();
  }
  const warned = lines.filter((line) =>
    line.includes("guest-agent·source·crashing: crashing: port 1234 from")
  );
  assertEquals(warned.length, 1, lines.join(""));
  assert(warned[0]!.includes("[WRN]"), warned[0]);
  assert(warned[0]!.includes("Error: the injected cause"), warned[0]);
  // The agent does not log debug here, so the worker did not post it.
  assert(
    !lines.some((line) => line.includes("a debug detail")),
    lines.join(""),
  );
});

Deno.test("SourceSupervisor drops malformed messages and keeps the worker", async () => {
  const lines: string[] = [];
  setupLogging({ write: (line) => lines.push(line) });
  const { supervisor, received } = superviseCrashing("garbage");
  supervisor.start();
  await waitFor(() => supervisor.status()[0]?.state === "connected");
  resetSync();
  assertEquals(received.map((m) => m.type), ["snapshot"]);
  const dropped = lines.filter((line) =>
    line.includes("crashing: dropped a malformed message")
  );
  assertEquals(dropped.length, 3, lines.join(""));
  assert(dropped[0]!.includes('"ownerId":5'), dropped[0]);
  assertEquals(supervisor.status()[0]?.restarts, 0);
  assertEquals(await supervisor.stop(2_000), [], "the worker answered stop");
});

Deno.test("SourceSupervisor terminates a worker that does not stop and says so", async () => {
  const lines: string[] = [];
  setupLogging({ write: (line) => lines.push(line) });
  const { supervisor } = superviseCrashing("deaf");
  try {
    supervisor.start();
    await waitFor(() => supervisor.status()[0]?.state === "connected");
    assertEquals(await supervisor.stop(200), ["crashing"]);
  } finally {
    resetSync();
  }
  assertEquals(supervisor.status()[0]?.worker, "stopped");
  assert(
    lines.some((line) =>
      line.includes("crashing did not stop within 200 ms; terminated")
    ),
    lines.join(""),
  );
});

/** A shared library every Debian system has, other than libc. */
function findOtherLibrary(): string {
  for (
    const path of [
      "/lib/x86_64-linux-gnu/libm.so.6",
      "/lib/aarch64-linux-gnu/libm.so.6",
      "/usr/lib/x86_64-linux-gnu/libm.so.6",
      "/usr/lib/aarch64-linux-gnu/libm.so.6",
    ]
  ) {
    try {
      Deno.statSync(path);
      return path;
    } catch { /* next */ }
  }
  throw new Error("no libm found");
}

Deno.test("each source's real grants: what a worker can and cannot do", async (t) => {
  const secretDir = await Deno.makeTempDir();
  const secretJson = `${secretDir}/secret.json`;
  await Deno.writeTextFile(secretJson, '{"token":"s3cret"}', { mode: 0o600 });
  // Facts that grant each source what it has on a real machine: the probe
  // proves that everything else stays denied.
  const facts = {
    libcPath: findLibcPath(),
    // As the agent grants them: the paths on PATH, not their targets.
    iptablesSave: [
      await systemProbe.which("iptables-save") ?? "/usr/sbin/iptables-save",
    ],
    ip6tablesSave: [
      await systemProbe.which("ip6tables-save") ?? "/usr/sbin/ip6tables-save",
    ],
    kubeconfig: {
      server: "https://127.0.0.1:6443",
      hostPort: "127.0.0.1:6443",
      files: ["/etc/rancher/k3s/ca.crt"],
      connection: {
        server: "https://127.0.0.1:6443",
        ca: { file: "/etc/rancher/k3s/ca.crt" },
      },
      warnings: [],
    },
  };
  for (const source of SOURCES) {
    const name = source.name;
    await t.step(name, async () => {
      const worker = new Worker(PROBE, {
        type: "module",
        deno: {
          permissions: source.worker.permissions(DEFAULT_OPTIONS, facts),
        },
      });
      try {
        const result = await new Promise<Record<string, string>>(
          (resolve, reject) => {
            worker.onmessage = (event) => resolve(event.data);
            worker.onerror = (event) => {
              event.preventDefault();
              reject(new Error(event.message));
            };
            worker.postMessage({
              secretJson,
              libcPath: facts.libcPath,
              otherLibrary: findOtherLibrary(),
            });
          },
        );
        // What holds, as the README's isolation table says: every grant
        // denies all of this, except that a worker with FFI on libc can
        // call libc's system() (FFI is not sandboxed). An import of a local
        // file at run time is checked against the read grant (a literal
        // specifier in a module's own source is loaded with the agent's
        // rights when the agent starts: only our own code has those).
        const hasFfi = name === "iptables" || name === "procnet";
        const { importError, ...outcomes } = result;
        assertStringIncludes(importError ?? "", "Requires read access");
        assertEquals(outcomes, {
          run: "NotCapable",
          runMultiCallBinary: "NotCapable",
          readSecret: "NotCapable",
          importSecret: "TypeError",
          writeTemp: "NotCapable",
          connectOut: "NotCapable",
          listenIn: "NotCapable",
          env: "NotCapable",
          dlopenOtherLibrary: "NotCapable",
          libcSystem: hasFfi ? "allowed" : "NotCapable",
          nestedWorkerWithMoreRights: "NotCapable",
        });
      } finally {
        worker.terminate();
      }
    });
  }
  await Deno.remove(secretDir, { recursive: true });
});

Deno.test("the procnet worker reads /proc/net with its narrow grant", async () => {
  const facts = { libcPath: findLibcPath() };
  const { worker } = procnetSource;
  const received: SourceMessage[] = [];
  const supervisor = new SourceSupervisor([{
    name: "procnet",
    module: worker.module,
    permissions: worker.permissions(DEFAULT_OPTIONS, facts),
    config: { ...worker.config(DEFAULT_OPTIONS, facts), intervalMs: 50 },
  }], { onPortMessage: (_source, message) => received.push(message) });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    supervisor.start();
    const key = `tcp/127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    await waitFor(() =>
      received.some((m) =>
        m.type === "snapshot" && m.entries.some((e) => e.ownerId === key)
      )
    );
    assertEquals(supervisor.status()[0]?.state, "connected");
  } finally {
    listener.close();
    await supervisor.stop(1_000);
  }
});

Deno.test("SourceSupervisor.replace() swaps a running worker for one with a new configuration", async () => {
  const received: { port: number }[] = [];
  const supervisor = new SourceSupervisor([], {
    onPortMessage: (_source, message) => {
      if (message.type === "snapshot") {
        received.push({ port: message.entries[0]!.binding.hostPort });
      }
    },
  });
  const source = (port: number) => ({
    name: "swapped",
    module: CRASHING,
    permissions: NO_PERMISSIONS,
    config: { behaviour: "steady", port },
  });
  supervisor.start();
  supervisor.replace(source(1111)); // added
  await waitFor(() => received.length === 1);
  supervisor.replace(source(2222)); // replaced
  await waitFor(() => received.length === 2);
  assertEquals(received, [{ port: 1111 }, { port: 2222 }]);
  assertEquals(supervisor.status().map((s) => [s.name, s.restarts]), [
    ["swapped", 0],
  ]);
  // The replaced worker had 2 s to stop and answered at once: stop() waits
  // for it and reports nothing terminated.
  assertEquals(await supervisor.stop(500), []);
});

Deno.test("SourceSupervisor.replace() terminates a replaced worker that does not stop, on the supervisor's clock", async () => {
  const clock = new FakeClock();
  const supervisor = new SourceSupervisor([], {
    clock,
    onPortMessage: () => {},
  });
  const source = (behaviour: string) => ({
    name: "stubborn",
    module: CRASHING,
    permissions: NO_PERMISSIONS,
    config: { behaviour, port: 1 },
  });
  supervisor.start();
  supervisor.replace(source("deaf"));
  await waitFor(() => supervisor.status()[0]?.state === "connected");
  supervisor.replace(source("steady"), 2_000);
  await clock.advance(2_000); // the replaced worker's grace, on the fake clock
  // The new worker answers the stop at once; the replaced one was terminated.
  assertEquals(await supervisor.stop(60_000), ["stubborn (replaced)"]);
});
