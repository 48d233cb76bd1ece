/**
 * TLS to ZooKeeper from the options (`ZK_TLS`, `ZK_TLS_CA`, `ZK_TLS_CERT`, `ZK_TLS_KEY`): whether
 * it is on, and the PEM files read and checked, each problem one line naming the option.
 *
 * @module
 */
import type { ZkTlsOptions } from "../zookeeper/mod.ts";

/** The TLS options as both programs parse them. */
export interface ZkTlsSettings {
  zkTls: boolean;
  zkTlsCa?: string;
  zkTlsCert?: string;
  zkTlsKey?: string;
}

/** TLS off (`tls` undefined), on with these PEM texts, or the problems, one line each. */
export type ZkTlsResult = { ok: true; tls?: ZkTlsOptions } | { ok: false; problems: string[] };

/**
 * Reads the PEM files the options name. TLS is on when `zkTls` is set or any file is given; a
 * certificate needs its key and the other way round.
 */
export function loadZkTls(settings: ZkTlsSettings): ZkTlsResult {
  const { zkTlsCa, zkTlsCert, zkTlsKey } = settings;
  const enabled = settings.zkTls || [zkTlsCa, zkTlsCert, zkTlsKey].some((f) => f !== undefined);
  if (!enabled) return { ok: true };
  const problems: string[] = [];
  if ((zkTlsCert === undefined) !== (zkTlsKey === undefined)) {
    problems.push(
      zkTlsCert === undefined
        ? "--zk-tls-key (ZK_TLS_KEY): given without --zk-tls-cert (ZK_TLS_CERT)"
        : "--zk-tls-cert (ZK_TLS_CERT): given without --zk-tls-key (ZK_TLS_KEY)",
    );
  }
  const read = (file: string | undefined, option: string, marker: RegExp, what: string) => {
    if (file === undefined) return undefined;
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      problems.push(`${option}: cannot read ${JSON.stringify(file)} (${(error as Error).message})`);
      return undefined;
    }
    if (!marker.test(text)) {
      problems.push(`${option}: ${JSON.stringify(file)} holds no PEM ${what}`);
      return undefined;
    }
    return text;
  };
  const certificate = /-----BEGIN CERTIFICATE-----/;
  const ca = read(zkTlsCa, "--zk-tls-ca (ZK_TLS_CA)", certificate, "certificate");
  const cert = read(zkTlsCert, "--zk-tls-cert (ZK_TLS_CERT)", certificate, "certificate");
  const key = read(
    zkTlsKey,
    "--zk-tls-key (ZK_TLS_KEY)",
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    "private key",
  );
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    tls: {
      ...(ca !== undefined ? { caCerts: [ca] } : {}),
      ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
    },
  };
}

/** The TLS options of a configuration already checked by {@link loadZkTls}. */
export function zkTlsOf(settings: ZkTlsSettings): ZkTlsOptions | undefined {
  const result = loadZkTls(settings);
  if (!result.ok) throw new Error(result.problems.join("; "));
  return result.tls;
}
