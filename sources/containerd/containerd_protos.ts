/**
 * The containerd API as this source uses it: the hand-written .proto files in
 * proto/ (imported as text, so they travel inside the module graph), parsed
 * once into a protobufjs root and a gRPC package definition.
 *
 * @module
 */
import { fromJSON, type PackageDefinition } from "@grpc/proto-loader";
import protobuf from "protobufjs";
import wellKnown from "../../proto/google_protobuf.proto" with { type: "text" };
import health from "../../proto/health.proto" with { type: "text" };
import events from "../../proto/containerd_events.proto" with { type: "text" };
import eventTypes from "../../proto/containerd_event_types.proto" with {
  type: "text",
};
import containers from "../../proto/containerd_containers.proto" with {
  type: "text",
};
import taskTypes from "../../proto/containerd_types_task.proto" with {
  type: "text",
};
import tasks from "../../proto/containerd_tasks_service.proto" with {
  type: "text",
};
import namespaces from "../../proto/containerd_namespaces.proto" with {
  type: "text",
};

const PROTO_TEXTS = [
  wellKnown,
  health,
  events,
  eventTypes,
  containers,
  taskTypes,
  tasks,
  namespaces,
];

/** Options shared by the gRPC definition: field names as in the .proto files. */
const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: false,
} as const;

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const text of PROTO_TEXTS) {
    protobuf.parse(text, root, { keepCase: true });
  }
  root.resolveAll();
  return root;
}

/** Every message and service of proto/, resolved. */
export const CONTAINERD_PROTO_ROOT: protobuf.Root = buildRoot();

/** The gRPC package definition of proto/ (for `loadPackageDefinition`). */
export const CONTAINERD_PACKAGE_DEFINITION: PackageDefinition = fromJSON(
  CONTAINERD_PROTO_ROOT.toJSON(),
  LOADER_OPTIONS,
);
