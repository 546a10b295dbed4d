import { createHmac } from "node:crypto";
import { type Browser, type BrowserContext, expect, type Page, type TestInfo } from "@playwright/test";

export const admin = {
  username: process.env.E2E_ADMIN_USERNAME ?? "admin",
  password: process.env.E2E_ADMIN_PASSWORD ?? "",
};
export const user = {
  username: process.env.E2E_USER_USERNAME ?? "bob",
  password: process.env.E2E_USER_PASSWORD ?? "",
};

export const jsOn = (info: TestInfo) => info.project.name === "js";

/** Page errors (failed hydration, panics) fail the test with JavaScript on. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  return errors;
}

/**
 * With JavaScript on, waits until the page is ready for a person: hydrated,
 * or sent without the wasm bundle (`data-static`: the sign-in page).
 */
export async function ready(page: Page, info: TestInfo) {
  if (jsOn(info)) {
    await expect(page.locator("body[data-hydrated=true], body[data-static=true]")).toBeAttached({ timeout: 15_000 });
  }
}

/** Opens a page and, with JavaScript on, waits until it is ready. */
export async function open(page: Page, info: TestInfo, path: string) {
  await page.goto(path);
  await ready(page, info);
}

export async function signIn(page: Page, info: TestInfo, who: { username: string; password: string }) {
  await open(page, info, "/signin");
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Welcome");
  if (jsOn(info)) {
    await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  }
}

/**
 * The password step alone, up to the page it leads to (ready: the sign-in
 * page is sent without the wasm bundle, so the next page loads and hydrates
 * anew); which page that is, is for the caller to check.
 */
export async function passwordStep(page: Page, info: TestInfo, who: { username: string; password: string }) {
  await open(page, info, "/signin");
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL((url) => url.pathname !== "/signin" && !url.pathname.startsWith("/api/"));
  await ready(page, info);
}

/** A browser context of its own, signed in as the administrator (close it when done). */
export async function adminPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: process.env.TESSERA_E2E_URL ?? "http://localhost:3100" });
  const page = await context.newPage();
  await page.goto("/signin");
  await page.getByLabel("Username").fill(admin.username);
  await page.getByLabel("Password").fill(admin.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  return { context, page };
}

/** On the credentials page: adds an authenticator app named `name`; its secret and when its code was used. */
export async function addApp(page: Page, name: string): Promise<{ secret: string; enrolledAt: number }> {
  await page.getByLabel("App name (optional)").fill(name);
  await page.getByRole("button", { name: "Set up an app" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent()) ?? "";
  const enrolledAt = Date.now();
  await page.getByLabel("Code from the app").fill(totp(secret, enrolledAt));
  await page.getByRole("button", { name: "Verify and add the app" }).click();
  await expect(page.getByTestId("app-nickname")).toHaveText(name);
  return { secret, enrolledAt };
}

/** On the credentials page: turns 2FA on, then signs out. */
export async function twoFactorOnThenSignOut(page: Page) {
  await page.getByRole("button", { name: "Turn on two-factor authentication" }).click();
  await expect(page.getByTestId("two-factor-switch-state")).toContainText("is on");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/signin$/);
}

/** The newest code sent to a number, read by an administrator on the Outbox page. */
export async function codeFromOutbox(browser: Browser, phone: string, notThis?: string): Promise<string> {
  const { context, page } = await adminPage(browser);
  const tail = phone.slice(-2);
  let code = "";
  for (let i = 0; i < 20 && (code === "" || code === notThis); i++) {
    await page.goto("/admin/outbox");
    const row = page.getByTestId("outbox-message").filter({ has: page.getByTestId("outbox-to").getByText(new RegExp(`${tail}$`)) }).first();
    const body = (await row.getByTestId("outbox-body").textContent()) ?? "";
    code = body.match(/\b(\d{6})\b/)?.[1] ?? "";
    if (code === "" || code === notThis) await page.waitForTimeout(250);
  }
  await context.close();
  expect(code).toMatch(/^\d{6}$/);
  return code;
}

/** RFC 4648 base32 (no padding, spaces ignored) to bytes. */
function base32(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of text.replace(/\s/g, "").toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The 6-digit RFC 6238 code (SHA-1, 30 s) of a base32 secret at a moment (ms). */
export function totp(secret: string, at: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac("sha1", base32(secret)).update(counter).digest();
  const o = h[19] & 0xf;
  const bin = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(bin % 1_000_000).padStart(6, "0");
}

/** Waits until the next 30-second step starts, so that a new code shows. */
export async function nextStep(page: Page) {
  await page.waitForTimeout(30_000 - (Date.now() % 30_000) + 500);
}

/**
 * The text of the newest email to `to` whose subject contains `subject`,
 * from the maildir of the SMTP server `scripts/test` starts (E2E_MAILDIR);
 * waits for it up to ten seconds. Bodies are decoded (quoted-printable or
 * base64, UTF-8).
 */
export async function newestMail(to: string, subject: string): Promise<string> {
  const { readdirSync, readFileSync, statSync } = await import("node:fs");
  const { join } = await import("node:path");
  const dir = process.env.E2E_MAILDIR ?? "";
  const decode = (raw: string) => {
    const split = raw.search(/\r?\n\r?\n/);
    const head = raw.slice(0, split).replace(/\r?\n[ \t]+/g, " ");
    const body = raw.slice(split).replace(/^\r?\n\r?\n/, "");
    const header = (name: string) => head.match(new RegExp(`^${name}:\\s*(.*)$`, "im"))?.[1] ?? "";
    const encoding = header("Content-Transfer-Encoding").toLowerCase();
    const text =
      encoding === "base64"
        ? Buffer.from(body, "base64").toString("utf8")
        : encoding === "quoted-printable"
          ? Buffer.from(
              body.replace(/=\r?\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
              "latin1",
            ).toString("utf8")
          : body;
    return { to: header("To"), subject: header("Subject"), text };
  };
  for (let i = 0; i < 100; i++) {
    const files = ["new", "cur"].flatMap((sub) => {
      try {
        return readdirSync(join(dir, sub)).map((f) => join(dir, sub, f));
      } catch {
        return [];
      }
    });
    const found = files
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
      .map((f) => decode(readFileSync(f, "utf8")))
      .find((m) => m.to.includes(to) && m.subject.includes(subject));
    if (found) return found.text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no email to ${to} about ${subject} in ${dir}`);
}
