import { expect, test } from "@playwright/test";
import { admin, jsOn, open, signIn, user, watchErrors } from "./helpers";

test.describe("sign-in", () => {
  let errors: string[] = [];
  // The error statuses a test provokes on purpose: the browser logs them.
  let expected: number[] = [];
  test.beforeEach(({ page }) => {
    errors = watchErrors(page);
    expected = [];
  });
  test.afterEach(() => {
    const real = errors.filter((e) => !expected.some((code) => e.includes(`status of ${code}`)));
    expect(real, "browser errors").toEqual([]);
  });

  test("a signed-out visitor is sent to the sign-in page", async ({ page }, info) => {
    await open(page, info, "/");
    await expect(page).toHaveURL(/\/signin$/);
    await expect(page.getByRole("heading", { name: "Sign in to Tessera" })).toBeVisible();
    await expect(page.getByRole("navigation", { name: "Main" })).toHaveCount(0);
  });

  test("empty fields get an error beside each field", async ({ page }, info) => {
    expected = [422];
    await open(page, info, "/signin");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByText("Enter your username.")).toBeVisible();
    await expect(page.getByText("Enter your password.")).toBeVisible();
    await expect(page.getByLabel("Username")).toHaveAttribute("aria-invalid", "true");
  });

  test("a wrong password gets the same message as an unknown user", async ({ page }, info) => {
    expected = [401];
    await open(page, info, "/signin");
    await page.getByLabel("Username").fill(user.username);
    await page.getByLabel("Password").fill("definitely-not-it");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByRole("alert")).toHaveText("Incorrect username or password.");
    await expect(page).toHaveURL(/\/signin/);

    await open(page, info, "/signin");
    await page.getByLabel("Username").fill("no-such-person");
    await page.getByLabel("Password").fill("definitely-not-it");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.getByRole("alert")).toHaveText("Incorrect username or password.");
  });

  test("the administrator signs in, sees the account status and the console, and signs out", async ({ page }, info) => {
    await signIn(page, info, admin);
    await expect(page.getByTestId("two-factor-state")).toHaveText("Off");
    await expect(page.getByTestId("credential-count")).toHaveText("0 credentials");
    await expect(page.getByTestId("signed-in-at")).toContainText("UTC");
    await expect(page.getByTestId("signed-in-user")).toHaveText("Administrator");

    const nav = page.getByRole("navigation", { name: "Main" });
    await nav.getByRole("link", { name: "2FA credentials" }).click();
    await expect(page.getByRole("heading", { name: "2FA credentials" })).toBeVisible();
    await expect(page.getByTestId("credentials-summary")).toHaveText("You have no second-factor credentials yet.");

    await nav.getByRole("link", { name: "Admin" }).click();
    await expect(page.getByRole("heading", { name: "Users", level: 1 })).toBeVisible();
    await expect(page.getByTestId("user-table")).toContainText(user.username);

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/signin$/);
    await open(page, info, "/");
    await expect(page).toHaveURL(/\/signin$/);
  });

  test("a user has no Admin link and the console refuses them", async ({ page }, info) => {
    expected = [403];
    await signIn(page, info, user);
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav.getByRole("link", { name: "2FA credentials" })).toBeVisible();
    await expect(nav.getByRole("link", { name: "Admin" })).toHaveCount(0);
    const response = await page.goto("/admin");
    expect(response?.status()).toBe(403);
    await expect(page.getByTestId("page-error")).toContainText("You are not allowed to do that.");
    await expect(page.getByTestId("user-table")).toHaveCount(0);
  });

  test("an unknown page says so", async ({ page }, info) => {
    expected = [404];
    await signIn(page, info, user);
    const response = await page.goto("/no-such-page");
    expect(response?.status()).toBe(404);
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
    if (jsOn(info)) {
      await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
    }
  });
});
