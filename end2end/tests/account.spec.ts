import { expect, type TestInfo, test } from "@playwright/test";
import { jsOn, open, signIn, watchErrors } from "./helpers";

// One account per browser project: its password changes here.
const account = (info: TestInfo) => ({
  username: jsOn(info) ? "acct-js" : "acct-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});

test("sessions are listed and ended, the password changes and ends the others, signing in again lands back", async ({ page, browser }, info) => {
  test.setTimeout(90_000);
  const errors = watchErrors(page);
  const who = account(info);
  const newPassword = `${who.password}-changed`;

  // The same account in a second browser.
  const other = await browser.newContext({ javaScriptEnabled: jsOn(info) });
  const otherPage = await other.newPage();
  await signIn(otherPage, info, who);
  await signIn(page, info, who);

  // Two sessions; ending the other one signs it out.
  await open(page, info, "/account/sessions");
  const rows = page.getByTestId("sessions").locator("li");
  await expect(rows).toHaveCount(2);
  await expect(page.getByText("This session")).toHaveCount(1);
  await rows.filter({ hasNotText: "This session" }).getByRole("button", { name: "End session" }).click();
  await expect(rows).toHaveCount(1);
  await otherPage.goto("/");
  await expect(otherPage).toHaveURL(/\/signin$/);

  // Signing in again for a change lands back on the page that asked.
  await open(page, info, "/signin/again?next=/credentials");
  await expect(page.getByRole("heading", { name: "Confirm it's you" })).toBeVisible();
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByText("That is not your password.")).toBeVisible();
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page).toHaveURL(/\/credentials$/);

  // The password: errors beside their fields, then the change, which ends the other session.
  await signIn(otherPage, info, who);
  await open(page, info, "/account/password");
  await page.getByLabel("Current password").fill(who.password);
  await page.getByLabel("New password", { exact: true }).fill("short");
  await page.getByLabel("New password again").fill("short");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("A password needs at least 8 characters.")).toBeVisible();
  await page.getByLabel("Current password").fill(who.password);
  await page.getByLabel("New password", { exact: true }).fill(newPassword);
  await page.getByLabel("New password again").fill(newPassword);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("saved")).toContainText("Your password was changed");
  await otherPage.goto("/");
  await expect(otherPage).toHaveURL(/\/signin$/);
  await signIn(otherPage, info, { username: who.username, password: newPassword });
  await other.close();
  // Refused submissions (422) are expected; anything else is not.
  expect(errors.filter((e) => !/status of 422/.test(e))).toEqual([]);
});
