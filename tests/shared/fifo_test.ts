import { Fifo, FifoSet } from "../../src/shared/fifo.ts";
import { assertEquals } from "../../testing/assert.ts";

Deno.test("Fifo: values come out in order, across the compaction of its front", () => {
  const fifo = new Fifo<number>();
  const out: number[] = [];
  for (let i = 0; i < 5000; i++) {
    fifo.push(i);
    if (i % 3 === 2) out.push(fifo.shift()!, fifo.shift()!);
  }
  while (fifo.size > 0) out.push(fifo.shift()!);
  assertEquals(out, Array.from({ length: 5000 }, (_, i) => i));
  assertEquals([fifo.shift(), fifo.peek(), fifo.size], [undefined, undefined, 0]);
});

Deno.test("FifoSet: insertion order; deleted keys are skipped; a key added again goes last", () => {
  const set = new FifoSet<string>();
  for (const key of ["a", "b", "c", "d"]) set.add(key);
  set.add("a"); // already held: keeps its place
  set.delete("b");
  set.delete("c");
  set.add("c"); // deleted, then added again: now last
  const order: string[] = [];
  for (let key = set.first(); key !== undefined; key = set.first()) {
    order.push(key);
    set.delete(key);
  }
  assertEquals(order, ["a", "d", "c"]);
  assertEquals([set.size, set.has("a")], [0, false]);
});

Deno.test("FifoSet: a key deleted and added again many times keeps its turn right", () => {
  const set = new FifoSet<string>();
  set.add("a");
  set.add("b");
  for (let i = 0; i < 5000; i++) {
    set.delete("b");
    set.add("b");
  }
  set.add("c");
  const order: string[] = [];
  for (let key = set.first(); key !== undefined; key = set.first()) {
    order.push(key);
    set.delete(key);
  }
  assertEquals(order, ["a", "b", "c"]);
});
