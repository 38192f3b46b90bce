/**
 * A throwaway certificate authority for TLS tests, made with the openssl
 * command: a server certificate for localhost and 127.0.0.1 and a client
 * certificate (CN system:admin, O system:masters, as k3s issues), all
 * signed by the CA, valid for two days.
 *
 * @module
 */
import { runCommand } from "../support/run_command.ts";

/** PEM texts of one test CA and the certificates it signed. */
export interface TestCertificates {
  /** The CA's certificate. */
  readonly ca: string;
  /** The server's certificate (localhost, 127.0.0.1). */
  readonly serverCert: string;
  /** Its key. */
  readonly serverKey: string;
  /** A client certificate. */
  readonly clientCert: string;
  /** Its key. */
  readonly clientKey: string;
}

/**
 * Makes a CA, a server and a client certificate.
 *
 * @throws {Error} When openssl is missing or fails (with its output).
 */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await Deno.makeTempDir({ prefix: "gacerts" });
  const openssl = async (...args: string[]) => {
    const result = await runCommand("openssl", args).catch((error) => {
      throw new Error(`openssl: ${(error as Error).message}`);
    });
    if (result.code !== 0) {
      throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  try {
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-nodes",
      "-keyout",
      `${dir}/ca.key`,
      "-out",
      `${dir}/ca.crt`,
      "-subj",
      "/CN=guest-agent-test-ca",
      "-days",
      "2",
    );
    const sign = async (name: string, subject: string, extensions: string) => {
      await openssl(
        "req",
        ...ec,
        "-nodes",
        "-keyout",
        `${dir}/${name}.key`,
        "-out",
        `${dir}/${name}.csr`,
        "-subj",
        subject,
      );
      await Deno.writeTextFile(`${dir}/${name}.ext`, extensions);
      await openssl(
        "x509",
        "-req",
        "-in",
        `${dir}/${name}.csr`,
        "-CA",
        `${dir}/ca.crt`,
        "-CAkey",
        `${dir}/ca.key`,
        "-CAcreateserial",
        "-out",
        `${dir}/${name}.crt`,
        "-days",
        "2",
        "-extfile",
        `${dir}/${name}.ext`,
      );
    };
    await sign(
      "server",
      "/CN=localhost",
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    await sign(
      "client",
      "/O=system:masters/CN=system:admin",
      "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    );
    const read = (file: string) => Deno.readTextFile(`${dir}/${file}`);
    return {
      ca: await read("ca.crt"),
      serverCert: await read("server.crt"),
      serverKey: await read("server.key"),
      clientCert: await read("client.crt"),
      clientKey: await read("client.key"),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
