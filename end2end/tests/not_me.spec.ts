import { expect, type TestInfo, test } from "@playwright/test";
import { addApp, adminPage, jsOn, newestMail, open, ready, watchErrors } from "./helpers";

// One account per browser project: its notices and flag persist.
const notMeUser = (info: TestInfo) => ({
  username: jsOn(info) ? "notme-js" : "notme-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});

test("a notice's “this wasn't me” link signs in, secures the account and flags it on the console", async ({
  page,
  browser,
}, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const who = notMeUser(info);
  const signInHere = async (p: typeof page) => {
    await p.getByLabel("Username").fill(who.username);
    await p.getByLabel("Password").fill(who.password);
    await p.getByRole("button", { name: "Sign in", exact: true }).click();
  };

  // Another session of the account (someone else's, as far as the owner knows).
  const other = await browser.newContext({ baseURL: process.env.TESSERA_E2E_URL ?? "http://localhost:3100" });
  const otherPage = await other.newPage();
  await otherPage.goto("/signin");
  await signInHere(otherPage);
  await expect(otherPage).toHaveURL(/\/$/);

  // A change the owner is told about: an app added.
  await open(page, info, "/signin");
  await signInHere(page);
  await expect(page).toHaveURL(/\/$/);
  await open(page, info, "/credentials");
  await addApp(page, "Unknown app");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // The notice's email, received by a real SMTP server, carries the link
  // (only the email: SECURITY.md 57).
  const mail = await newestMail(`${who.username}@example.org`, "A sign-in method was added");
  expect(mail).toContain("Unknown app");
  const link = mail.match(/\/not-me\?token=[A-Za-z0-9_-]{43}/)?.[0] ?? "";
  expect(link).not.toBe("");
  const { context, page: console } = await adminPage(browser);

  // Opening it signed out: sign in first, and the sign-in comes back here.
  await open(page, info, link);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("This wasn't me");
  await expect(page.getByTestId("not-me-about")).toContainText("A sign-in method was added");
  await page.getByRole("link", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/signin$/);
  await signInHere(page);
  await expect(page).toHaveURL(new RegExp(`${link.replace("?", "\\?")}$`));
  if (jsOn(info)) await expect(page.locator("body[data-hydrated=true]")).toBeAttached({ timeout: 15_000 });
  await page.getByRole("button", { name: "Secure my account" }).click();
  await expect(page.getByTestId("not-me-done")).toBeVisible();

  // The other session is over; this one goes on.
  await otherPage.goto("/");
  await expect(otherPage).toHaveURL(/\/signin$/);
  await other.close();
  await open(page, info, "/");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Welcome");

  // The console lists the account flagged; once looked into, the flag is cleared.
  await console.goto("/admin");
  const row = console.getByRole("row").filter({ has: console.getByRole("link", { name: who.username, exact: true }) });
  await expect(row.getByTestId("user-flagged")).toBeVisible();
  await console.goto(`/admin/users/${who.username}`);
  await ready(console, info);
  await expect(console.getByTestId("account-flag")).toContainText("secured the account");
  await console.getByRole("button", { name: "Clear the flag" }).click();
  await expect(console.getByTestId("account-flag")).toHaveCount(0);
  await context.close();
  expect(errors).toEqual([]);
});
