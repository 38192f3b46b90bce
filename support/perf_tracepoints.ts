/**
 * Kernel tracepoints as wake-ups, through perf_event_open(2) and libc: one
 * event per online CPU, an ftrace filter so only the interesting hits
 * count, and a one-page ring mapped read-only (the kernel then never waits
 * for a reader and never needs one: the records are not read, each one
 * only makes its descriptor readable for poll(2)). No BPF, no tracefs
 * writes: tracefs is only read for the tracepoint's id.
 *
 * @module
 */
import type { Libc } from "./libc.ts";

/** Where tracefs is found mounted, in order. */
export const TRACEFS_ROOTS: readonly string[] = [
  "/sys/kernel/tracing",
  "/sys/kernel/debug/tracing",
];

const PERF_TYPE_TRACEPOINT = 2;
/** The perf_event_attr size this module writes (PERF_ATTR_SIZE_VER7). */
export const PERF_ATTR_SIZE = 128;
const PERF_FLAG_FD_CLOEXEC = 8;
const PERF_EVENT_IOC_ENABLE = 0x2400n;
const PERF_EVENT_IOC_SET_FILTER = 0x40082406n;
const PROT_READ = 1;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;
const ATTR_DISABLED = 1n;
/** perf_event_open's syscall number on the architectures the agent ships for. */
const PERF_EVENT_OPEN: Readonly<Record<string, number>> = {
  x86_64: 298,
  aarch64: 241,
};

/** A tracepoint, as tracefs names it, and the filter that selects its hits. */
export interface TracepointSpec {
  /** `group/name`, e.g. `sock/inet_sock_set_state`. */
  readonly name: string;
  /** An ftrace filter, e.g. `newstate == 10 || oldstate == 10`. */
  readonly filter: string;
}

/** The tracepoint could not be opened; `reason` says why, for people. */
export class TracepointUnavailable extends Error {
  /** Creates the error. */
  constructor(reason: string) {
    super(reason);
    this.name = "TracepointUnavailable";
  }
}

/**
 * The perf_event_attr of a sampled tracepoint that wakes its reader on
 * every hit, created disabled (enabled once its filter is set).
 *
 * @param id The tracepoint's id (tracefs `events/<group>/<name>/id`).
 * @returns {@linkcode PERF_ATTR_SIZE} bytes, little-endian.
 */
export function tracepointAttr(id: number): Uint8Array {
  const attr = new Uint8Array(PERF_ATTR_SIZE);
  const view = new DataView(attr.buffer);
  view.setUint32(0, PERF_TYPE_TRACEPOINT, true); // type
  view.setUint32(4, PERF_ATTR_SIZE, true); // size
  view.setBigUint64(8, BigInt(id), true); // config
  view.setBigUint64(16, 1n, true); // sample_period: every hit
  view.setBigUint64(24, 0n, true); // sample_type: nothing but the header
  view.setBigUint64(40, ATTR_DISABLED, true); // flags
  view.setUint32(48, 1, true); // wakeup_events: wake on each sample
  return attr;
}

/**
 * The CPUs of a sysfs CPU list such as `0-3,6,8-9`.
 *
 * @throws {TypeError} When the text is not a CPU list.
 */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!match) {
      throw new TypeError(
        `Cannot read the CPU list ${JSON.stringify(text)}: not a CPU list`,
      );
    }
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (last < first || last - first > 4096) {
      throw new TypeError(
        `Cannot read the CPU list ${
          JSON.stringify(text)
        }: a range is reversed or too long`,
      );
    }
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** Reads a small text file through libc, or undefined when it is absent. */
function readText(libc: Libc, path: string): string | undefined {
  try {
    return new TextDecoder().decode(libc.readFile(path, 1 << 16));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** The mounted tracefs among `roots`, or undefined. */
export function findTracefs(
  libc: Libc,
  roots: readonly string[] = TRACEFS_ROOTS,
): string | undefined {
  return roots.find((root) => {
    try {
      return readText(libc, `${root}/events/header_page`) !== undefined;
    } catch {
      return false;
    }
  });
}

/** One tracepoint opened on every CPU: descriptors to poll, and a close. */
export interface OpenTracepoint {
  /** The spec it was opened for. */
  readonly spec: TracepointSpec;
  /** One perf descriptor per CPU; readable after a matching hit. */
  readonly fds: readonly number[];
  /** Unmaps the rings and closes the descriptors. */
  close(): void;
}

/**
 * Opens `spec` on every online CPU with its filter set and enabled.
 *
 * @param libc The thread's libc.
 * @param tracefs The mounted tracefs (see {@linkcode findTracefs}).
 * @param spec The tracepoint and its filter.
 * @throws {TracepointUnavailable} When tracefs lacks it or the kernel
 *   refuses (not root, perf_event_paranoid, a filter it cannot parse).
 */
export function openTracepoint(
  libc: Libc,
  tracefs: string,
  spec: TracepointSpec,
): OpenTracepoint {
  const syscallNumber = PERF_EVENT_OPEN[Deno.build.arch];
  if (syscallNumber === undefined) {
    throw new TracepointUnavailable(
      `perf_event_open is not known on ${Deno.build.arch}`,
    );
  }
  const idText = readText(libc, `${tracefs}/events/${spec.name}/id`);
  if (idText === undefined) {
    throw new TracepointUnavailable(
      `this kernel has no tracepoint ${spec.name} (${tracefs}/events/${spec.name}/id)`,
    );
  }
  const id = Number(idText.trim());
  if (!Number.isInteger(id) || id <= 0) {
    throw new TracepointUnavailable(
      `${tracefs}/events/${spec.name}/id holds ${JSON.stringify(idText)}`,
    );
  }
  const cpus = parseCpuList(
    readText(libc, "/sys/devices/system/cpu/online") ?? "0",
  );
  const { symbols } = libc;
  const pageSize = symbols.getpagesize();
  const ringBytes = BigInt(2 * pageSize);
  const opened: { fd: number; ring?: number | bigint }[] = [];
  const close = () => {
    for (const { fd, ring } of opened) {
      if (ring !== undefined) symbols.munmap(BigInt(ring), ringBytes);
      libc.closeFd(fd);
    }
    opened.length = 0;
  };
  const refused = (call: string, cpu: number): never => {
    const errno = libc.errno();
    close();
    try {
      libc.failWith(call, `${spec.name} on CPU ${cpu}`, errno);
    } catch (error) {
      throw new TracepointUnavailable((error as Error).message);
    }
  };
  const attr = tracepointAttr(id);
  const filter = new TextEncoder().encode(`${spec.filter}\0`);
  for (const cpu of cpus) {
    const fd = Number(
      symbols.syscall(
        BigInt(syscallNumber),
        attr,
        -1,
        cpu,
        -1,
        BigInt(PERF_FLAG_FD_CLOEXEC),
      ),
    );
    if (fd < 0) refused("perf_event_open", cpu);
    const entry: { fd: number; ring?: number | bigint } = { fd };
    opened.push(entry);
    const ring = symbols.mmap(0n, ringBytes, PROT_READ, MAP_SHARED, fd, 0n);
    if (BigInt(ring) === MAP_FAILED) refused("map the ring of", cpu);
    entry.ring = ring;
    if (symbols.ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter) < 0) {
      refused(`set the filter ${JSON.stringify(spec.filter)} of`, cpu);
    }
    if (symbols.ioctlValue(fd, PERF_EVENT_IOC_ENABLE, 0n) < 0) {
      refused("enable", cpu);
    }
  }
  return { spec, fds: opened.map(({ fd }) => fd), close };
}
