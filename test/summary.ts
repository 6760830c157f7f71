/**
 * Prints the line CI reads, `N passed, N failed`, from Deno's JUnit report, and exits non-zero when
 * anything failed or the test run itself broke before reporting.
 *
 * @module
 */

const [path, statusText] = Deno.args;
const status = Number(statusText ?? "0");
let xml = "";
try {
  xml = await Deno.readTextFile(path);
} catch {
  // No report: deno test failed before running (type errors, bad flags). Count that as a failure.
}
const cases = [...xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)];
let failed = 0;
for (const match of cases) if (/<(failure|error)\b/.test(match[2] ?? "")) failed++;
const passed = cases.length - failed;
if (cases.length === 0 || (status !== 0 && failed === 0)) failed++;
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(failed > 0 ? 1 : 0);
