import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../tests/assert.ts";
import { exec } from "../tests/netns.ts";
import { ignoreUnless } from "../tests/requirements.ts";
import config from "../deno.json" with { type: "json" };
import {
  bundledPackages,
  DENO_LIBRARIES,
  launcherScript,
  LIB_DIR,
  RELEASE_ARCHES,
} from "./release_layout.ts";
import { DENO_VERSION, PINNED_INPUTS, pinnedInput } from "./release_inputs.ts";
import { checkPinnedHash, sha256Hex } from "./fetch_input.ts";
import { packReproducibly } from "./reproducible_tar.ts";
import { bundleRunFlags } from "./tasks.ts";

const ROOT = new URL("../", import.meta.url);

Deno.test("bundleRunFlags() are the start task's flags with deno.json's unstable features, as the launcher passes them", () => {
  const start = config.tasks.start.split(/\s+/);
  const flags = bundleRunFlags();
  for (
    const flag of start.slice(
      start.indexOf("run") + 1,
      start.indexOf("main.ts"),
    )
  ) {
    assert(
      flags.includes(flag),
      `${flag} of the start task is missing from ${flags}`,
    );
  }
  for (const feature of config.unstable) {
    assert(
      flags.includes(`--unstable-${feature}`),
      `--unstable-${feature} is missing`,
    );
  }
  for (const info of Object.values(RELEASE_ARCHES)) {
    const script = launcherScript(info, flags);
    assert(
      script.includes(
        `exec "$lib/${info.loader}" --library-path "$lib" "$lib/deno" run \\\n  ${
          flags.join(" ")
        } \\\n  "$lib/bundle/main.js" "$@"\n`,
      ),
      script,
    );
  }
});

Deno.test("launcherScript() refuses a flag that would need quoting", () => {
  assertThrows(
    () =>
      launcherScript(RELEASE_ARCHES.amd64, [
        "--allow-all",
        "--v8-flags=$(reboot)",
      ]),
    TypeError,
    "need no quoting",
  );
});

