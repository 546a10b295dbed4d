import { expect, type TestInfo, test } from "@playwright/test";
import { addApp, jsOn, nextStep, open, passwordStep, totp, twoFactorOnThenSignOut, watchErrors } from "./helpers";

// One account per browser project: 2FA state persists.
const trustUser = (info: TestInfo) => ({
  username: jsOn(info) ? "trust-js" : "trust-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});

test("a trusted browser skips the second step, and asks again once forgotten", async ({ page }, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const who = trustUser(info);

  // An authenticator app and 2FA on.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/$/);
  await open(page, info, "/credentials");
  const { secret, enrolledAt } = await addApp(page, "Phone app");
  await twoFactorOnThenSignOut(page);

  // The second step, trusting this browser.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/signin\/code$/);
  if (Math.floor(Date.now() / 30_000) === Math.floor(enrolledAt / 30_000)) await nextStep(page);
  await page.getByLabel("Code", { exact: true }).fill(totp(secret, Date.now()));
  await page.getByLabel("Don't ask again on this browser for 30 days").check();
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/$/);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // The password alone signs in on this browser now.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Welcome");

  // Listed on the Sessions page; forgotten there.
  await open(page, info, "/account/sessions");
  const trusted = page.getByTestId("trusted-browser");
  await expect(trusted).toHaveCount(1);
  await expect(trusted).toContainText("(this browser)");
  await trusted.getByRole("button", { name: "Forget" }).click();
  await expect(page.getByTestId("no-trusted-browsers")).toBeVisible();
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // Forgotten: the second step again.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/signin\/code$/);
  expect(errors).toEqual([]);
});
