import { assert, assertEquals, assertStringIncludes } from "../tests/assert.ts";
import { BOOLEAN_OPTIONS, parseCommandLine } from "./cli.ts";
import { GO_FLAGS, normaliseGoFlags } from "./go_flags.ts";
import { type AgentOptions, allOptionSpecs } from "../agent/options.ts";
import { SOURCES } from "../sources/registry.ts";
import { VERSION } from "../agent/version.ts";

function run(argv: string[], env = {}): AgentOptions {
  const result = parseCommandLine(argv, env);
  if (result.kind !== "run") {
    throw new Error(`expected options for ${argv.join(" ")}: ${result.stderr}`);
  }
  return result.options;
}

function usageError(argv: string[]): string {
  const result = parseCommandLine(argv);
  assertEquals(result.kind, "exit", argv.join(" "));
  if (result.kind !== "exit") throw new Error("unreachable");
  assertEquals(result.code, 2);
  assertEquals(result.stderr.split("\n").length, 2, "one line");
  assert(result.stderr.startsWith("guest-agent: "));
  return result.stderr;
}

Deno.test("parseCommandLine() with no flags is auto mode", () => {
  const options = run([]);
  assertEquals(options.mode, "auto");
  assertEquals(options.vtunnelAddr, "127.0.0.1:3040");
  assertEquals(options.docker && options.procnet && options.iptables, true);
});

Deno.test("parseCommandLine() accepts every Go boolean form", async (t) => {
  for (
    const form of [
      "-docker",
      "--docker",
      "-docker=true",
      "-docker=1",
      "--docker=T",
    ]
  ) {
    await t.step(form, () => {
      const options = run([form]);
      assertEquals(options.docker, true);
      assertEquals(options.mode, "host-switch");
      assertEquals(options.iptables, true, "Go's default");
    });
  }
  for (const form of ["-docker=false", "--docker=0", "-docker=F"]) {
    await t.step(form, () => {
      const options = run(["-iptables", form]);
      assertEquals(options.docker, false);
      assertEquals(options.mode, "listeners");
    });
  }
});

Deno.test("parseCommandLine() accepts every Go value form", async (t) => {
  const forms: [string, string[]][] = [
    ["-name=value", ["-vtunnelAddr=127.0.0.1:4000"]],
    ["-name value", ["-vtunnelAddr", "127.0.0.1:4000"]],
    ["--name=value", ["--vtunnelAddr=127.0.0.1:4000"]],
    ["--name value", ["--vtunnelAddr", "127.0.0.1:4000"]],
    ["our own", ["--vtunnel-addr", "127.0.0.1:4000"]],
  ];
  for (const [name, args] of forms) {
    await t.step(name, () => {
      const options = run(["-privilegedService", "-docker", ...args]);
      assertEquals(options.vtunnelAddr, "127.0.0.1:4000");
      assertEquals(options.mode, "privileged");
    });
  }
});

Deno.test("parseCommandLine() reads every Go flag", () => {
  const options = run([
    "-debug",
    "-kubeconfig=/k.yaml",
    "-iptables=false",
    "-kubernetes",
    "-containerd",
    "-containerdSock",
    "/c.sock",
    "-vtunnelAddr=vsock://2:17381",
    "-privilegedService=true",
    "-k8sServiceListenerAddr=127.0.0.1",
    "-adminInstall",
    "-k8sAPIPort=7443",
    "-tap-interface-ip=192.168.127.9",
  ]);
  assertEquals(options, {
    ...options,
    mode: "privileged",
    debug: true,
    kubeconfig: "/k.yaml",
    iptables: false,
    kubernetes: true,
    containerd: true,
    docker: false,
    containerdSocket: "/c.sock",
    vtunnelAddr: "vsock://2:17381",
    privilegedService: true,
    k8sServiceListenerAddr: "127.0.0.1",
    adminInstall: true,
    k8sApiPort: 7443,
    tapInterfaceIp: "192.168.127.9",
  });
});

Deno.test("parseCommandLine() reads our own options", () => {
  const options = run([
    "--log-format=json",
    "--dry-run",
    "--no-docker",
    "--ignore-port",
    "22",
    "--ignore-port=2375",
    "--procnet-interval",
    "250",
    "--shutdown-timeout=1000",
  ]);
  assertEquals(options.mode, "auto");
  assertEquals(options.docker, false);
  assertEquals(options.logFormat, "json");
  assertEquals(options.dryRun, true);
  assertEquals(options.ignorePorts, [22, 2375]);
  assertEquals(options.procnetIntervalMs, 250);
  assertEquals(options.shutdownTimeoutMs, 1000);
});

Deno.test("parseCommandLine(): the last of a flag given twice wins, --no-… after it too", () => {
  const options = run([
    "--procnet-interval=100",
    "--procnet-interval",
    "300",
    "-docker",
    "-docker=false",
    "-iptables",
    "--control-socket",
    "-a-value-as-in-go",
  ]);
  assertEquals(options.procnetIntervalMs, 300);
  assertEquals(options.docker, false);
  assertEquals(options.mode, "listeners");
  assertEquals(
    options.controlSocket,
    "-a-value-as-in-go",
    "Go's flag takes the next argument",
  );
});

