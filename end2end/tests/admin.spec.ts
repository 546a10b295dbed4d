import { expect, type Page, type TestInfo, test } from "@playwright/test";
import { admin, jsOn, open, signIn, watchErrors } from "./helpers";

// The Twilio mock that scripts/test starts (server/examples/mock_providers.rs).
const twilio = process.env.E2E_TWILIO_URL ?? "http://127.0.0.1:3101";
const mockUser = (info: TestInfo) => ({
  username: jsOn(info) ? "mock-js" : "mock-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});
const number = (info: TestInfo) => (jsOn(info) ? "+12015550171" : "+12015550172");

/** The code in the newest message the Twilio mock accepted for `phone`. */
async function codeFromMock(page: Page, phone: string): Promise<string> {
  for (let i = 0; i < 40; i++) {
    const sent: { to: string; body: string }[] = await (await page.request.get(`${twilio}/_mock/messages`)).json();
    const body = sent.filter((m) => m.to === phone).pop()?.body ?? "";
    const code = body.match(/\b(\d{6})\b/)?.[1];
    if (code) return code;
    await page.waitForTimeout(250);
  }
  throw new Error(`the Twilio mock got no message for ${phone}`);
}

async function useSmsPlugin(page: Page, info: TestInfo, plugin: string) {
  await open(page, info, "/admin/methods");
  const sms = page.locator('[data-method="sms"]');
  await sms.getByLabel("Plugin").selectOption(plugin);
  await sms.getByRole("button", { name: "Save" }).click();
  // Hydrated, the save is a request of its own: wait for its answer before
  // leaving the page (leaving would cancel it).
  if (jsOn(info)) await expect(sms.getByText("Saved. It applies from the next request.")).toBeVisible();
  await expect(page.locator('[data-method="sms"]').getByLabel("Plugin")).toHaveValue(plugin);
  // The page re-read the settings: a later save carries the new version.
  await open(page, info, "/admin/methods");
  await expect(page.locator('[data-method="sms"]').getByLabel("Plugin")).toHaveValue(plugin);
}

test("an admin switches SMS to Twilio, the next enrollment goes through it, and the audit log shows both", async ({
  page,
  browser,
}, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  await signIn(page, info, admin);

  // Twilio's settings: a malformed URL is refused beside its field, then the right ones are saved.
  await open(page, info, "/admin/providers");
  let form = page.locator('[data-plugin="twilio"]');
  await form.getByLabel("twilio_sid", { exact: true }).fill("ACmocktwilio00000000000000000000");
  await form.getByLabel("twilio_token", { exact: true }).fill("mock-auth-token");
  await form.getByLabel("from_number", { exact: true }).fill("+15005550006");
  await form.getByLabel("base_url (optional)").fill("not a url");
  await form.getByRole("button", { name: "Save settings" }).click();
  form = page.locator('[data-plugin="twilio"]');
  await expect(form.getByText(/base_url: `not a url` is not an http\(s\) URL/).first()).toBeVisible();
  // Nothing was saved: the stored settings stay as they were.
  await open(page, info, "/admin/providers");
  await expect(page.locator('[data-plugin="twilio"]').getByLabel("base_url (optional)")).not.toHaveValue("not a url");

  await open(page, info, "/admin/providers");
  form = page.locator('[data-plugin="twilio"]');
  await form.getByLabel("twilio_sid", { exact: true }).fill("ACmocktwilio00000000000000000000");
  await form.getByLabel("twilio_token", { exact: true }).fill("mock-auth-token");
  await form.getByLabel("from_number", { exact: true }).fill("+15005550006");
  await form.getByLabel("base_url (optional)").fill(twilio);
  await form.getByRole("button", { name: "Save settings" }).click();
  form = page.locator('[data-plugin="twilio"]');
  await expect(form.getByTestId("provider-status")).toHaveText("Ready");
  // The token is stored, and shown only as a mask.
  await open(page, info, "/admin/providers");
  form = page.locator('[data-plugin="twilio"]');
  await expect(form.getByLabel("twilio_token", { exact: true })).toHaveValue("");
  expect(await page.content()).not.toContain("mock-auth-token");

  // A test message shows the provider's answer.
  await form.getByLabel("Send a test message to").fill("+15005550001");
  await form.getByRole("button", { name: "Send a test message" }).click();
  await expect(page.locator('[data-plugin="twilio"]').getByTestId("provider-answer")).toContainText("21211");

  // SMS now goes through Twilio.
  await useSmsPlugin(page, info, "twilio");

  // A user enrolls a phone: the code arrives at the Twilio mock, not the outbox.
  const context = await browser.newContext({
    baseURL: process.env.TESSERA_E2E_URL ?? "http://localhost:3100",
    javaScriptEnabled: jsOn(info),
  });
  const userPage = await context.newPage();
  await signIn(userPage, info, mockUser(info));
  await open(userPage, info, "/credentials");
  await userPage.getByLabel("Mobile number").fill(number(info));
  await userPage.getByRole("button", { name: "Send code" }).click();
  await expect(userPage.getByRole("heading", { name: "Confirm your phone" })).toBeVisible();
  const code = await codeFromMock(userPage, number(info));
  await userPage.getByLabel("Code", { exact: true }).fill(code);
  await userPage.getByRole("button", { name: "Verify" }).click();
  await expect(userPage.getByTestId("phone-number")).toHaveText(number(info));
  await context.close();

  // The audit log has the switch (before and after) and the enrollment.
  await open(page, info, `/admin/audit?event=admin.method`);
  const change = page.getByTestId("audit-entry").first();
  await expect(change).toContainText("Method settings changed");
  await expect(change.getByTestId("audit-details")).toContainText('"before":{"enabled":true,"plugin":"outbox"}');
  await expect(change.getByTestId("audit-details")).toContainText('"after":{"enabled":true,"plugin":"twilio"}');
  await open(page, info, `/admin/audit?event=credential.added&user=${mockUser(info).username}`);
  await expect(page.getByTestId("audit-entry").first()).toContainText("Credential added");
  await expect(page.getByTestId("audit-entry").first()).toContainText('"plugin"');

  // Back to the outbox for the other browser tests.
  await useSmsPlugin(page, info, "outbox");
  expect(errors.filter((e) => !/status of (401|409|422|429)/.test(e))).toEqual([]);
});
