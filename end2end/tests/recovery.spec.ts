import { expect, type TestInfo, test } from "@playwright/test";
import { jsOn, open, passwordStep, totp, watchErrors } from "./helpers";

// One account per browser project: 2FA state persists.
const recoveryUser = (info: TestInfo) => ({
  username: jsOn(info) ? "recovery-js" : "recovery-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});

test("make recovery codes, see them once, and sign in with one through “Try another way”", async ({ page }, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const who = recoveryUser(info);

  // An app first: recovery codes alone cannot turn 2FA on.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/$/);
  await open(page, info, "/credentials");
  await page.getByRole("button", { name: "Set up an app" }).click();
  const secret = (await page.getByTestId("totp-secret").textContent()) ?? "";
  await page.getByLabel("Code from the app").fill(totp(secret, Date.now()));
  await page.getByRole("button", { name: "Verify and add the app" }).click();
  await expect(page.getByTestId("app-nickname")).toHaveText("Authenticator app");
  await page.getByRole("button", { name: "Turn on two-factor authentication" }).click();
  await expect(page.getByTestId("two-factor-switch-state")).toContainText("is on");

  // Ten codes, shown once, with a download; saved, they are gone from the page.
  await page.getByRole("link", { name: "Make recovery codes" }).click();
  await expect(page).toHaveURL(/\/credentials\/recovery$/);
  if (jsOn(info)) await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  await page.getByRole("button", { name: "Make recovery codes" }).click();
  await expect(page.getByTestId("recovery-code")).toHaveCount(10);
  const codes = await page.getByTestId("recovery-code").allTextContents();
  expect(codes.every((c) => /^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/.test(c))).toBe(true);
  await expect(page.getByTestId("download-codes")).toHaveAttribute("href", /^data:text\/plain;charset=utf-8,/);
  await expect(page.getByTestId("download-codes")).toHaveAttribute("download", "tessera-recovery-codes.txt");
  await page.getByRole("button", { name: "I have saved them" }).click();
  await expect(page.getByTestId("recovery-code")).toHaveCount(0);
  await expect(page.getByTestId("recovery-left")).toContainText("10 of your 10");
  await page.getByRole("button", { name: "Sign out" }).click();

  // The app is asked for; a recovery code, typed any way, signs in instead.
  await passwordStep(page, info, who);
  await expect(page.getByTestId("code-from-app")).toBeVisible();
  if (jsOn(info)) await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  await page.getByRole("button", { name: /Use a recovery code/ }).click();
  await expect(page.getByTestId("code-recovery")).toBeVisible();
  await page.getByLabel("Code", { exact: true }).fill(codes[0].replaceAll("-", " ").toLowerCase());
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/$/);

  // Used once: the count went down.
  await open(page, info, "/credentials/recovery");
  await expect(page.getByTestId("recovery-left")).toContainText("9 of your 10");
  expect(errors.filter((e) => !/status of (401|409|422|429)/.test(e))).toEqual([]);
});
