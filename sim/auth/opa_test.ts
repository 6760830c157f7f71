import { assert, assertEquals, assertRejects } from "../../test/helpers/assert.ts";
import { findOpa, OpaCompileError, OpaPool, wrapRego } from "./opa.ts";
import { AuthEvalError } from "./types.ts";
import { requireOpa } from "../../test/helpers/opa.ts";
import { spawnProgram } from "../../test/helpers/cli.ts";
import { processesUnder, processRunning } from "../../test/helpers/processes.ts";

Deno.test("wrapRego: Authorino's package and default, package lines removed", () => {
  const wrapped = wrapRego("u1", "package foo.bar\nallow { true }\n");
  assertEquals(wrapped.module, 'package authorino.authz["u1"]\ndefault allow = false\nallow { true }\n');
  assertEquals(wrapped.cleaned, true);
  assertEquals(wrapRego("u2", "allow = true").cleaned, false);
});

Deno.test("findOpa: an explicit path that does not exist finds nothing", () => {
  assertEquals(findOpa("/nonexistent/opa"), undefined);
});

Deno.test("OpaPool: v0 rego compiled once, every rule's value, a denial, a runtime error", async () => {
  const pool = new OpaPool({ opaPath: requireOpa() });
  try {
    const rego =
      'allow { input.user == "alice" }\ngreeting = concat(" ", ["hello", input.user])\nnever { false }\n';
    const policy = await pool.load("t1", rego, "v0");
    assertEquals(policy.rules, ["allow", "greeting", "never"]);
    assertEquals(await pool.evaluate(policy, { user: "alice" }), { allow: true, greeting: "hello alice" });
    assertEquals((await pool.evaluate(policy, { user: "bob" })).allow, false);
    // Loading again does not recompile: same answer, same object.
    assertEquals(await pool.load("t1", rego, "v0"), policy);

    const conflict = await pool.load("t2", "x = 1 { true }\nx = 2 { true }\nallow = true\n", "v0");
    const err = await assertRejects(() => pool.evaluate(conflict, {}), AuthEvalError);
    assert(/conflicting values/.test(err.message), err.message);
  } finally {
    await pool.close();
  }
});

Deno.test("OpaPool: v1 rego in its own process; v0 syntax refused there with the line", async () => {
  const pool = new OpaPool({ opaPath: requireOpa() });
  try {
    const v1 = await pool.load("t3", "allow if input.n > 1\n", "v1");
    assertEquals(await pool.evaluate(v1, { n: 2 }), { allow: true });
    const err = await assertRejects(
      () => pool.load("t4", "x := 1\nallow { input.n > 1 }\n", "v1"),
      OpaCompileError,
    );
    assertEquals(err.position?.line, 2);
    assert(/rego_parse_error/.test(err.message), err.message);
  } finally {
    await pool.close();
  }
});

Deno.test("OpaPool: a killed process is replaced and its policies compiled again", async () => {
  const pool = new OpaPool({ opaPath: requireOpa() });
  try {
    const policy = await pool.load("t5", "allow = true\n", "v0");
    assertEquals((await pool.evaluate(policy, {})).allow, true);
    // Find our own opa through /proc: the pool keeps the process private.
    const ours = await opaUnder(Deno.pid);
    assert(ours.length >= 1, "the pool started no process");
    for (const pid of ours) Deno.kill(pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    // The policy object from before the restart still works: the pool compiles it again.
    assertEquals((await pool.evaluate(policy, {})).allow, true);
  } finally {
    await pool.close();
  }
  assertEquals(await processesUnder(Deno.pid), [], "close left a process running");
});

Deno.test("OpaPool: opa ends with the process that started it, even one killed with SIGKILL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "opa-owner-" });
  const script = `${dir}/owner.ts`;
  await Deno.writeTextFile(
    script,
    [
      `import { OpaPool } from ${JSON.stringify(new URL("./opa.ts", import.meta.url).href)};`,
      `const pool = new OpaPool({ opaPath: ${JSON.stringify(requireOpa())} });`,
      `await pool.load("owner", "allow = true\\n", "v0");`,
      `console.log("ready");`,
      `setInterval(() => {}, 60_000);`,
    ].join("\n"),
  );
  try {
    await using owner = spawnProgram(Deno.execPath(), ["run", "-A", "--no-lock", script]);
    await owner.waitFor(/ready/);
    const opa = await opaUnder(owner.pid);
    assertEquals(opa.length, 1, "the owner's pool runs one opa");
    const cmdline = await Deno.readTextFile(`/proc/${opa[0]}/cmdline`);
    const socketDir = cmdline.match(/unix:\/\/(\S+)\/opa\.sock/)?.[1];
    assert(socketDir && (await Deno.stat(socketDir)).isDirectory, `no socket directory in ${cmdline}`);
    await owner.interrupt("SIGKILL");
    for (let i = 0; i < 50 && processRunning(opa[0]); i++) await new Promise((r) => setTimeout(r, 100));
    assert(!processRunning(opa[0]), `opa ${opa[0]} outlived the process that started it`);
    const left = () => Deno.stat(socketDir).then(() => true, () => false);
    for (let i = 0; i < 20 && await left(); i++) await new Promise((r) => setTimeout(r, 100));
    assert(!(await left()), `${socketDir} outlived the process that started it`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OpaPool: without a binary nothing starts and evaluation fails with a reason", async () => {
  const pool = new OpaPool({ opaPath: "/nonexistent/opa" });
  assertEquals(pool.binary, undefined);
  const err = await assertRejects(() => pool.load("t6", "allow = true", "v0"), AuthEvalError);
  assert(/No opa binary/.test(err.message));
  await pool.close();
});

/** The opa processes under `pid` (the pool runs each behind a shell that holds its lifeline). */
async function opaUnder(pid: number): Promise<number[]> {
  return (await processesUnder(pid)).filter((p) => p.command === "opa").map((p) => p.pid);
}
