/**
 * The release where its users run it: `deno task release`'s archive unpacked
 * into Alpine-like roots (busybox and musl, no glibc until the archive brings
 * its own; tests/alpine_root.ts), started by its launcher with a service
 * manager's environment.
 *
 * amd64: the root's busybox tar unpacks it; the OpenRC script's start_pre and
 * command start the launcher; privileged mode against a real dockerd (its
 * socket bound into the root), the agent in a network namespace with a
 * receiver there in the privileged service's place, over TCP so the libc
 * socket sender runs on the bundled glibc; a listener in that namespace
 * through the /proc/net source; `ports` and `status` from inside the root;
 * SIGTERM. arm64: under qemu in a user namespace of its own, `--version`
 * and auto mode seeing a listener through /proc/net (FFI on arm64's glibc).
 *
 * @module
 */
import { mappedCLibraries } from "./process_maps.ts";
import { liveMappings } from "./port_mapping_replay.ts";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { buildRelease } from "../build/release.ts";
import type { ReleaseArch } from "../build/release_inputs.ts";
import { LAUNCHER_PATH, LIB_DIR } from "../build/release_layout.ts";
import {
  buildAlpineLikeRoot,
  canEmulateArm64,
  glibcFilesIn,
  runInRoot,
  spawnInRoot,
  unpackRelease,
} from "./alpine_root.ts";
import {
  canRunDockerd,
  HTTPD,
  startDockerd,
  TEST_IMAGE,
} from "./engines/dockerd.ts";
import { haveCommands } from "./engines/daemon_support.ts";
import { collectText } from "./agent_process.ts";
import { createTestNamespace, exec } from "./netns.ts";
import { ignoreUnless } from "./requirements.ts";
import { waitFor } from "./wait.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const CACHE = `${ROOT}dist/cache`;
const LAUNCHER = `/usr/local/${LAUNCHER_PATH}`;
const BUNDLED_LIBC = `/usr/local/${LIB_DIR}/libc.so.6`;
const BUILD_TOOLS = [
  "npm",
  "apt-get",
  "dpkg-deb",
  "tar",
  "gzip",
  "unshare",
  "chroot",
  "nsenter",
];

const canBuild = Deno.uid() === 0 && await haveCommands(BUILD_TOOLS);
const arm64Packages = (await exec(["dpkg", "--print-foreign-architectures"]))
  .stdout.split("\n").includes("arm64");

