import { assertEquals } from "../../test/helpers/assert.ts";
import { windowMillis, windowSeconds } from "./rate_limit_policy.ts";

Deno.test("windowMillis reads the windows the CRD's pattern allows as Go's time.ParseDuration does", () => {
  assertEquals(windowMillis("1m"), 60_000);
  assertEquals(windowMillis("1h30m"), 5_400_000);
  assertEquals(windowMillis("1m500ms"), 60_500);
  // Repeated units add up in Go too.
  assertEquals(windowMillis("1h1h"), 7_200_000);
  assertEquals(windowMillis("99999s"), 99_999_000);
});

Deno.test("windowMillis refuses what the CRD's pattern refuses", () => {
  for (const window of ["", "1", "1 m", "1d", "1.5s", "-1s", "123456s", "1s1s1s1s1s", "1M"]) {
    assertEquals(windowMillis(window), undefined, window);
  }
});

Deno.test("windowSeconds truncates to whole seconds as kuadrant-operator hands them to Limitador", () => {
  assertEquals(windowSeconds("500ms"), 0);
  assertEquals(windowSeconds("0s"), 0);
  assertEquals(windowSeconds("1500ms"), 1);
  assertEquals(windowSeconds("1m999ms"), 60);
  assertEquals(windowSeconds("1 m"), undefined);
});
