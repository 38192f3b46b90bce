/**
 * The agent's options, as the CLI and library callers give them.
 *
 * @module
 */

/** How the agent forwards, decided from the flags (see README, "Modes"). */
export type AgentMode =
  /** No mode flag: run the sources that can work here, log the table. */
  | "auto"
  /** -privilegedService: PortMapping JSON to the privileged service. */
  | "privileged"
  /** -docker or -containerd without the privileged service: host-switch API. */
  | "host-switch"
  /** Neither: listeners that make WSL relay the ports. */
  | "listeners";

/**
 * Everything the agent can be told. In auto mode the source switches
 * (`docker`, `containerd`, `iptables`, `kubernetes`, `procnet`) mean "may run
 * when detected"; in the other modes they mean "runs".
 */
export interface AgentOptions {
  /** Which forwarding mode. */
  readonly mode: AgentMode;
  /** Log at debug level. */
  readonly debug: boolean;
  /** Log format. */
  readonly logFormat: "text" | "json";
  /** Log the forwarding table instead of forwarding (any mode). */
  readonly dryRun: boolean;
  /** Watch Docker events. */
  readonly docker: boolean;
  /** Docker socket path. */
  readonly dockerSocket: string;
  /** Watch containerd events. */
  readonly containerd: boolean;
  /** containerd socket path. */
  readonly containerdSocket: string;
  /** nerdctl's data root: containers' state dirs (network-config.json) under it are read. */
  readonly nerdctlDataRoot: string;
  /** Scan iptables DNAT rules. */
  readonly iptables: boolean;
  /** iptables poll interval in ms, where there are no change notifications. */
  readonly iptablesIntervalMs: number;
  /** iptables safety-net rescan interval in ms (with notifications). */
  readonly iptablesResyncMs: number;
  /** Watch Kubernetes NodePort and LoadBalancer services. */
  readonly kubernetes: boolean;
  /** kubeconfig path. */
  readonly kubeconfig: string;
  /** Scan /proc/net for listening sockets. */
  readonly procnet: boolean;
  /** /proc/net scan interval in ms. */
  readonly procnetIntervalMs: number;
  /** Host ports never to forward. */
  readonly ignorePorts: readonly number[];
  /** Send PortMapping JSON to the privileged service. */
  readonly privilegedService: boolean;
  /** The privileged service's address: tcp://host:port, unix:///path or vsock://cid:port. */
  readonly vtunnelAddr: string;
  /** The interface whose addresses are the PortMapping's connectAddrs. */
  readonly connectInterface: string;
  /** Address Kubernetes service listeners bind to: 0.0.0.0 or 127.0.0.1. */
  readonly k8sServiceListenerAddr: "0.0.0.0" | "127.0.0.1";
  /** Admin install: expose on the binding's host IP rather than 127.0.0.1. */
  readonly adminInstall: boolean;
  /** Kubernetes API port forwarded on 127.0.0.1 with -kubernetes. */
  readonly k8sApiPort: number;
  /** The VM's tap IP, the host-switch API's remote. */
  readonly tapInterfaceIp: string;
  /** The host-switch API's base URL. */
  readonly hostSwitchUrl: string;
  /** Where the agent keeps its small state files. */
  readonly stateDir: string;
  /** The control socket of the `ports` and `status` commands; "" for none. */
  readonly controlSocket: string;
  /** How long shutdown may take to remove forwarded bindings, in ms. */
  readonly shutdownTimeoutMs: number;
  /**
   * How long a port routed to the listeners must stay unserved (nothing in
   * the VM listening on it) before the agent opens a listener, in ms.
   */
  readonly listenerSettleMs: number;
}

/**
 * The options of `guest-agent` with no flags: auto mode, where every source
 * may run when detected. Paths, addresses and ports equal the Go agent's.
 */
export const DEFAULT_OPTIONS: AgentOptions = {
  mode: "auto",
  debug: false,
  logFormat: "text",
  dryRun: false,
  docker: true,
  dockerSocket: "/var/run/docker.sock",
  containerd: true,
  containerdSocket: "/run/k3s/containerd/containerd.sock",
  nerdctlDataRoot: "/var/lib/nerdctl",
  iptables: true,
  iptablesIntervalMs: 2000,
  iptablesResyncMs: 60_000,
  kubernetes: true,
  kubeconfig: "/etc/rancher/k3s/k3s.yaml",
  procnet: true,
  procnetIntervalMs: 1000,
  ignorePorts: [],
  controlSocket: "/run/guest-agent/control.sock",
  privilegedService: false,
  vtunnelAddr: "127.0.0.1:3040",
  connectInterface: "eth0",
  k8sServiceListenerAddr: "0.0.0.0",
  adminInstall: false,
  k8sApiPort: 6443,
  tapInterfaceIp: "192.168.127.2",
  hostSwitchUrl: "http://192.168.127.1:80",
  stateDir: "/var/lib/guest-agent",
  shutdownTimeoutMs: 5000,
  listenerSettleMs: 2000,
};
