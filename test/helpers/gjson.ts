/**
 * The document the selector tests query, and a check against GJSON's recorded answers.
 *
 * The answers in the selector tests are github.com/tidwall/gjson v1.14.0's (Authorino's version) with
 * Authorino's modifiers (pkg/json init), recorded from a Go program fed `goJson(GJSON_DOC)` and the
 * paths; `undefined` where GJSON's result does not exist. The paths are the examples of Authorino's
 * docs/features.md and GJSON's SYNTAX.md.
 *
 * @module
 */
import { select, selectString } from "../../sim/auth/selector_path.ts";
import { assertEquals } from "./assert.ts";

/** An authorization JSON with an identity, a capabilities claim and GJSON's SYNTAX.md examples. */
export const GJSON_DOC = {
  context: {
    request: {
      http: {
        path: "/pets/123",
        headers: {
          authorization: "Basic amFuZTpzZWNyZXQK",
          baggage: "eyJrZXkxIjoidmFsdWUxIn0=",
          "x-mcp-toolname": "a.b",
        },
      },
    },
  },
  auth: {
    identity: {
      username: "jane",
      fullname: "Jane Smith",
      email: "\u0006jane\u0012@petcorp.com\n",
      n: 3,
      f: 1.5,
      t: true,
      nul: null,
      big: 1700000000,
      "fav.movie": "Deer",
      roles: ["a", "b", "c"],
      obj: { z: 1, a: [1, 2] },
      html: "<a&b>",
    },
    authorization: {
      "authorized-capabilities": {
        allow: true,
        capabilities: { tools: { "ns/b": ["y"], "ns/a": ["x", "w"] } },
      },
    },
  },
  friends: [{ first: "Dale", last: "Murphy", age: 44, nets: ["ig", "fb"] }, {
    first: "Roger",
    last: "Craig",
    age: 68,
    nets: ["fb"],
  }, { first: "Jane", last: "Murphy", age: 47 }],
  children: ["Sara", "Alex", "Jack"],
  vals: [{ a: 1, b: "data" }, { a: 2, b: true }, { a: 3, b: false }, { a: 4, b: "0" }, { a: 10, b: null }, {
    a: 11,
  }],
};

/** Asserts that each path selects GJSON's recorded answer from {@linkcode GJSON_DOC}, existence included. */
export function assertGjsonAnswers(answers: readonly [string, string | undefined][]): void {
  for (const [path, expected] of answers) {
    assertEquals(select(GJSON_DOC, path) !== undefined, expected !== undefined, `exists: ${path}`);
    assertEquals(selectString(GJSON_DOC, path), expected ?? "", path);
  }
}
