import { type Browser, expect, type Page, type TestInfo, test } from "@playwright/test";
import { adminPage, jsOn, open, passwordStep, ready, twoFactorOnThenSignOut, watchErrors } from "./helpers";

// Passkeys in Chromium with its virtual authenticator (the DevTools
// protocol's WebAuthn domain): one account per browser project.
const passkeyUser = (info: TestInfo) => ({
  username: jsOn(info) ? "passkey-js" : "passkey-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});

/** The administrator turns passkeys on in the console (once is enough). */
async function passkeysOn(browser: Browser, info: TestInfo) {
  const { context, page } = await adminPage(browser);
  await page.goto("/admin/methods");
  await ready(page, info);
  const section = page.locator('[data-method="passkey"]');
  const enabled = section.getByLabel("Enabled");
  if (!(await enabled.isChecked())) {
    await enabled.check();
    await section.getByRole("button", { name: "Save" }).click();
    await expect(section.getByText("Saved.")).toBeVisible();
  }
  await context.close();
}

/**
 * A platform authenticator that holds discoverable passkeys and verifies the
 * person; `presence(false)` makes it wait, as a person who has not touched
 * it yet (the sign-in page's autofill request stays open meanwhile).
 */
async function virtualAuthenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    presence: (enabled: boolean) => cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled }),
  };
}

// One test per project: with JavaScript on, the ceremonies (Chromium's
// virtual authenticator); with it off, what the passkey choices say instead.
test("a passkey is registered, proves the second step and signs in alone; without JavaScript the choices say they need it", async ({
  page,
  browser,
}, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const who = passkeyUser(info);
  await passkeysOn(browser, info);
  if (!jsOn(info)) {
    await open(page, info, "/signin");
    await expect(page.getByTestId("passkey-sign-in").getByTestId("passkey-needs-js")).toBeVisible();
    await passwordStep(page, info, who);
    await expect(page).toHaveURL(/\/$/);
    await open(page, info, "/credentials");
    await expect(page.getByTestId("passkey-needs-js")).toBeVisible();
    await expect(page.getByLabel("Passkey name (optional)")).toBeVisible();
    return;
  }
  const authenticator = await virtualAuthenticator(page);

  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/$/);
  await open(page, info, "/credentials");
  await page.getByLabel("Passkey name (optional)").fill("This laptop");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("heading", { name: "Create the passkey “This laptop”" })).toBeVisible();
  await page.getByRole("button", { name: "Create the passkey" }).click();
  await expect(page.getByTestId("passkey-nickname")).toHaveText("This laptop");
  // The password, then the passkey as the second step (untouched until
  // then, so that the autofill of the sign-in page the sign-out leads to
  // does not answer first).
  await authenticator.presence(false);
  await twoFactorOnThenSignOut(page);
  await passwordStep(page, info, who);
  await expect(page).toHaveURL(/\/signin\/code$/);
  await expect(page.getByTestId("use-passkey")).toContainText("“This laptop”");
  await authenticator.presence(true);
  await page.getByRole("button", { name: "Use my passkey" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Welcome");
  // (The sign-in page the sign-out leads to asks for the autofill at once.)
  await authenticator.presence(false);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin$/);

  // The passkey alone, no username, no password: the button (the page's
  // autofill request, answered by the authenticator at once, may come first).
  await authenticator.presence(true);
  await page.goto("/signin");
  try {
    await page.getByRole("button", { name: "Sign in with a passkey" }).click({ timeout: 5_000 });
  } catch {
    // Already signed in through the autofill.
  }
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Welcome");
  expect(errors).toEqual([]);
});
