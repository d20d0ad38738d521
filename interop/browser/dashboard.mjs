// Dashboard browser suite: playwright-core driving Debian's chromium (headless) against a server
// started with `serve --demo`. Usage: node dashboard.mjs <demo.json>; env CHROMIUM, SCREENSHOTS.
// Fields are found by their labels, as a person (or a screen reader) finds them.
import fs from "node:fs";
import { chromium } from "playwright-core";

const demo = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const origin = new URL(demo.apiBaseUrl).origin;
const shots = process.env.SCREENSHOTS || "screenshots";
fs.mkdirSync(shots, { recursive: true });

const consoleErrors = [];
let expectingRefusal = false;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function api(method, path, key, body) {
  const response = await fetch(origin + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

async function agentBuysServer(key, hostname) {
  const quote = await api("POST", "/v1/agent/quotes", key, {
    catalogItemId: "cat_vps_micro",
    quantity: 1,
    configuration: { hostname, region: "eu-west", image: "ubuntu-24.04", billingTermMonths: 1, backupsEnabled: true },
  });
  check(quote.status === 201, `quote: ${JSON.stringify(quote.body)}`);
  check(quote.body.quote.totalPriceMinor === 2400, "the quote costs 24.00");
  check(quote.body.quote.policyPreview.decision === "approval_required", "the preview says approval is needed");
  const purchase = await api("POST", "/v1/agent/purchases", key, {
    quoteId: quote.body.quote.id,
    idempotencyKey: `browser-${hostname}`,
    note: `Need ${hostname} for the nightly build`,
  });
  check(purchase.status === 201, `purchase: ${JSON.stringify(purchase.body)}`);
  check(purchase.body.purchase.status === "pending_approval", "the purchase waits for approval");
  return purchase.body.purchase.id;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("console", (message) => {
    if (message.type() === "error" && !expectingRefusal) consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
  const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  const heading = () => page.locator("h1").innerText();
  const nav = (label) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: label }).click();
  const step = async (name, body) => {
    process.stdout.write(`- ${name} ... `);
    await body();
    console.log("ok");
  };

  await step("a wrong password is refused", async () => {
    await page.goto(`${origin}/dashboard`);
    check((await heading()) === "Sign in", "signed-out visitors land on the sign-in page");
    await shot("01-sign-in");
    await page.getByLabel("Email").fill(demo.email);
    await page.getByLabel("Password").fill("not the password");
    expectingRefusal = true;
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/dashboard/login") && r.request().method() === "POST"),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    await page.waitForLoadState();
    expectingRefusal = false;
    check(response.status() === 401, `wrong password answers 401, got ${response.status()}`);
    await page.getByText("do not match an account").waitFor();
    await shot("02-sign-in-refused");
  });

  await step("sign in", async () => {
    await page.getByLabel("Email").fill(demo.email);
    await page.getByLabel("Password").fill(demo.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${origin}/dashboard`);
    check((await heading()) === "Overview", "the overview opens after sign-in");
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "agent_store_session");
    check(session && session.httpOnly && session.sameSite === "Lax", "the session cookie is HttpOnly and SameSite=Lax");
    await shot("03-overview");
  });

  let balanceBefore;
  await step("fund 100 USD", async () => {
    await nav("Wallet");
    balanceBefore = await page.getByTestId("balance").innerText();
    await page.getByLabel("Amount (USD)").fill("100");
    await page.getByRole("button", { name: "Add funds" }).click();
    await page.getByText("Funds added to the wallet.").waitFor();
    const after = await page.getByTestId("balance").innerText();
    const cents = (t) => Math.round(Number(t.replace(/[$,]/g, "")) * 100);
    check(cents(after) - cents(balanceBefore) === 10000, `balance went from ${balanceBefore} to ${after}`);
    await page.getByRole("cell", { name: /Wallet funding of 100.00 USD/ }).first().waitFor();
    await shot("04-wallet");
  });

  await step("a form posted without the CSRF token is refused", async () => {
    const before = await page.getByTestId("balance").innerText();
    await page.evaluate(() => document.querySelector('form[action="/dashboard/wallet/fund"] input[name="csrf"]').remove());
    await page.getByLabel("Amount (USD)").fill("5");
    expectingRefusal = true;
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/dashboard/wallet/fund")),
      page.getByRole("button", { name: "Add funds" }).click(),
    ]);
    await page.waitForLoadState();
    expectingRefusal = false;
    check(response.status() === 403, `a form without its token answers 403, got ${response.status()}`);
    check((await heading()) === "This form could not be accepted", "the refusal says so");
    await shot("05-csrf-refused");
    await page.goto(`${origin}/dashboard/wallet`);
    check((await page.getByTestId("balance").innerText()) === before, "nothing was funded");
  });

  let agentKey;
  await step("create an agent and a key", async () => {
    await nav("Agents");
    await page.getByLabel("Agent name").fill("browser-buyer");
    await page.getByRole("button", { name: "Create agent" }).click();
    check((await heading()) === "Agent: browser-buyer", "the new agent's page opens");
    await page.getByLabel("Key label").fill("browser");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = page.getByLabel("New API key");
    agentKey = await secret.inputValue();
    check(agentKey.startsWith("ask_live_"), "the new key is shown once");
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    await shot("06-agent-key");
    await nav("Agents");
    await shot("07-agents");
  });

  await step("require approval above 20 USD", async () => {
    await nav("Policies");
    await page.getByLabel("Require approval above (USD)").fill("20");
    await page.getByRole("button", { name: "Save policy" }).click();
    await page.getByText("Policy saved.").waitFor();
    const row = page.getByRole("row", { name: /Needs approval above/ });
    check((await row.innerText()).includes("$20.00"), "the effective policy shows the new threshold");
    check((await row.innerText()).includes("Account layer"), "and which layer set it");
    await shot("08-policies");
    await page.getByRole("navigation", { name: "Policy layers" }).getByRole("link", { name: "browser-buyer" }).click();
    check((await page.locator("h2").first().innerText()).includes("browser-buyer"), "the agent layer opens");
    await shot("09-agent-policy");
  });

  let approveId, rejectId;
  await step("the agent buys servers over the API and they wait in the queue", async () => {
    approveId = await agentBuysServer(agentKey, "browser-node-01");
    rejectId = await agentBuysServer(agentKey, "browser-node-02");
    await nav("Overview");
    await page.getByRole("heading", { name: /Waiting for your decision/ }).waitFor();
    await nav("Approvals");
    for (const id of [approveId, rejectId]) {
      const card = page.locator(`#approval-${id}`);
      await card.waitFor();
      const text = await card.innerText();
      check(text.includes("$24.00") && text.includes("browser-buyer"), `the queue shows amount and agent: ${text}`);
      check(text.includes("nightly build"), "and the agent's note");
      check(/approval/i.test(text), "and the policy reason");
    }
    await shot("10-approvals");
  });

  await step("approve one in the browser; it completes and its service shows", async () => {
    const card = page.locator(`#approval-${approveId}`);
    await card.getByRole("button", { name: "Approve $24.00" }).click();
    await page.locator(`#approval-${approveId}`).getByText("Approved").waitFor();
    await shot("11-approved");
    let status = "";
    for (let i = 0; i < 50 && status !== "Completed"; i++) {
      await page.goto(`${origin}/dashboard/purchases/${approveId}`);
      status = await page.getByTestId("purchase-status").innerText();
      if (status !== "Completed") await page.waitForTimeout(200);
    }
    check(status === "Completed", `the approved purchase completes (status ${status})`);
    await shot("12-purchase");
    await page.getByRole("link", { name: /^svc_/ }).first().click();
    check((await heading()).includes("browser-node-01"), "the service page opens");
    check((await page.getByTestId("service-status").innerText()) === "Active", "the service is active");
    await shot("13-service");
    await nav("Services");
    await page.getByRole("link", { name: "browser-node-01" }).waitFor();
    await shot("14-services");
  });

  await step("reject another with a reason", async () => {
    await nav("Approvals");
    const card = page.locator(`#approval-${rejectId}`);
    await card.getByLabel("Reason for rejecting").fill("One build node is enough");
    await card.getByRole("button", { name: "Reject" }).click();
    await page.locator(`#approval-${rejectId}`).getByText("Rejected").waitFor();
    const seen = await api("GET", `/v1/agent/purchases/${rejectId}`, agentKey);
    check(seen.body.purchase.status === "rejected", "the agent sees the rejection");
    check(seen.body.purchase.approval.reason === "One build node is enough", "with the reason");
    await page.goto(`${origin}/dashboard/approvals`);
    await page.getByText("Nothing waits for your decision.").waitFor();
  });

  await step("purchases filter by status", async () => {
    await nav("Purchases");
    await page.getByLabel("Status").selectOption("rejected");
    await page.getByRole("button", { name: "Filter" }).click();
    const rows = page.locator("tbody tr");
    check((await rows.count()) === 1, "one rejected purchase");
    check((await rows.first().innerText()).includes("Rejected"), "and it is the rejected one");
    await shot("15-purchases-filtered");
  });

  await step("buy as the account (dashboard checkout)", async () => {
    await nav("Buy");
    await page.getByLabel("Catalog item").selectOption("cat_router_credit_001");
    await page.getByRole("button", { name: "Show fields" }).click();
    check((await page.getByLabel("Configuration (JSON)").inputValue()).includes("creditAmountUsd"), "the item's fields are prefilled");
    await page.getByLabel("Configuration (JSON)").fill('{"creditAmountUsd": 5}');
    await page.getByRole("button", { name: "Get quote" }).click();
    await page.getByRole("heading", { name: /^Quote:/ }).waitFor();
    await shot("16-checkout-quote");
    await page.getByRole("button", { name: "Buy for $5.00" }).click();
    await page.waitForURL(/\/dashboard\/purchases\/pur_/);
    await shot("17-checkout-bought");
  });

  await step("the Account API works with the session cookie (and wants the CSRF header)", async () => {
    let status = "";
    for (let i = 0; i < 50 && status !== "Completed"; i++) {
      await page.reload();
      status = await page.getByTestId("purchase-status").innerText();
      if (status !== "Completed") await page.waitForTimeout(200);
    }
    check(status === "Completed", `the credits purchase completes (status ${status})`);
    const serviceId = await page.getByRole("link", { name: /^svc_/ }).first().innerText();
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const path = `${origin}/v1/account/services/${serviceId}/router/api-keys`;
    // page.request carries the browser's cookies, like a script on the page would.
    expectingRefusal = true;
    const refused = await page.request.post(path, { data: { label: "no-csrf" } });
    expectingRefusal = false;
    check(refused.status() === 403, `without X-CSRF-Token the cookie is not enough (${refused.status()})`);
    const created = await page.request.post(path, { data: { label: "browser" }, headers: { "X-CSRF-Token": csrf } });
    check(created.status() === 201, `router key created with the session (${created.status()})`);
    const routerKey = (await created.json()).routerApiKey.key;
    const completion = await fetch(`${origin}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${routerKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ model: "sandbox/echo", messages: [{ role: "user", content: "hello dashboard" }] }),
    });
    check(completion.status === 200, `a router completion works (${completion.status})`);
    await nav("Router usage");
    await page.getByRole("img", { name: "Router cost per model" }).waitFor();
    check((await page.getByRole("row", { name: /sandbox\/echo/ }).count()) === 1, "usage per model lists the model");
    await shot("18-usage");
  });

  await step("every other page renders", async () => {
    for (const [label, name] of [["Audit log", "19-audit"], ["Wallet", "20-wallet-after"], ["Overview", "21-overview-after"]]) {
      await nav(label);
      await shot(name);
    }
    await page.getByRole("cell", { name: "purchase.approved" }).count();
  });

  await step("usable at phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [path, name] of [["/dashboard", "22-phone-overview"], ["/dashboard/wallet", "23-phone-wallet"], ["/dashboard/policies", "24-phone-policies"]]) {
      await page.goto(origin + path);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `${path} fits a 390px screen (overflow ${overflow}px)`);
      await shot(name);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step("sign out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out.").waitFor();
    await page.goto(`${origin}/dashboard/wallet`);
    check((await heading()) === "Sign in", "the session is gone");
  });

  check(consoleErrors.length === 0, `console errors:\n${consoleErrors.join("\n")}`);
  console.log(`dashboard browser suite passed; screenshots in ${shots}`);
} catch (error) {
  failed = true;
  console.error(`FAILED: ${error.stack || error}`);
  if (consoleErrors.length) console.error(`console errors:\n${consoleErrors.join("\n")}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
