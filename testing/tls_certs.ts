/**
 * Throwaway certificates for TLS tests, made with `openssl`: a CA, a server certificate for
 * 127.0.0.1 signed by it, a client certificate signed by it, and an unrelated CA.
 *
 * @module
 */

/** Files (PEM) in a temporary directory, removed by dispose. */
export interface TestCertificates extends AsyncDisposable {
  directory: string;
  /** The CA that signed the server and client certificates. */
  caCert: string;
  /** Another CA, which signed nothing here. */
  otherCaCert: string;
  /** The server's key followed by its certificate: a ZooKeeper PEM key store. */
  serverKeyStore: string;
  /** The client certificate and its key. */
  clientCert: string;
  clientKey: string;
}

async function openssl(directory: string, ...args: string[]): Promise<void> {
  const output = await new Deno.Command("openssl", { args, cwd: directory, stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** The `openssl req` arguments that make a new P-256 key `<name>.key` and a request for CN=name. */
function newKeyRequest(name: string, out: string): string[] {
  return [
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    out,
    "-subj",
    `/CN=${name}`,
  ];
}

async function makeCa(directory: string, name: string): Promise<void> {
  await openssl(
    directory,
    ...newKeyRequest(name, `${name}.pem`),
    "-x509",
    "-days",
    "2",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
}

async function makeSigned(
  directory: string,
  name: string,
  extensions: string,
): Promise<void> {
  await openssl(directory, ...newKeyRequest(name, `${name}.csr`));
  await Deno.writeTextFile(`${directory}/${name}.ext`, extensions);
  await openssl(
    directory,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
  );
}

/** Makes the certificates; dispose removes them. */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const directory = await Deno.makeTempDir({ prefix: "zkcm-tls-" });
  await makeCa(directory, "ca");
  await makeCa(directory, "other-ca");
  await makeSigned(
    directory,
    "server",
    "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
  );
  await makeSigned(
    directory,
    "client",
    "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
  );
  const read = (name: string) => Deno.readTextFile(`${directory}/${name}`);
  const serverKeyStore = `${directory}/server-keystore.pem`;
  await Deno.writeTextFile(serverKeyStore, (await read("server.key")) + (await read("server.pem")));
  return {
    directory,
    caCert: `${directory}/ca.pem`,
    otherCaCert: `${directory}/other-ca.pem`,
    serverKeyStore,
    clientCert: `${directory}/client.pem`,
    clientKey: `${directory}/client.key`,
    [Symbol.asyncDispose]: () => Deno.remove(directory, { recursive: true }),
  };
}
