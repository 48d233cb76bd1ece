/**
 * The shape of every benchmark tree: `root → epNNN → svcNNNNNN`, 100 services per end point,
 * each with a valid `host:port`. Plain data, no I/O.
 *
 * @module
 */

/** Services per end point in every benchmark tree (10,000 services: 100 end points). */
export const SERVICES_PER_END_POINT = 100;

/** The name of end point `index`. */
export function endPointName(index: number): string {
  return `ep${String(index).padStart(3, "0")}`;
}

/** The name of service `index`. */
export function serviceName(index: number): string {
  return `svc${String(index).padStart(6, "0")}`;
}

/** The data of service `index`: a valid `host:port`. */
export function serviceData(index: number): string {
  return `ch-${index}.bench.local:8123`;
}

/** One service of a benchmark tree. */
export interface TreeService {
  endPoint: string;
  service: string;
  /** `endPoint/service`, as the receiver keys it. */
  key: string;
  path: string;
  data: string;
}

/** The services of a tree of `count` services under `root`, 100 per end point. */
export function treeServices(root: string, count: number): TreeService[] {
  return Array.from({ length: count }, (_, index) => {
    const endPoint = endPointName(Math.floor(index / SERVICES_PER_END_POINT));
    const service = serviceName(index);
    return {
      endPoint,
      service,
      key: `${endPoint}/${service}`,
      path: `${root}/${endPoint}/${service}`,
      data: serviceData(index),
    };
  });
}

/** How many end points a tree of `count` services has. */
export function endPointCount(count: number): number {
  return Math.ceil(count / SERVICES_PER_END_POINT);
}

/** One update the monitor sent, as the receiver keys it. */
export interface SentUpdate {
  op: "add" | "delete";
  /** `endPoint/service` */
  key: string;
}

/** The proxy entry of a benchmark service, from its receiver key (`epNNN/svcNNNNNN`). */
export function refOfKey(
  key: string,
): { endPoint: string; service: string; host: string; port: number } {
  const [endPoint, service] = key.split("/");
  const index = Number(/^svc(\d+)$/.exec(service)?.[1]);
  if (!Number.isInteger(index)) throw new Error(`not a benchmark service key: ${key}`);
  const [host, port] = serviceData(index).split(":");
  return { endPoint, service, host, port: Number(port) };
}
