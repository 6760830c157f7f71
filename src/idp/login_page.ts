/**
 * The dev identity provider's pages: the login page that lists the users to pick from, and the
 * page of an interaction that went wrong. Every value from a users file or a request is HTML-escaped.
 *
 * @module
 */

import { describeUser, type DevUsers } from "./users.ts";

/** `text` safe inside HTML text and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d2430; }
h1 { font-size: 1.4rem; }
p.note { color: #5a6473; font-size: .9rem; }
ul.users { list-style: none; padding: 0; }
ul.users li { margin: .5rem 0; }
ul.users button { width: 100%; text-align: left; padding: .7rem 1rem; border: 1px solid #c8ced8;
  border-radius: 6px; background: #f7f9fc; cursor: pointer; font-size: 1rem; }
ul.users button:hover { background: #e9eef7; }
.claims { display: block; color: #5a6473; font-size: .85rem; margin-top: .2rem; }
`;

/** Options of {@linkcode loginPage}. */
export interface LoginPageOptions {
  /** Where the form posts the chosen user (`/interaction/<uid>/login`). */
  action: string;
  /** Where "cancel" leads (`/interaction/<uid>/abort`). */
  abort: string;
  /** The users to list. */
  users: DevUsers;
  /** The client asking, as its registration names it. */
  client?: string;
}

/** The login page: one button per user, each posting `user=<name>` to `action`. */
export function loginPage(options: LoginPageOptions): string {
  const items = Object.entries(options.users).map(([name, claims]) =>
    `<li><button type="submit" name="user" value="${escapeHtml(name)}" data-user="${escapeHtml(name)}">` +
    `<strong>${escapeHtml(name)}</strong>` +
    `<span class="claims">${escapeHtml(describeUser(claims))}</span></button></li>`
  ).join("\n");
  const client = options.client ? ` for <strong>${escapeHtml(options.client)}</strong>` : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in: kubectl mcp dev identity provider</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Sign in${client}</h1>
<p class="note">kubectl mcp simulate's dev identity provider: pick a user. No password; for local testing only.</p>
<form method="post" action="${escapeHtml(options.action)}">
<ul class="users">
${items}
</ul>
</form>
<p><a href="${escapeHtml(options.abort)}">Cancel</a></p>
</body>
</html>
`;
}

/** A page saying what went wrong with a sign-in (an expired interaction, an unknown user). */
export function errorPage(message: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign-in failed</title><style>${STYLE}</style></head>
<body><h1>Sign-in failed</h1><p>${escapeHtml(message)}</p></body>
</html>
`;
}
