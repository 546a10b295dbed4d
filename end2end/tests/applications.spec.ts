import { expect, type TestInfo, test } from "@playwright/test";
import { admin, jsOn, open, signIn, watchErrors } from "./helpers";
import { RelyingParty } from "./relying_party";

// An administrator registers an application in the console (not
// first-party); a person allows it on the consent screen, finds it on their
// Applications page and revokes it, then refuses it. JavaScript on and off.
const issuer = process.env.TESSERA_E2E_URL ?? "http://localhost:3100";
const rpPort = Number(process.env.E2E_RP_PORT ?? 3102) + 1;
const person = (info: TestInfo) => ({
  username: jsOn(info) ? "consent-js" : "consent-nojs",
  password: process.env.E2E_SMS_PASSWORD ?? "",
});

test("the console adds an application, a person allows it, revokes it on the Applications page, then refuses it", async ({
  page,
  browser,
}, info) => {
  test.setTimeout(120_000);
  const errors = watchErrors(page);
  const name = jsOn(info) ? "Wiki (js)" : "Wiki (nojs)";

  // The console: add it, read its id and its secret (shown once).
  await signIn(page, info, admin);
  await open(page, info, "/admin/clients");
  await page.getByLabel("Name (shown to users)").fill(name);
  await page.getByLabel(/Redirect URIs/).fill(`http://127.0.0.1:${rpPort}/callback`);
  await page.getByRole("button", { name: "Add application" }).click();
  await expect(page.getByTestId("client-name")).toHaveText(name);
  const clientId = (await page.getByTestId("client-id").textContent()) ?? "";
  const secret = (await page.getByTestId("client-secret").textContent()) ?? "";
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  await page.reload();
  await expect(page.getByTestId("client-name")).toHaveText(name);
  await expect(page.getByTestId("client-secret")).toHaveCount(0);

  const rp = new RelyingParty(issuer, clientId, secret, rpPort);
  await rp.start();
  try {
    const context = await browser.newContext({ baseURL: issuer, javaScriptEnabled: jsOn(info) });
    const p = await context.newPage();
    const who = person(info);
    await signIn(p, info, who);

    // The consent screen, then the application has the person.
    await p.goto(`${rp.base}/login`);
    await expect(p.getByRole("heading", { name: `Allow ${name} to sign you in?` })).toBeVisible();
    await expect(p.getByTestId("consent-scopes")).toContainText("See your name and username");
    await p.getByTestId("consent-allow").click();
    await expect(p.getByTestId("rp-user")).toHaveText(who.username);
    // Remembered: no screen the second time.
    await p.goto(`${rp.base}/login`);
    await expect(p.getByTestId("rp-user")).toHaveText(who.username);

    // The Applications page lists it; revoking asks again next time.
    await open(p, info, "/account/applications");
    const row = p.locator(`[data-client="${clientId}"]`);
    await expect(row).toContainText(name);
    await expect(row).toContainText("signed in now");
    await row.getByRole("button", { name: "Revoke access" }).click();
    await expect(row).not.toContainText("signed in now");
    await p.goto(`${rp.base}/login`);
    await expect(p.getByRole("heading", { name: `Allow ${name} to sign you in?` })).toBeVisible();
    await p.getByTestId("consent-deny").click();
    await expect(p.getByTestId("rp-error")).toHaveText("access_denied");
    await context.close();
  } finally {
    await rp.stop();
  }
  expect(errors).toEqual([]);
});
