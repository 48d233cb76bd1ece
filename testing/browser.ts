/**
 * A real headless browser for the tests: Debian's `chromium`, driven over the DevTools protocol
 * by puppeteer-core (which runs under Deno as an `npm:` package). Each browser gets a fresh
 * profile directory, removed on close; close it in every test (`await using`).
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Debian's package puts the browser (scripts/provision.ts installs it). */
export const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** Flags that make chromium quiet and self-contained: no network of its own, no GPU. */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A headless chromium with its own profile. */
export class HeadlessBrowser implements AsyncDisposable {
  readonly #browser: Browser;
  readonly #profile: string;

  private constructor(browser: Browser, profile: string) {
    this.#browser = browser;
    this.#profile = profile;
  }

  /** Starts chromium headless, with a fresh profile directory. */
  static async launch(
    options: { width?: number; height?: number } = {},
  ): Promise<HeadlessBrowser> {
    const profile = await Deno.makeTempDir({ prefix: "zkcm-chromium-" });
    try {
      const browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [...FLAGS, `--user-data-dir=${profile}`],
        defaultViewport: { width: options.width ?? 1280, height: options.height ?? 900 },
      });
      return new HeadlessBrowser(browser, profile);
    } catch (error) {
      await Deno.remove(profile, { recursive: true });
      throw error;
    }
  }

  /** A new tab. */
  newPage(): Promise<Page> {
    return this.#browser.newPage();
  }

  /** Closes the browser and removes its profile. */
  async close(): Promise<void> {
    try {
      await this.#browser.close();
    } finally {
      await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
