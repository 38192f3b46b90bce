/**
 * How the Kubernetes worker reaches its API server: the server URL and the
 * credentials of the kubeconfig's current context, each either inline or a
 * file the worker reads when it connects. The main thread reads the
 * kubeconfig and sends this in the worker's start message; the worker
 * checks it with {@linkcode parseKubeConnection}.
 *
 * @module
 */
import { jsonRecord } from "./json_record.ts";

/** PEM text given inline (a kubeconfig `*-data` field, decoded) or as a file. */
export type PemSource = { readonly pem: string } | { readonly file: string };

/** The API server and the credentials to present to it. */
export interface KubeConnection {
  /** The API server's URL, `http(s)://host[:port][/path]`, no trailing slash. */
  readonly server: string;
  /** The certificate authority that signed the server's certificate. */
  readonly ca?: PemSource;
  /** A client certificate (mutual TLS), with `clientKey`. */
  readonly clientCert?: PemSource;
  /** The client certificate's private key. */
  readonly clientKey?: PemSource;
  /** A bearer token given inline. */
  readonly token?: string;
  /** A file holding a bearer token, read for every request (it may rotate). */
  readonly tokenFile?: string;
  /** HTTP basic authentication. */
  readonly basicAuth?: { readonly username: string; readonly password: string };
}

function pemSource(value: unknown, field: string): PemSource | undefined {
  if (value === undefined) return undefined;
  const source = jsonRecord(value);
  if (typeof source?.pem === "string" && source.pem !== "") {
    return { pem: source.pem };
  }
  if (typeof source?.file === "string" && source.file.startsWith("/")) {
    return { file: source.file };
  }
  throw new TypeError(
    `Cannot configure kubernetes: connection.${field} is neither {pem} nor {file} with an absolute path`,
  );
}

/**
 * Whether `server` has the form the worker accepts,
 * `http(s)://host[:port][/path]` without a trailing slash, query or fragment
 * (the WHATWG URL parser is more lenient: it reads `https:&//h` as host "&").
 */
export function isKubeServerUrl(server: string): boolean {
  return /^https?:\/\/[^/?#]+(\/[^?#]*[^/?#])?$/.test(server);
}

/**
 * Checks a connection from the worker's start message.
 *
 * @param raw The `connection` field of the start message.
 * @throws {TypeError} When a field is missing or of the wrong type.
 */
export function parseKubeConnection(raw: unknown): KubeConnection {
  const object = jsonRecord(raw);
  if (object === undefined) {
    throw new TypeError(
      "Cannot configure kubernetes: connection is not an object",
    );
  }
  const { server, token, tokenFile, basicAuth } = object;
  if (typeof server !== "string" || !isKubeServerUrl(server)) {
    throw new TypeError(
      `Cannot configure kubernetes: connection.server ${
        JSON.stringify(server)
      } is not http(s)://host[:port][/path]`,
    );
  }
  const ca = pemSource(object.ca, "ca");
  const clientCert = pemSource(object.clientCert, "clientCert");
  const clientKey = pemSource(object.clientKey, "clientKey");
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw new TypeError(
      "Cannot configure kubernetes: a client certificate needs its key (and a key its certificate)",
    );
  }
  if (token !== undefined && (typeof token !== "string" || token === "")) {
    throw new TypeError(
      "Cannot configure kubernetes: connection.token is not a string",
    );
  }
  if (
    tokenFile !== undefined &&
    (typeof tokenFile !== "string" || !tokenFile.startsWith("/"))
  ) {
    throw new TypeError(
      "Cannot configure kubernetes: connection.tokenFile is not an absolute path",
    );
  }
  const basic = jsonRecord(basicAuth);
  if (
    basicAuth !== undefined &&
    (typeof basic?.username !== "string" || typeof basic.password !== "string")
  ) {
    throw new TypeError(
      "Cannot configure kubernetes: connection.basicAuth needs username and password strings",
    );
  }
  return {
    server,
    ...(ca ? { ca } : {}),
    ...(clientCert ? { clientCert } : {}),
    ...(clientKey ? { clientKey } : {}),
    ...(typeof token === "string" ? { token } : {}),
    ...(typeof tokenFile === "string" ? { tokenFile } : {}),
    ...(basic
      ? {
        basicAuth: {
          username: basic.username as string,
          password: basic.password as string,
        },
      }
      : {}),
  };
}

/** The files a connection references (the worker's read grant). */
export function connectionFiles(connection: KubeConnection): string[] {
  return [
    connection.ca,
    connection.clientCert,
    connection.clientKey,
    connection.tokenFile === undefined
      ? undefined
      : { file: connection.tokenFile },
  ].flatMap((source) =>
    source !== undefined && "file" in source ? [source.file] : []
  );
}
