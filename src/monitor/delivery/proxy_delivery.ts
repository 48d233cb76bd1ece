/**
 * How the monitor delivers to one proxy: a request per change (`/updateService`,
 * {@link ProxyQueue}), or its whole configuration per batch of changes (`/configuration`, with
 * `ASABRU_CONFIG_TEMPLATE`, {@link WholeStatePusher}). Both answer the same questions (pending,
 * unreachable, counters), so the wiring, the routes and the metrics treat them alike.
 *
 * @module
 */
import type { ProxyQueue } from "./proxy_queue.ts";
import type { WholeStatePusher } from "./whole_state_pusher.ts";

/** One proxy's delivery, either mode. */
export type ProxyDelivery = ProxyQueue | WholeStatePusher;