/** The release for `arch` unpacked into a new Alpine-like root under `dir`. */
async function rootWithRelease(
  arch: ReleaseArch,
  dir: string,
): Promise<string> {
  const [archive] = await buildRelease({
    outDir: `${dir}/release`,
    cacheDir: CACHE,
    arches: [arch],
  });
  const root = `${dir}/root`;
  await buildAlpineLikeRoot(arch, root, CACHE);
  assertEquals(
    await glibcFilesIn(root),
    [],
    "glibc in the root before the archive",
  );
  await unpackRelease(root, archive!.path, arch);
  return root;
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  JSON.stringify(a) === JSON.stringify(b);

Deno.test(
  "release amd64 in an Alpine-like root: busybox unpacks it, OpenRC's command starts it, privileged mode with dockerd and /proc/net, ports and status inside, one libc, SIGTERM removes all",
  {
    ignore: ignoreUnless(
      `root, dockerd, busybox, ip netns and ${BUILD_TOOLS.join(", ")}`,
      canBuild && await canRunDockerd(),
    ),
  },
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "garelamd64" });
    const cleanups: (() => Promise<unknown>)[] = [
      async () => await Deno.remove(dir, { recursive: true }),
    ];
    try {
      const root = await rootWithRelease("amd64", dir);

      await t.step(
        "--version, --help and a bad flag (exit 2, one line)",
        async () => {
          const version = await runInRoot(root, [LAUNCHER, "--version"]);
          assertEquals([version.code, version.stderr], [0, ""]);
          assert(/^\d+\.\d+\.\d+\n$/.test(version.stdout), version.stdout);
          const help = await runInRoot(root, [LAUNCHER, "--help"]);
          assertEquals(help.code, 0, help.stderr);
          assertStringIncludes(help.stdout, "-privilegedService");
          const bad = await runInRoot(root, [LAUNCHER, "-docker=maybe"]);
          assertEquals(bad.code, 2);
          assertEquals(bad.stderr.trimEnd().split("\n"), [
            'guest-agent: Cannot use "maybe" for -docker: accepted values are true and false',
          ]);
        },
      );

      await t.step(
        "OpenRC's script, as installed from the archive, starts the launcher with its conf.d flags",
        async () => {
          const share = "/usr/local/share/guest-agent";
          const started = await runInRoot(root, [
            "/bin/sh",
            "-c",
            `mkdir -p /etc/init.d /etc/conf.d
cp ${share}/rancher-desktop-guestagent.openrc /etc/init.d/rancher-desktop-guestagent
cp ${share}/rancher-desktop-guestagent.confd /etc/conf.d/rancher-desktop-guestagent
set -a; . /etc/conf.d/rancher-desktop-guestagent; set +a
. /etc/init.d/rancher-desktop-guestagent
start_pre
echo "$command $command_args"
exec $command $command_args --version`,
          ]);
          assertEquals(started.code, 0, started.stderr);
          const [commandLine, version] = started.stdout.trimEnd().split("\n");
          assertEquals(
            commandLine,
            `${LAUNCHER} -docker -kubernetes=true -iptables=true -privilegedService=false -k8sServiceListenerAddr=127.0.0.1 -debug=false`,
          );
          assert(/^\d+\.\d+\.\d+$/.test(version ?? ""), started.stdout);
        },
      );

      const d = await startDockerd();
      cleanups.unshift(() => d.stop());
      const ns = await createTestNamespace("ga-release");
      cleanups.unshift(() => ns.delete());
      const receiverPort = 18290;
      const receiver = ns.spawn(
        [
          Deno.execPath(),
          "run",
          "--allow-net",
          `${ROOT}tests/fixtures/line_receiver_process.ts`,
          String(receiverPort),
        ],
        { stdout: "piped", stderr: "null" },
      );
      cleanups.unshift(async () => {
        receiver.kill("SIGKILL");
        await receiver.status;
      });
      const receiverOutput = collectText(receiver.stdout);
      const messages = () =>
        receiverOutput.text().split("\n").filter((line) => line.startsWith('"'))
          .map((line) => JSON.parse(line) as string);
      await waitFor(
        () => receiverOutput.text().startsWith("listening\n"),
        20_000,
        () => " for the receiver",
      );

      const lo = JSON.parse(
        (await ns.run(["ip", "-j", "addr", "show", "dev", "lo"])).stdout,
      ) as {
        addr_info: { local: string; prefixlen: number }[];
      }[];
      const connectAddrs = JSON.stringify(
        lo[0]!.addr_info.map((a) => ({
          network: "ip+net",
          addr: `${a.local}/${a.prefixlen}`,
        })),
      );
      const add = (hostIp: string, hostPort: number, containerPort: number) =>
        `{"remove":false,"ports":{"${containerPort}/tcp":[{"HostIp":"${hostIp}","HostPort":"${hostPort}"}]},"connectAddrs":${connectAddrs}}\n`;

      await Deno.writeTextFile(`${root}/var/run/docker.sock`, "");
      const agent = spawnInRoot(root, [
        LAUNCHER,
        "-privilegedService",
        "-docker",
        `-vtunnelAddr=127.0.0.1:${receiverPort}`,
        "--connect-interface=lo",
        "--procnet",
        // The receiver listens in the agent's namespace: not a port to forward.
        `--ignore-port=${receiverPort}`,
      ], {
        enter: ns.enter,
        binds: [{ from: d.socket, to: "/var/run/docker.sock" }],
      });
      let agentRunning = true;
      cleanups.unshift(async () => {
        if (agentRunning) agent.child.kill("SIGKILL");
        await agent.child.status;
      });
      const settle = (check: () => boolean, what: string) =>
        waitFor(
          check,
          60_000,
          () =>
            ` for ${what}: received ${
              JSON.stringify(messages())
            }\nagent log:\n${agent.stderr.text()}`,
        );
      await settle(
        () =>
          /docker is connected/.test(agent.stderr.text()) &&
          /procnet is connected/.test(agent.stderr.text()),
        "docker and procnet connected",
      );

      await t.step(
        "docker run -p sends exactly the adds of 0.0.0.0 and :: to the receiver",
        async () => {
          await d.docker([
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            "18293:8080",
            TEST_IMAGE,
            ...HTTPD,
          ]);
          const expected = [add("0.0.0.0", 18293, 8080), add("::", 18293, 8080)]
            .sort();
          await settle(
            () => sameList(messages().slice().sort(), expected),
            "the two adds",
          );
          assertEquals(messages().slice().sort(), expected);
        },
      );

      await t.step(
        "a listener in the agent's namespace reaches the receiver through /proc/net",
        async () => {
          const listener = ns.spawn([
            Deno.execPath(),
            "eval",
            "Deno.listen({ hostname: '0.0.0.0', port: 18294 }); setInterval(() => {}, 60_000)",
          ]);
          cleanups.unshift(async () => {
            listener.kill("SIGKILL");
            await listener.status;
          });
          const expected = [
            add("0.0.0.0", 18293, 8080),
            add("::", 18293, 8080),
            add("0.0.0.0", 18294, 18294),
          ].sort();
          await settle(
            () => sameList(messages().slice().sort(), expected),
            "the listener's add",
          );
          assertEquals(messages().slice().sort(), expected);
        },
      );

      await t.step(
        "ports and status, run inside the root, show the three bindings, docker and procnet connected, iptables waiting for a binary",
        async () => {
          const ports = await runInRoot(root, [LAUNCHER, "ports", "--json"]);
          assertEquals(ports.code, 0, ports.stderr);
          const keys = (JSON.parse(ports.stdout) as { key: string }[]).map((
            p,
          ) => p.key).sort();
          assertEquals(keys, [
            "tcp/0.0.0.0:18293",
            "tcp/0.0.0.0:18294",
            "tcp/[::]:18293",
          ]);
          const status = await runInRoot(root, [LAUNCHER, "status", "--json"]);
          assertEquals(status.code, 0, status.stderr);
          const sources = (JSON.parse(status.stdout) as {
            sources: { name: string; state: string; reason?: string }[];
          }).sources;
          assertEquals(sources.map((s) => `${s.name} ${s.state}`).sort(), [
            "docker connected",
            "iptables waiting",
            "procnet connected",
          ]);
          // The root has no iptables: the default -iptables=true says so.
          assertStringIncludes(
            sources.find((s) => s.name === "iptables")?.reason ?? "",
            "it was not on PATH when the agent started",
          );
        },
      );

      await t.step(
        "the agent maps the bundled glibc and no other C library",
        async () => {
          assertEquals(await mappedCLibraries(agent.child.pid), [
            `${root}${BUNDLED_LIBC}`,
          ]);
        },
      );

      await t.step("docker rm -f sends the removes", async () => {
        await d.docker(["rm", "-f", "web"]);
        await settle(
          () => sameList(liveMappings(messages()), ["18294/tcp 0.0.0.0 18294"]),
          "the removes",
        );
      });

      await t.step("SIGTERM removes every binding and exits 0", async () => {
        agent.child.kill("SIGTERM");
        const { code } = await agent.child.status;
        agentRunning = false;
        assertEquals(code, 0, agent.stderr.text());
        assertEquals(liveMappings(messages()), []);
        assertStringIncludes(
          agent.stderr.text(),
          "stopped; every forwarded binding was removed",
        );
      });
    } finally {
      for (const cleanup of cleanups) await cleanup().catch(() => {});
    }
  },
);

