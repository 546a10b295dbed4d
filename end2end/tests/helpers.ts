import { expect, type Page, type TestInfo } from "@playwright/test";

export const admin = {
  username: process.env.E2E_ADMIN_USERNAME ?? "admin",
  password: process.env.E2E_ADMIN_PASSWORD ?? "",
};
export const user = {
  username: process.env.E2E_USER_USERNAME ?? "bob",
  password: process.env.E2E_USER_PASSWORD ?? "",
};

export const jsOn = (info: TestInfo) => info.project.name === "js";

/** Page errors (failed hydration, panics) fail the test with JavaScript on. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  return errors;
}

/** Opens a page and, with JavaScript on, waits until it is hydrated. */
export async function open(page: Page, info: TestInfo, path: string) {
  await page.goto(path);
  if (jsOn(info)) {
    await expect(page.locator("body[data-hydrated=true]")).toBeAttached({ timeout: 15_000 });
  }
}

export async function signIn(page: Page, info: TestInfo, who: { username: string; password: string }) {
  await open(page, info, "/signin");
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Welcome");
  if (jsOn(info)) {
    await expect(page.locator("body[data-hydrated=true]")).toBeAttached();
  }
}
