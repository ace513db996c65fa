// beamflame's speedscope output, validated against the file-format schema that the real
// speedscope package ships (dist/release/file-format-schema.json), with ajv.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..", "..");
const art = join(here, "artifacts");
const require = createRequire(import.meta.url);
const schema = JSON.parse(readFileSync(
  join(dirname(require.resolve("speedscope/package.json")), "dist", "release", "file-format-schema.json"), "utf8"));
const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);

function speedscope(folded, args = []) {
  mkdirSync(art, { recursive: true });
  const input = join(art, "speedscope.folded");
  writeFileSync(input, folded);
  const out = join(art, "speedscope.json");
  execFileSync(join(root, "priv", "beamflame"), ["svg", input, "-o", out, ...args], { stdio: "ignore" });
  return JSON.parse(readFileSync(out, "utf8"));
}

test("sampled profile matches speedscope's schema and our counts", () => {
  const doc = speedscope("main;work;leaf 4\nmain;work 2\nmain;idle 1\n", ["--title", "run 1"]);
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  const p = doc.profiles[0];
  assert.equal(p.type, "sampled");
  assert.equal(p.unit, "none");
  assert.equal(p.endValue, 7);
  assert.equal(p.weights.reduce((a, b) => a + b, 0), 7);
  const names = doc.shared.frames.map((f) => f.name);
  const stacks = p.samples.map((s) => s.map((i) => names[i]).join(";"));
  assert.deepEqual(stacks.map((s, i) => `${s} ${p.weights[i]}`).sort(),
                   ["main;idle 1", "main;work 2", "main;work;leaf 4"]);
  assert.equal(doc.name, "run 1");
});

test("hostile and non-UTF-8 names stay valid JSON and valid against the schema", () => {
  const doc = speedscope("a\"b;c\\\\d;\\x01ctl;<script>x</script> 1\nbad\xff 1\n".replace("\xff", "\u00ff"),
                         ["--countname", "us"]);
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  assert.equal(doc.profiles[0].unit, "microseconds");
  const names = doc.shared.frames.map((f) => f.name);
  assert.ok(names.includes("a\"b"));
  assert.ok(names.includes("c\\d"));
  assert.ok(names.includes("\u0001ctl"));
});

test("flamechart order gives an evented profile that matches the schema", () => {
  const doc = speedscope("main;a 2\nmain;b 3\nmain;a;c 1\n", ["--flamechart"]);
  assert.ok(validate(doc), JSON.stringify(validate.errors));
  const p = doc.profiles[0];
  assert.equal(p.type, "evented");
  assert.equal(p.endValue, 6);
  const names = doc.shared.frames.map((f) => f.name);
  const ev = p.events.map((e) => `${e.type}${e.at}:${names[e.frame]}`);
  // time order kept: a, then b, then a again (with c under it); main stays open
  assert.deepEqual(ev, ["O0:main", "O0:a", "C2:a", "O2:b", "C5:b", "O5:a", "O5:c",
                        "C6:c", "C6:a", "C6:main"]);
});

test("a check that can fail: a broken document is rejected", () => {
  const doc = speedscope("a 1\n");
  doc.profiles[0].type = "nonsense";
  assert.equal(validate(doc), false);
});
