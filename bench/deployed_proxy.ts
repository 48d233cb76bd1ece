/**
 * The deployed-behaviour stand-in proxy as a process of its own (the proxy is one in reality:
 * sharing an event loop with the load would measure the bench, not the monitor). Listens on
 * `PROXY_PORT`; `GET http://127.0.0.1:STATS_PORT/stats` answers what its table and history say.
 * Stops on SIGTERM.
 *
 * @module
 */
import { StandInAsabru } from "../testing/stand_in_asabru.ts";

/** What `/stats` answers. */
export interface DeployedProxyStats {
  /** Service slots in the table now. */
  slots: number;
  /** `endPoint/service` names that ever held two slots. */
  everDuplicated: number;
  /** Updates received (add and delete). */
  requests: number;
  malformed: number;
  crashes: number;
  backlogOverflows: number;
  mostWaiting: number;
}

const proxy = await StandInAsabru.start({
  behaviour: "deployed",
  port: Number(Deno.env.get("PROXY_PORT")),
});
const stats = Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.env.get("STATS_PORT")), onListen: () => {} },
  () => {
    let slots = 0;
    for (const entries of proxy.snapshot().values()) slots += entries.length;
    const body: DeployedProxyStats = {
      slots,
      everDuplicated: proxy.everDuplicated().length,
      requests: proxy.requests.length,
      malformed: proxy.malformed,
      crashes: proxy.crashes,
      backlogOverflows: proxy.backlogOverflows,
      mostWaiting: proxy.mostWaiting,
    };
    return Response.json(body);
  },
);
Deno.addSignalListener("SIGTERM", async () => {
  await stats.shutdown();
  await proxy.close();
  Deno.exit(0);
});
