import { expect, type TestInfo, test } from "@playwright/test";
import { codeFromOutbox, jsOn, nextStep, open, passwordStep, totp, watchErrors } from "./helpers";

// One account and one number per browser project: 2FA state persists.
const totpUser = (info: TestInfo) => ({
  username: jsOn(info) ? "totp-js" : "totp-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});
const number = (info: TestInfo) => (jsOn(info) ? "+12015550181" : "+12015550182");

test("add an authenticator app from its QR page, sign in with it, and switch to a phone at the second step", async ({
  page,
  browser,
}, info) => {
  test.setTimeout(180_000);
  const errors = watchErrors(page);
  const who = totpUser(info);

  // Password only, for now; then set up an app.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/$/);
  await open(page, info, "/credentials");
  await page.getByLabel("App name (optional)").fill("My app");
  await page.getByRole("button", { name: "Set up an app" }).click();
  await expect(page.getByRole("heading", { name: "Set up “My app”" })).toBeVisible();
  await expect(page.getByTestId("totp-qr")).toBeVisible();
  const secret = (await page.getByTestId("totp-secret").textContent()) ?? "";
  expect(secret).toMatch(/^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$/);

  // A wrong code is refused beside the field; the app's code adds it.
  await page.getByLabel("Code from the app").fill("12345");
  await page.getByRole("button", { name: "Verify and add the app" }).click();
  await expect(page.getByText("An authenticator code is 6 digits")).toBeVisible();
  const enrolledAt = Date.now();
  await page.getByLabel("Code from the app").fill(totp(secret, enrolledAt));
  await page.getByRole("button", { name: "Verify and add the app" }).click();
  await expect(page.getByTestId("app-nickname")).toHaveText("My app");
  await expect(page.getByTestId("totp-secret")).toHaveCount(0);
  await page.getByRole("button", { name: "Turn on two-factor authentication" }).click();
  await expect(page.getByTestId("two-factor-switch-state")).toContainText("is on");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // The second step asks for the app's code; the code used to add it is spent.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/signin\/code$/);
  await expect(page.getByTestId("code-from-app")).toContainText("“My app”");
  if (Math.floor(Date.now() / 30_000) === Math.floor(enrolledAt / 30_000)) await nextStep(page);
  await page.getByLabel("Code", { exact: true }).fill(totp(secret, Date.now()));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("two-factor-state")).toHaveText("On");

  // Add a phone too, then sign in with it through "Try another way".
  const phone = number(info);
  await open(page, info, "/credentials");
  await page.getByLabel("Mobile number").fill(phone);
  await page.getByLabel("Name (optional)", { exact: true }).fill("My phone");
  await page.getByRole("button", { name: "Send code" }).click();
  const enrollCode = await codeFromOutbox(browser, phone);
  await page.getByLabel("Code", { exact: true }).fill(enrollCode);
  await page.getByRole("button", { name: "Verify", exact: true }).click();
  await expect(page.getByTestId("phone-nickname")).toHaveText("My phone");
  await page.getByRole("button", { name: "Sign out" }).click();

  await passwordStep(page, info, who);
  await expect(page.getByTestId("code-from-app")).toBeVisible();
  await expect(page.getByTestId("try-another-way")).toBeVisible();
  if (jsOn(info)) await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  await page.getByRole("button", { name: /Text a code to “My phone”/ }).click();
  await expect(page.getByTestId("code-sent-to")).toContainText("My phone");
  await expect(page.getByRole("button", { name: "Use the authenticator app “My app”" })).toBeVisible();
  const code = await codeFromOutbox(browser, phone, enrollCode);
  await page.getByLabel("Code", { exact: true }).fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/$/);
  expect(errors.filter((e) => !/status of (401|409|422|429)/.test(e))).toEqual([]);
});
