import { expect, test } from "@playwright/test";
import { jsOn, open, signIn, user, watchErrors } from "./helpers";

// SECURITY.md 31-32 in a real browser: the pages run under their
// Content-Security-Policy, no other site can frame them, and nothing signed
// in is shown again after sign-out.
test.describe("browser protections", () => {
  let errors: string[] = [];
  test.beforeEach(({ page }) => {
    errors = watchErrors(page);
  });

  test("pages hydrate under the content security policy, which refuses any other inline script", async ({ page }, info) => {
    const answer = await page.goto("/signin");
    const csp = answer?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(answer?.headers()["cache-control"]).toBe("no-store");
    await open(page, info, "/signin");
    await signIn(page, info, user);
    await open(page, info, "/credentials");
    await expect(page.getByRole("heading", { name: "2FA credentials" })).toBeVisible();
    if (jsOn(info)) {
      // A script the page did not bring, without the nonce, is refused.
      const injected = await page
        .addScriptTag({ content: "document.body.dataset.injected = 'yes';" })
        .then(() => "ran")
        .catch(() => "refused");
      expect(await page.locator("body").getAttribute("data-injected")).toBeNull();
      expect(injected).toBe("refused");
      errors = errors.filter((e) => !e.includes("Content Security Policy"));
    }
    expect(errors, "browser errors (a refused script shows here)").toEqual([]);
  });

  test("another site cannot frame a page", async ({ page, baseURL }) => {
    // The attacker's page frames one of its own pages (which shows: frames
    // work here) and Tessera's sign-in page (which the browser refuses).
    await page.route("http://attacker.example/**", (route) =>
      route.fulfill({
        contentType: "text/html",
        body: route.request().url().endsWith("/own")
          ? "<!doctype html><h1>Attacker's own frame</h1>"
          : `<!doctype html><title>Win a prize</title>
             <iframe id="own" src="/own"></iframe>
             <iframe id="victim" src="${baseURL}/signin"></iframe>`,
      }),
    );
    await page.goto("http://attacker.example/");
    await expect(page.frameLocator("#own").getByRole("heading", { name: "Attacker's own frame" })).toBeVisible();
    await page.waitForLoadState("load");
    const victim = page.frameLocator("#victim");
    await expect(victim.getByRole("heading", { name: "Sign in to Tessera" })).toHaveCount(0);
    await expect(victim.getByLabel("Password")).toHaveCount(0);
    expect(errors, "browser errors").toEqual([]);
  });

  test("after sign-out the back button shows no signed-in page", async ({ page }, info) => {
    await signIn(page, info, user);
    await open(page, info, "/credentials");
    await expect(page.getByRole("heading", { name: "2FA credentials" })).toBeVisible();
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/signin$/);
    await page.goBack();
    await expect(page).toHaveURL(/\/signin$/);
    await expect(page.getByRole("heading", { name: "2FA credentials" })).toHaveCount(0);
    // With JavaScript on, the router asks for the page's data again and is
    // refused (401) before it goes to the sign-in page: expected.
    expect(errors.filter((e) => !e.includes("status of 401")), "browser errors").toEqual([]);
  });
});