Deno.test("parseCommandLine() honours DOCKER_HOST unless --docker-socket is given", () => {
  assertEquals(
    run(["-docker"], { DOCKER_HOST: "unix:///run/user/docker.sock" })
      .dockerSocket,
    "/run/user/docker.sock",
  );
  assertEquals(
    run(["-docker", "--docker-socket=/d.sock"], {
      DOCKER_HOST: "unix:///run/user/docker.sock",
    }).dockerSocket,
    "/d.sock",
  );
  const tcp = parseCommandLine(["-docker"], {
    DOCKER_HOST: "tcp://1.2.3.4:2375",
  });
  assertEquals(tcp.kind === "exit" && tcp.code, 2);
});

Deno.test("parseCommandLine() rejects bad input with one line and exit 2", async (t) => {
  const cases: [string[], string][] = [
    [
      ["-k8sServiceListenerAddr=1.2.3.4"],
      "-k8sServiceListenerAddr: accepted values are 0.0.0.0 and 127.0.0.1",
    ],
    [
      ["-k8sAPIPort=70000"],
      "-k8sAPIPort: accepted values are integers from 1 to 65535",
    ],
    [["-k8sAPIPort", "abc"], "-k8sAPIPort"],
    [["-vtunnelAddr=nowhere"], "-vtunnelAddr"],
    [["-vtunnelAddr=unix://relative"], "absolute path"],
    [["-tap-interface-ip=::1"], "accepted values are IPv4 addresses"],
    [["-foo"], "Cannot read flag -foo: no such flag"],
    [["--bogus=1"], "Cannot read flag --bogus: no such flag"],
    [
      ["-docker", "-containerd"],
      "Cannot watch both -docker and -containerd: accepted is one container engine",
    ],
    [
      ["-docker=maybe"],
      'Cannot use "maybe" for -docker: accepted values are true and false',
    ],
    [["-docker", "false"], 'Cannot read argument "false"'],
    [
      ["--log-format=xml"],
      'Cannot use "xml" for --log-format: accepted values are text, json',
    ],
    [["--ignore-port=0"], "--ignore-port"],
    [[
      "-iptables=false",
      "--no-docker",
      "--no-containerd",
      "--no-kubernetes",
      "--no-procnet",
    ], "Cannot start with nothing to watch"],
    [["-vtunnelAddr"], "Cannot read --vtunnel-addr: it needs a value"],
    [
      ["--dry-run=yes"],
      'Cannot use "yes" for --dry-run: accepted values are true and false',
    ],
    [["--no-dry-run=1"], "Cannot give --no-dry-run a value"],
    [["--no-vtunnel-addr"], "Cannot read flag --no-vtunnel-addr: no such flag"],
    [["--", "-docker"], 'Cannot read argument "-docker"'],
    [["-"], 'Cannot read argument "-"'],
  ];
  for (const [argv, expected] of cases) {
    await t.step(argv.join(" "), () => {
      assertStringIncludes(usageError(argv), expected);
    });
  }
});

Deno.test("parseCommandLine(): every boolean option takes every form, ours like Go's", async (t) => {
  assert(BOOLEAN_OPTIONS.includes("procnet"));
  assert(BOOLEAN_OPTIONS.includes("dry-run"));
  for (const name of BOOLEAN_OPTIONS) {
    await t.step(name, () => {
      const parsed = (argv: string[]) =>
        JSON.stringify(parseCommandLine(["--procnet", ...argv]));
      const on = parsed([`--${name}`]);
      const off = parsed([`--no-${name}`]);
      assert(on !== off, `--${name} and --no-${name} mean the same`);
      for (
        const form of [
          `-${name}`,
          `--${name}=true`,
          `-${name}=1`,
          `--${name}=t`,
          `--${name}=TRUE`,
        ]
      ) {
        assertEquals(parsed([form]), on, form);
      }
      for (
        const form of [
          `--${name}=false`,
          `-${name}=0`,
          `-no-${name}`,
          `--${name}=F`,
          `--${name}=False`,
        ]
      ) {
        assertEquals(parsed([form]), off, form);
      }
      // The last one given wins, whatever its form.
      assertEquals(parsed([`--no-${name}`, `-${name}=1`]), on);
      assertEquals(parsed([`--${name}`, `--${name}=0`]), off);
    });
  }
});

Deno.test("parseCommandLine() prints help and version with exit 0", () => {
  const help = parseCommandLine(["--help"]);
  assert(help.kind === "exit");
  assertEquals(help.code, 0);
  assertStringIncludes(help.stdout, "Modes");
  for (const flag of GO_FLAGS) {
    assertStringIncludes(help.stdout, `-${flag.goName}`);
  }
  const version = parseCommandLine(["--version"]);
  assert(version.kind === "exit");
  assertEquals(version.stdout.trim(), VERSION);
});

Deno.test("normaliseGoFlags() leaves what follows -- alone", () => {
  assertEquals(normaliseGoFlags(["-debug", "--", "-docker"]), [
    "--debug",
    "--",
    "-docker",
  ]);
});

Deno.test("VERSION equals deno.json's version", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  assertEquals(config.version, VERSION);
});

Deno.test("README's Flags section lists every flag of the option tables", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const table = readme.slice(
    readme.indexOf("## Flags"),
    readme.indexOf("## Modes"),
  );
  for (const spec of allOptionSpecs(SOURCES)) {
    assertStringIncludes(table, `\`--${spec.name}\``);
    if (spec.goName) assertStringIncludes(table, `\`-${spec.goName}\``);
  }
});
