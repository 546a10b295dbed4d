import { expect, type TestInfo, test } from "@playwright/test";
import { codeFromOutbox, jsOn, open, passwordStep, watchErrors } from "./helpers";

// One account and one number per browser project: 2FA state persists.
const smsUser = (info: TestInfo) => ({
  username: jsOn(info) ? "sms-js" : "sms-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});
const number = (info: TestInfo) => (jsOn(info) ? "+12015550161" : "+12015550162");

const wrongFor = (code: string) => (code === "000000" ? "111111" : "000000");

test("enroll a phone through the outbox, turn 2FA on and sign in with a code", async ({ page, browser }, info) => {
  test.setTimeout(180_000);
  const errors = watchErrors(page);
  const who = smsUser(info);
  const phone = number(info);

  // Password only, for now.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/$/);
  await open(page, info, "/credentials");
  await expect(page.getByTestId("credentials-summary")).toContainText("no second-factor credentials");

  // Enroll: number and name, a code, a wrong try, then the right one.
  await page.getByLabel("Mobile number").fill(phone.replace("+1", "(").replace(/^\((\d{3})/, "($1) "));
  await page.getByLabel("Name (optional)", { exact: true }).fill("My phone");
  await page.getByRole("button", { name: "Send code" }).click();
  await expect(page.getByRole("heading", { name: "Confirm your phone" })).toBeVisible();
  await expect(page.getByTestId("pending-phone")).toContainText(phone);
  const enrollCode = await codeFromOutbox(browser, phone);
  await page.getByLabel("Code", { exact: true }).fill(wrongFor(enrollCode));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByText("That code is not right. 4 tries left.")).toBeVisible();
  await page.getByLabel("Code", { exact: true }).fill(enrollCode);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByTestId("phone-number")).toHaveText(phone);
  await expect(page.getByTestId("phone-nickname")).toHaveText("My phone");

  // The switch.
  await page.getByRole("button", { name: "Turn on two-factor authentication" }).click();
  await expect(page.getByTestId("two-factor-switch-state")).toContainText("is on");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // Password, then the second step with a masked number.
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/signin\/code$/);
  await expect(page.getByTestId("code-sent-to")).toContainText(`My phone`);
  await expect(page.getByTestId("code-sent-to")).toContainText(`•••••••••${phone.slice(-2)}`);
  await expect(page.getByText(phone)).toHaveCount(0);

  // A resend inside the cooldown (5 s on the e2e server) is refused with when to retry.
  if (jsOn(info)) await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  await page.getByRole("button", { name: "Send a new code" }).click();
  await expect(page.getByText(/You can ask for another in \d+ seconds?\./)).toBeVisible();
  const first = await codeFromOutbox(browser, phone, enrollCode);

  // A wrong code, then the code after it expired (the e2e policy's codes live 1 minute).
  await page.getByLabel("Code", { exact: true }).fill(wrongFor(first));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByText("That code is not right. 4 tries left.")).toBeVisible();
  await page.waitForTimeout(61_000);
  await page.getByLabel("Code", { exact: true }).fill(first);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByText("This code has expired. Ask for a new one.")).toBeVisible();

  // A resend brings a new code, which signs in.
  await page.getByRole("button", { name: "Send a new code" }).click();
  const second = await codeFromOutbox(browser, phone, first);
  await page.getByLabel("Code", { exact: true }).fill(second);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("two-factor-state")).toHaveText("On");
  expect(errors.filter((e) => !/status of (401|409|422|429)/.test(e))).toEqual([]);
});
