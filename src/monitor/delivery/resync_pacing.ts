/**
 * How fast a resync goes (`RESYNC_RATE`): a token bucket of `perSecond` operations a second, a
 * tenth of a second's worth (at least one) in reserve, so a resync of thousands of services does
 * not flood the proxy while the changes of the moment go out unpaced.
 *
 * @module
 */

/** A token bucket refilled at `perSecond`; see the module. */
export class ResyncPacing {
  readonly perSecond: number;
  #tokens = 0;
  #tokensAt = 0;

  constructor(perSecond: number) {
    this.perSecond = perSecond;
  }

  /** Takes a token at time `now` (ms) if one is there. */
  take(now: number): boolean {
    const capacity = Math.max(1, this.perSecond / 10);
    this.#tokens = Math.min(
      capacity,
      this.#tokens + (now - this.#tokensAt) * this.perSecond / 1000,
    );
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
