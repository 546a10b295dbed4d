// What a first visit to each page downloads of script (JavaScript and wasm,
// as sent over the wire: brotli or gzip when the browser takes it), measured
// in Debian's Chromium with an empty cache, JavaScript on, until the page is
// hydrated. scripts/bench runs it against the server it started; it prints
// one row per page with its target and writes JSON (argument 1).
//
// Environment: BENCH_URL, BENCH_ADMIN_USERNAME/PASSWORD (an account without
// a second factor: every signed-in page), BENCH_USER_USERNAME/PASSWORD (an
// account with a second factor: the code step).
import { chromium } from "@playwright/test";
import { writeFileSync } from "node:fs";

const KB = 1024;
const SIGN_IN_TARGET = 100 * KB;
const PAGE_TARGET = 200 * KB;
const url = process.env.BENCH_URL;
const admin = { username: process.env.BENCH_ADMIN_USERNAME, password: process.env.BENCH_ADMIN_PASSWORD };
const user = { username: process.env.BENCH_USER_USERNAME, password: process.env.BENCH_USER_PASSWORD };

// [page, who is signed in: null (nobody), "admin", or "password step" (the
// user's password accepted, the second step waiting)]
const PAGES = [
  ["/signin", null],
  ["/signin/code", "password step"],
  ["/", "admin"],
  ["/credentials", "admin"],
  ["/account/sessions", "admin"],
  ["/account/password", "admin"],
  ["/account/applications", "admin"],
  ["/admin", "admin"],
  ["/admin/methods", "admin"],
  ["/admin/providers", "admin"],
  ["/admin/policy", "admin"],
  ["/admin/audit", "admin"],
  ["/admin/clients", "admin"],
  ["/admin/outbox", "admin"],
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

/** The cookies of a session that has got as far as `who` (plain forms: no script is loaded). */
async function cookiesFor(who) {
  if (who === null) return [];
  const context = await browser.newContext({ baseURL: url, javaScriptEnabled: false });
  const page = await context.newPage();
  const account = who === "admin" ? admin : user;
  await page.goto("/signin");
  await page.getByLabel("Username").fill(account.username);
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL(who === "admin" ? /\/$/ : /\/signin\/code/);
  const cookies = await context.cookies();
  await context.close();
  return cookies;
}

const rows = [];
for (const [path, who] of PAGES) {
  const cookies = await cookiesFor(who);
  // A new context: an empty cache, as on a first visit.
  const context = await browser.newContext({ baseURL: url });
  await context.addCookies(cookies);
  const page = await context.newPage();
  const scripts = [];
  page.on("requestfinished", async (request) => {
    const name = new URL(request.url()).pathname;
    if (!/\.(js|wasm)$/.test(name)) return;
    const sizes = await request.sizes();
    const encoding = (await request.response())?.headers()["content-encoding"] ?? "identity";
    scripts.push({ file: name, bytes: sizes.responseBodySize, encoding });
  });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(path);
  await page.locator("body[data-hydrated=true], body[data-static=true]").waitFor({ state: "attached", timeout: 30_000 });
  await page.waitForLoadState("networkidle");
  if (new URL(page.url()).pathname !== path) throw new Error(`${path} led to ${page.url()}`);
  if (errors.length) throw new Error(`${path}: ${errors.join("; ")}`);
  await context.close();
  const bytes = scripts.reduce((sum, s) => sum + s.bytes, 0);
  const target = path === "/signin" ? SIGN_IN_TARGET : PAGE_TARGET;
  rows.push({ page: path, bytes, target_bytes: target, met: bytes < target, files: scripts });
}
await browser.close();

console.log(`${"first visit's script (wasm + JS, as sent)".padEnd(44)} ${"KB".padStart(7)}  target   files`);
for (const r of rows) {
  console.log(
    `${r.page.padEnd(44)} ${(r.bytes / KB).toFixed(1).padStart(7)}  < ${String(r.target_bytes / KB).padStart(3)} KB ${r.met ? "met   " : "MISSED"} ${r.files.length}`,
  );
}
writeFileSync(process.argv[2], JSON.stringify(rows, null, 2));
