/**
 * Builds a configuration in the deployed Asabru proxy's own `config.xml` format (the control API's
 * three routes behind auth, and one CLUSTER with the given end points and services): what the
 * stand-in starts from (`StandInAsabru.start({ config })`) and what `POST /configuration` takes.
 * Written with fast-xml-parser's builder, so names are escaped as XML wants.
 *
 * @module
 */
import { XMLBuilder } from "fast-xml-parser";
import type { StandInEntry } from "./stand_in_asabru.ts";

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  format: true,
  suppressEmptyNode: false,
});

/** Options of {@link asabruConfigXml}. */
export interface AsabruConfigOptions {
  /** Leave `<protocol-server-config>` out (the proxy crashes on such a document). */
  withoutProtocolServerConfig?: boolean;
  /** The control API's port written in the document (not used by the stand-in). Default 18080. */
  controlPort?: number;
}

/**
 * A whole `config.xml` with one END_POINT per key of `endPoints`, holding those services in order.
 *
 * @example
 * ```ts
 * asabruConfigXml({ ch_http_node1: [{ service: "s1", host: "127.0.0.1", port: 8123 }] });
 * ```
 */
export function asabruConfigXml(
  endPoints: Record<string, readonly StandInEntry[]>,
  options: AsabruConfigOptions = {},
): string {
  const route = (path: string, handler: string, auth: boolean) => ({
    path,
    method: "POST",
    request_handler: handler,
    ...(auth ? {} : { auth: { required: "false" } }),
  });
  const protocolServer = {
    "protocol-server": {
      "@protocol": "HTTP",
      "protocol-port": String(options.controlPort ?? 18080),
      pipeline: "CProtocolPipeline",
      handler: "CHttpProtocolHandler",
      auth: { strategy: "basic", handler: "HTTPBasicIsAuthenticatedCommand" },
      routes: {
        route: [
          route("/auth/login", "HTTPBasicLoginCommand", false),
          route("/updateService", "UpdateEndPointServiceCommand", true),
          route("/configuration", "UpdateConfigurationCommand", true),
        ],
      },
    },
  };
  let proxyPort = 19110;
  const document = {
    "clickhouse-proxy-v2": {
      ...(options.withoutProtocolServerConfig ? {} : { "protocol-server-config": protocolServer }),
      CLUSTERS: {
        CLUSTER: {
          "@name": "cluster1",
          END_POINTS: {
            END_POINT: Object.entries(endPoints).map(([name, services]) => ({
              "@name": name,
              READ_WRITE: "yes",
              PROXY_PORT: String(proxyPort++),
              PROTOCOL: "CH_HTTP",
              PIPELINE: "ClickHousePipeline",
              HANDLER: "CHttpHandler",
              SERVICES: services.length === 0 ? "" : {
                SERVICE: services.map((entry) => ({
                  "@name": entry.service,
                  HOST: entry.host,
                  PORT: String(entry.port),
                })),
              },
            })),
          },
        },
      },
    },
  };
  return builder.build(document);
}
