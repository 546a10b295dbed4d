import { expect, type Page, type TestInfo, test } from "@playwright/test";
import { addApp, adminPage, jsOn, open, passwordStep, ready, twoFactorOnThenSignOut, watchErrors } from "./helpers";

// One account per browser project, with an email address: 2FA state persists.
const resetUser = (info: TestInfo) => ({
  username: jsOn(info) ? "reset-js" : "reset-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});

/** "Cancel and sign in again", waiting for the sign-out's answer: the
 * next sign-in page must not be rendered in the session it is ending (its
 * CSRF token would be refused once the sign-out flushes the session). */
async function cancelAndSignInAgain(page: Page) {
  await Promise.all([
    page.waitForResponse((r) => r.url().includes("/api/sign_out")),
    page.getByRole("button", { name: "Cancel and sign in again" }).click(),
  ]);
}

test("a person who lost every factor asks for a reset, and gets back in once it is approved", async ({
  page,
  browser,
}, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const who = resetUser(info);

  // An app and 2FA on; then the app is "lost".
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/$/);
  await open(page, info, "/credentials");
  await addApp(page, "Lost app");
  await twoFactorOnThenSignOut(page);

  // At the second step: "Lost every way to sign in?", then the reset.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/signin\/code$/);
  await page.getByTestId("lost-every-way").click();
  await expect(page).toHaveURL(/\/signin\/reset$/);
  await page.getByRole("button", { name: "Reset two-factor sign-in by email" }).click();
  await expect(page.getByTestId("reset-waiting")).toBeVisible();
  await cancelAndSignInAgain(page);
  await expect(page).toHaveURL(/\/signin$/);

  // Before the wait is over, the password still leads to the second step.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/signin\/code$/);
  await cancelAndSignInAgain(page);
  await expect(page).toHaveURL(/\/signin$/);

  // The administrator sees the waiting reset and approves it now (the
  // integration tests move the clock through the wait instead).
  const { context, page: console } = await adminPage(browser);
  await console.goto(`/admin/users/${who.username}`);
  await ready(console, info);
  await expect(console.getByTestId("account-reset")).toBeVisible();
  await console.getByRole("button", { name: "Approve it now" }).click();
  if (jsOn(info)) {
    await expect(console.getByText("An approved reset finishes at the next sign-in")).toBeVisible();
  } else {
    // The form posts and the page comes back (this project's contexts have no JavaScript).
    await console.waitForLoadState("load");
    await expect(console.getByTestId("account-reset")).toBeVisible();
  }
  await context.close();

  // The password alone, then straight to adding a new factor.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/signin\/enroll$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Add a second factor");
  expect(errors).toEqual([]);
});
