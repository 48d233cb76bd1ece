/**
 * The admission stage as logic, fed the mirror's changes: what goes on to the guard, what is
 * held back as invalid (journalled and logged once per reason, once per end point the template
 * lacks), and what is sent although odd. No ZooKeeper, no proxy.
 */
import { Admission } from "../../src/monitor/admission.ts";
import { DecisionJournal } from "../../src/monitor/journal.ts";
import type { MirrorChange, MirroredService } from "../../src/monitor/tree_mirror.ts";
import { wantedByTemplate } from "../../src/monitor/wanted_service.ts";
import { parseConfigTemplate } from "../../src/asabru/parse_config_template.ts";
import type { ConfigTemplate } from "../../src/asabru/config_template.ts";
import { assertEquals } from "../../testing/assert.ts";
import { withCapturedLogs } from "../../testing/logs.ts";

const encoder = new TextEncoder();

function set(endPoint: string, service: string, data: string, ephemeral = true): MirrorChange {
  const mirrored: MirroredService = {
    endPoint,
    service,
    data: encoder.encode(data),
    czxid: 1n,
    mzxid: 1n,
    ephemeral,
    children: 0,
  };
  return { type: "set", key: `${endPoint}/${service}`, service: mirrored };
}

function remove(endPoint: string, service: string): MirrorChange {
  return { type: "remove", key: `${endPoint}/${service}`, endPoint, service };
}

/** An admission recording what it passes on, as `set key host:port` / `set key -` / `remove key`. */
function admissionOf(template?: ConfigTemplate) {
  const passed: string[] = [];
  const journal = new DecisionJournal(100);
  const admission = new Admission({
    wantedFor: (service) => wantedByTemplate(template, service),
    journal,
    next: {
      set: (key, _endPoint, wanted) =>
        passed.push(`set ${key} ${wanted ? `${wanted.ref.host}:${wanted.ref.port}` : "-"}`),
      remove: (key) => passed.push(`remove ${key}`),
    },
  });
  return { admission, passed, journal };
}

Deno.test("a valid service goes on as wanted; a removal goes on as a removal", () => {
  const { admission, passed } = admissionOf();
  admission.onChange(set("ep", "a", "10.0.0.1:8123"));
  admission.onChange(remove("ep", "a"));
  assertEquals(passed, ["set ep/a 10.0.0.1:8123", "remove ep/a"]);
  assertEquals(admission.invalid.size, 0);
});

Deno.test("invalid data goes on as not wanted, journalled and logged once per reason", async () => {
  await withCapturedLogs(["zkcm", "monitor"], "warning", async (records) => {
    const { admission, passed, journal } = admissionOf();
    admission.onChange(set("ep", "a", "10.0.0.1:8123"));
    admission.onChange(set("ep", "a", "no port"));
    admission.onChange(set("ep", "a", "no port"));
    admission.onChange(set("ep", "a", ""));
    assertEquals(passed, ["set ep/a 10.0.0.1:8123", "set ep/a -", "set ep/a -", "set ep/a -"]);
    assertEquals(admission.invalidSeen, 2);
    assertEquals(admission.invalid.get("ep/a"), "empty data (expected host:port)");
    assertEquals(journal.recent().map((d) => d.decision), ["invalid", "invalid"]);
    assertEquals(records.length, 2);
    // Valid again: no longer invalid; gone: forgotten.
    admission.onChange(set("ep", "a", "10.0.0.2:8123"));
    assertEquals(admission.invalid.size, 0);
    admission.onChange(set("ep", "b", "x"));
    admission.onChange(remove("ep", "b"));
    assertEquals(admission.invalid.size, 0);
    await Promise.resolve();
  });
});

Deno.test("a persistent znode is sent all the same, and said once", async () => {
  await withCapturedLogs(["zkcm", "monitor"], "warning", async (records) => {
    const { admission, passed } = admissionOf();
    admission.onChange(set("ep", "p", "10.0.0.1:8123", false));
    admission.onChange(set("ep", "p", "10.0.0.1:8124", false));
    assertEquals(passed, ["set ep/p 10.0.0.1:8123", "set ep/p 10.0.0.1:8124"]);
    assertEquals([...admission.odd.keys()], ["ep/p"]);
    assertEquals(records.length, 1);
    admission.onChange(remove("ep", "p"));
    assertEquals(admission.odd.size, 0);
    await Promise.resolve();
  });
});

Deno.test("services of an end point the template lacks: logged once for the end point", async () => {
  const template = parseConfigTemplate(`<proxy>
  <protocol-server-config/>
  <END_POINT name="ep1"><SERVICES></SERVICES></END_POINT>
</proxy>`);
  await withCapturedLogs(["zkcm", "monitor"], "warning", async (records) => {
    const { admission, passed } = admissionOf(template);
    admission.onChange(set("ep1", "a", "10.0.0.1:8123"));
    admission.onChange(set("nowhere", "a", "10.0.0.1:8123"));
    admission.onChange(set("nowhere", "b", "10.0.0.2:8123"));
    assertEquals(passed, ["set ep1/a 10.0.0.1:8123", "set nowhere/a -", "set nowhere/b -"]);
    assertEquals(admission.invalidSeen, 2);
    assertEquals(records.length, 1);
    await Promise.resolve();
  });
});