Deno.test("the launcher execs the loader from ../lib/guest-agent with every argument, through a link, and exits with its code", async () => {
  const dir = await Deno.makeTempDir({ prefix: "galauncher" });
  try {
    const info = RELEASE_ARCHES.amd64;
    await Deno.mkdir(`${dir}/bin`);
    await Deno.mkdir(`${dir}/${LIB_DIR}`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/bin/launcher`,
      launcherScript(info, bundleRunFlags()),
    );
    await Deno.chmod(`${dir}/bin/launcher`, 0o755);
    // A loader that reports its PID, its update-check setting and its arguments.
    await Deno.writeTextFile(
      `${dir}/${LIB_DIR}/${info.loader}`,
      '#!/bin/sh\necho "$$ $DENO_NO_UPDATE_CHECK"; for a in "$@"; do echo "[$a]"; done; exit 7\n',
    );
    await Deno.chmod(`${dir}/${LIB_DIR}/${info.loader}`, 0o755);
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.symlink(`${dir}/bin/launcher`, `${dir}/elsewhere/agent`);
    const busybox = (await exec(["sh", "-c", "command -v busybox"])).code === 0;
    ignoreUnless("busybox (package busybox-static), for its sh", busybox);
    for (const shell of busybox ? ["sh", "busybox"] : ["sh"]) {
      const prefix = shell === "busybox" ? ["busybox", "sh"] : [];
      const child = new Deno.Command(prefix[0] ?? `${dir}/elsewhere/agent`, {
        args: [
          ...prefix.slice(1),
          ...prefix.length ? [`${dir}/elsewhere/agent`] : [],
          "-docker",
          "a b",
          "",
        ],
        stdout: "piped",
        stdin: "null",
      }).spawn();
      const output = await child.output();
      assertEquals(output.code, 7, shell);
      const lib = `${dir}/bin/../${LIB_DIR}`;
      const [first, ...args] = new TextDecoder().decode(output.stdout).trimEnd()
        .split("\n");
      // exec: the loader runs as the launcher's own process.
      assertEquals(first, `${child.pid} 1`, shell);
      assertEquals(args, [
        "[--library-path]",
        `[${lib}]`,
        `[${lib}/deno]`,
        "[run]",
        ...bundleRunFlags().map((flag) => `[${flag}]`),
        `[${lib}/bundle/main.js]`,
        "[-docker]",
        "[a b]",
        "[]",
      ], shell);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bundledPackages() reads each npm package once from esbuild's path comments, scoped or not", () => {
  const bundle = [
    "// node_modules/.deno/@grpc+grpc-js@1.14.7/node_modules/@grpc/grpc-js/build/src/index.js",
    "var x = 1;",
    "// node_modules/.deno/@grpc+grpc-js@1.14.7/node_modules/@grpc/grpc-js/build/src/channel.js",
    "// node_modules/.deno/long@5.3.2/node_modules/long/index.js",
    '  const s = "// node_modules/.deno/evil@1/node_modules/evil/x.js";',
    "// sources/docker/worker.ts",
    "// node_modules/.deno/broken",
    "//node_modules/.deno/nospace@1/node_modules/nospace/a.js",
  ].join("\n");
  assertEquals(bundledPackages(bundle), [
    { store: "@grpc+grpc-js@1.14.7", name: "@grpc/grpc-js" },
    { store: "long@5.3.2", name: "long" },
  ]);
  assertEquals(bundledPackages(""), []);
});

Deno.test("packReproducibly() writes the same bytes whatever the files' times and folder modes, owned by root at time 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "gatar" });
  try {
    const make = async (stage: string, time: Date, folderMode: number) => {
      await Deno.mkdir(`${stage}/b/deep`, { recursive: true });
      await Deno.writeTextFile(`${stage}/b/deep/file`, "hello\n");
      await Deno.writeTextFile(`${stage}/a`, "first\n");
      await Deno.chmod(`${stage}/a`, 0o755);
      await Deno.chmod(`${stage}/b`, folderMode);
      for (const path of ["a", "b/deep/file", "b/deep", "b"]) {
        await Deno.utime(`${stage}/${path}`, time, time);
      }
    };
    await make(`${dir}/one`, new Date(1_000_000_000_000), 0o700);
    await make(`${dir}/two`, new Date(1_700_000_000_000), 0o775);
    await packReproducibly(`${dir}/one`, `${dir}/one.tar.gz`);
    await packReproducibly(`${dir}/two`, `${dir}/two.tar.gz`);
    assertEquals(
      await sha256Hex(await Deno.readFile(`${dir}/one.tar.gz`)),
      await sha256Hex(await Deno.readFile(`${dir}/two.tar.gz`)),
    );
    const listing = await exec(["tar", "-tvzf", `${dir}/one.tar.gz`]);
    assertEquals(
      listing.stdout.trim().split("\n").map((line) =>
        line.replace(/\s+/g, " ")
      ),
      [
        "-rwxr-xr-x 0/0 6 1970-01-01 00:00 a",
        "drwxr-xr-x 0/0 0 1970-01-01 00:00 b/",
        "drwxr-xr-x 0/0 0 1970-01-01 00:00 b/deep/",
        "-rw-r--r-- 0/0 6 1970-01-01 00:00 b/deep/file",
      ],
    );
    await Deno.mkdir(`${dir}/empty`);
    await assertRejects(
      () => packReproducibly(`${dir}/empty`, `${dir}/e.tar.gz`),
      Error,
      "empty",
    );
    await assertRejects(
      () => packReproducibly(`${dir}/one`, `${dir}/x.tar.gz`, { epoch: -1 }),
      RangeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkPinnedHash() fails a download whose bytes differ from the pin, naming both hashes", async () => {
  const input = pinnedInput("libc6", "amd64");
  const changed = new TextEncoder().encode("not libc6");
  const error = await assertRejects(() => checkPinnedHash(input, changed));
  assert(error instanceof Error);
  assert(error.message.includes(input.sha256), error.message);
  assert(error.message.includes(await sha256Hex(changed)), error.message);
  await checkPinnedHash(
    { ...input, sha256: await sha256Hex(changed) },
    changed,
  );
});

Deno.test("the pinned inputs: Deno's version is the one CI and README run, each arch has every release input, hashes are SHA-256", async () => {
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  assertEquals(/^DENO_VERSION=(\S+)$/m.exec(ci)?.[1], DENO_VERSION);
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  assert(readme.includes(`npx -y deno@${DENO_VERSION} task test`));
  assertEquals(Deno.version.deno, DENO_VERSION);
  for (const input of PINNED_INPUTS) {
    assert(
      /^[0-9a-f]{64}$/.test(input.sha256),
      `${input.name}: ${input.sha256}`,
    );
  }
  for (const info of Object.values(RELEASE_ARCHES)) {
    const names = [
      info.denoPackage,
      "deno",
      "gcc-12-base",
      ...DENO_LIBRARIES.map((l) => l.debian),
    ];
    for (const name of names) {
      assertEquals(pinnedInput(name, info.arch).use, "release");
    }
    for (const name of ["musl", "busybox-static"]) {
      assertEquals(pinnedInput(name, info.arch).use, "test-root");
    }
  }
  assertThrows(() => pinnedInput("openssl", "amd64"), RangeError, "pins none");
});

Deno.test(
  "DENO_LIBRARIES are the libraries this Deno links against, its loader aside",
  {
    ignore: ignoreUnless(
      "readelf (package binutils)",
      (await exec(["sh", "-c", "command -v readelf"])).code === 0,
    ),
  },
  async () => {
    const { stdout } = await exec(["readelf", "-d", Deno.execPath()]);
    const needed = [
      ...stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g),
    ]
      .map((m) => m[1]!).filter((name) => !name.startsWith("ld-linux"));
    assertEquals(needed.sort(), DENO_LIBRARIES.map((l) => l.file).sort());
  },
);
