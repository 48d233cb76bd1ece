/** Foreign text in log and problem lines: one line, bounded, control characters never raw. */
import {
  escapeControls,
  innermostMessage,
  oneLine,
  quoted,
  shortened,
} from "../../src/shared/log_text.ts";
import { assert, assertEquals } from "../../testing/assert.ts";

Deno.test("oneLine: each run of control characters and spaces is one space, ends trimmed", () => {
  assertEquals(oneLine("  HTTP 500\r\n\t oops\u0085\u2028end  "), "HTTP 500 oops end");
  assertEquals(oneLine("\u0000\u001f\u007f"), "");
});

Deno.test("oneLine: cut to the limit with an ellipsis, never in half a surrogate pair", () => {
  const cut = oneLine("x".repeat(500), 300);
  assertEquals(cut.length, 300);
  assert(cut.endsWith("…"));
  assertEquals(oneLine("short", 300), "short");
  // A pair would be split at the cut: it is left out whole.
  const pair = oneLine(`${"a".repeat(3)}😀${"b".repeat(10)}`, 5);
  assertEquals(pair, "aaa…");
});

Deno.test("escapeControls: every control character shown as \\uXXXX, the rest untouched", () => {
  assertEquals(escapeControls("a\nb\u0007c\u2029d é"), "a\\u000ab\\u0007c\\u2029d é");
});

Deno.test("quoted and shortened: long values cut, their length said", () => {
  assertEquals(quoted('a"b'), '"a\\"b"');
  assertEquals(quoted("x".repeat(130)), `"${"x".repeat(120)}"… (130 characters)`);
  assertEquals(shortened("abcdef", 3), "abc… (6 characters)");
  assertEquals(shortened("abc", 3), "abc");
});

Deno.test("innermostMessage: the deepest cause, as one line", () => {
  const error = new Error("outer", {
    cause: new Error("inner\nreason", { cause: "not an error" }),
  });
  assertEquals(innermostMessage(error), "inner reason");
  assertEquals(innermostMessage("plain"), "plain");
});
