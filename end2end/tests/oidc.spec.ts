import { expect, type TestInfo, test } from "@playwright/test";
import { codeFromOutbox, jsOn, open, ready, watchErrors } from "./helpers";
import { RelyingParty } from "./relying_party";

// An application signs people in through Tessera (OpenID Connect), with
// JavaScript on and off: the portal's own sign-in pages, the method the
// application asks for, single sign-on, and signing out from the application.
const issuer = process.env.TESSERA_E2E_URL ?? "http://localhost:3100";
const rp = new RelyingParty(
  issuer,
  process.env.E2E_RP_CLIENT_ID ?? "e2e-rp",
  process.env.E2E_RP_CLIENT_SECRET ?? "",
  Number(process.env.E2E_RP_PORT ?? 3102),
);
test.beforeAll(async () => rp.start());
test.afterAll(async () => rp.stop());

const oidcUser = (info: TestInfo) => ({
  username: jsOn(info) ? "oidc-js" : "oidc-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});
const number = (info: TestInfo) => (jsOn(info) ? "+12015550191" : "+12015550192");

test("an application signs a person in with the password, then with the SMS code it asks for, and signs out", async ({
  page,
  browser,
}, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const who = oidcUser(info);

  // The application sends the person to Tessera's sign-in page and gets
  // them back, with what the sign-in proved.
  await page.goto(`${rp.base}/login`);
  await expect(page).toHaveURL(/\/signin$/);
  await ready(page, info);
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByTestId("rp-user")).toHaveText(who.username);
  await expect(page.getByTestId("rp-acr")).toHaveText("password");
  await expect(page.getByTestId("rp-amr")).toHaveText("pwd");

  // Signed in to Tessera now: the next sign-in asks nothing (single sign-on).
  await page.goto(`${rp.base}/login`);
  await expect(page.getByTestId("rp-acr")).toHaveText("password");

  // A phone, then an application that asks for SMS: the second step asks
  // for its code, though 2FA is off.
  await open(page, info, "/credentials");
  await page.getByLabel("Mobile number").fill(number(info));
  await page.getByRole("button", { name: "Send code" }).click();
  await expect(page.getByRole("heading", { name: "Confirm your phone" })).toBeVisible();
  const enrollCode = await codeFromOutbox(browser, number(info));
  await page.getByLabel("Code", { exact: true }).fill(enrollCode);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByTestId("phone-number")).toHaveText(number(info));
  await page.goto(`${rp.base}/login?acr=sms`);
  await expect(page).toHaveURL(/\/signin\/again/);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page).toHaveURL(/\/signin\/code$/);
  const code = await codeFromOutbox(browser, number(info), enrollCode);
  await page.getByLabel("Code", { exact: true }).fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByTestId("rp-acr")).toHaveText("sms");
  await expect(page.getByTestId("rp-amr")).toHaveText("pwd sms mfa");

  // Signing out from the application asks first, then returns to it.
  await page.goto(`${rp.base}/logout`);
  await expect(page.getByRole("heading", { name: "Sign out of Tessera?" })).toBeVisible();
  await page.getByTestId("confirm-sign-out").click();
  await expect(page.getByTestId("rp-bye")).toHaveText("Signed out (bye-state)");
  await page.goto(`${rp.base}/login`);
  await expect(page).toHaveURL(/\/signin$/);
  // A page of the portal still open when the session ends is refused (401).
  expect(errors.filter((e) => !e.includes("status of 401"))).toEqual([]);
});
