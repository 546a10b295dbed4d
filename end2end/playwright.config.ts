import { defineConfig } from "@playwright/test";

// Runs every test twice: hydrated (JavaScript on) and plain HTML forms
// (JavaScript off), in Debian's Chromium, against the release server that
// scripts/test starts.
export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  workers: 1,
  retries: 0,
  timeout: 30_000,
  reporter: [["list"]],
  use: {
    baseURL: process.env.TESSERA_E2E_URL ?? "http://localhost:3100",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [
    { name: "js", use: { javaScriptEnabled: true } },
    { name: "nojs", use: { javaScriptEnabled: false } },
  ],
});