/** The PID of `pid`'s only child (unshare --fork's command). */
async function onlyChild(pid: number): Promise<number | undefined> {
  try {
    const children =
      (await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`)).trim()
        .split(/\s+/);
    return children.length === 1 && children[0]
      ? Number(children[0])
      : undefined;
  } catch {
    return undefined;
  }
}

Deno.test(
  "release arm64 under qemu in an Alpine-like arm64 root: --version, and auto mode sees a listener through /proc/net read with the bundled glibc",
  {
    ignore: ignoreUnless(
      `root, ${
        BUILD_TOOLS.join(", ")
      }, Debian's arm64 packages (dpkg --add-architecture arm64), qemu-user-static and binfmt_misc in a user namespace (Linux 6.7+)`,
      canBuild && arm64Packages && await canEmulateArm64(),
    ),
  },
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "garelarm64" });
    let agent: ReturnType<typeof spawnInRoot> | undefined;
    try {
      const root = await rootWithRelease("arm64", dir);
      const deno = await Deno.readFile(`${root}/usr/local/${LIB_DIR}/deno`);
      assertEquals(
        [deno[18], deno[19]],
        [0xb7, 0x00],
        "Deno's ELF machine is aarch64",
      );

      await t.step("--version", async () => {
        const version = await runInRoot(root, [LAUNCHER, "--version"], {
          emulateArm64: true,
        });
        assertEquals(version.code, 0, version.stderr);
        assert(/^\d+\.\d+\.\d+\n$/.test(version.stdout), version.stdout);
      });

      await t.step(
        "auto mode: /proc/net is read through the bundled glibc and a new listener appears",
        async () => {
          agent = spawnInRoot(root, [LAUNCHER], { emulateArm64: true });
          const log = () => agent!.stderr.text();
          const settle = (check: () => boolean, what: string) =>
            waitFor(check, 120_000, () => ` for ${what}; agent log:\n${log()}`);
          await settle(
            () => log().includes("procnet is connected"),
            "procnet connected",
          );
          assertStringIncludes(
            log(),
            `source procnet: enabled (/proc/net exists; read through ${BUNDLED_LIBC})`,
          );
          const child = await onlyChild(agent.child.pid);
          assert(child !== undefined, "no process under unshare");
          const listener = new Deno.Command("nsenter", {
            args: [
              `--target=${child}`,
              "--net",
              "--",
              Deno.execPath(),
              "eval",
              "Deno.listen({ port: 18295 }); setInterval(() => {}, 60_000)",
            ],
            stdin: "null",
          }).spawn();
          try {
            await settle(
              () =>
                log().includes(
                  "tcp/0.0.0.0:18295 appeared (held by procnet:tcp/0.0.0.0:18295)",
                ),
              "the listener",
            );
          } finally {
            listener.kill("SIGKILL");
            await listener.status;
          }
          Deno.kill(child, "SIGTERM");
          assertEquals((await agent.child.status).code, 0, log());
          agent = undefined;
        },
      );
    } finally {
      if (agent) {
        agent.child.kill("SIGKILL");
        await agent.child.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
);
