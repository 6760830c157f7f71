import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { InputError } from "../errors.ts";
import { defaultUsers, describeUser, parseUsers, RESERVED_CLAIMS } from "./users.ts";
import { escapeHtml, loginPage } from "./login_page.ts";

Deno.test("users: YAML and JSON maps of names to claims; an empty user has no claims", () => {
  const yaml = parseUsers(
    "alice:\n  groups: [a]\n  resource_access:\n    ns/s: {roles: ['tool:x']}\nbob:\n",
    "u.yaml",
  );
  assertEquals(yaml, {
    alice: { groups: ["a"], resource_access: { "ns/s": { roles: ["tool:x"] } } },
    bob: {},
  });
  assertEquals(parseUsers('{"carol": {"email": "c@example.com"}}', "u.json"), {
    carol: { email: "c@example.com" },
  });
});

Deno.test("users: each bad input names the file and the field", () => {
  const cases: [string, string][] = [
    ["", "u.yaml: expected a mapping of user names to their claims, got null"],
    ["{}", "u.yaml: defines no users"],
    ["alice: 3", "u.yaml: alice: the claims must be a mapping, got a number"],
    ["alice:\n  exp: 1", 'u.yaml: alice.exp: the identity provider sets "exp" itself; remove it'],
    [
      "alice:\n  sub: x",
      'u.yaml: alice.sub: the identity provider sets "sub" itself; remove it (the user\'s name is its sub)',
    ],
    ['"-x": {}', 'u.yaml: invalid user name "-x"'],
    ["alice: {}\nalice: {}", "u.yaml: not valid YAML or JSON: Map keys must be unique"],
  ];
  for (const [text, message] of cases) {
    const error = assertThrows(() => parseUsers(text, "u.yaml"), InputError);
    assertEquals(error.message.startsWith(message), true, `${JSON.stringify(text)}: ${error.message}`);
  }
  for (const claim of RESERVED_CLAIMS) {
    assertThrows(() => parseUsers(`alice:\n  ${claim}: v`, "u.yaml"), InputError, `alice.${claim}`);
  }
});

Deno.test("users: the default pair differ in groups and roles; describeUser summarizes what policies read", () => {
  const users = defaultUsers();
  assertEquals(Object.keys(users), ["alice", "bob"]);
  assertEquals(describeUser(users.alice), "groups: mcp-admins; roles: admin");
  assertEquals(
    describeUser({ resource_access: { "ns/a": { roles: ["tool:x", "tool:y"] } } }),
    "ns/a: tool:x, tool:y",
  );
  assertEquals(describeUser({}), "no claims");
  assertEquals(describeUser({ email: "e" }), "1 claim");
});

Deno.test("login page: every user is a button posting its name; names and claims are escaped", () => {
  assertEquals(escapeHtml(`<a href="x">'&'</a>`), "&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  const html = loginPage({
    action: "/interaction/u1/login",
    abort: "/interaction/u1/abort",
    users: { alice: { groups: ["<script>x</script>"] }, bob: {} },
    client: 'My "client"',
  });
  assertEquals(
    [...html.matchAll(/<button type="submit" name="user" value="([^"]*)"/g)].map((m) => m[1]),
    ["alice", "bob"],
  );
  assertEquals(html.includes("<script>"), false);
  assertEquals(html.includes("groups: &#60;script&#62;x&#60;/script&#62;"), true);
  assertEquals(html.includes("Sign in for <strong>My &#34;client&#34;</strong>"), true);
  assertEquals(html.includes('<form method="post" action="/interaction/u1/login">'), true);
});
