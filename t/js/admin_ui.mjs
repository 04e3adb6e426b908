// The stock @socket.io/admin-ui 0.5.1, served by the test's nginx, in
// Debian's Chromium: a wrong password is refused, then the UI logs in over
// WebSocket only with the noom location as path, shows the three clients
// of this script with their nicknames and rooms, and its disconnect button
// really disconnects one of them.  Requests to other hosts (the UI's fonts
// and icons) are cut off.  Prints TAP lines; exits non-zero on a failure.
//
//   node t/js/admin_ui.mjs <port> <user> <password> [<screenshot.png>]

import { launch } from "./lib.mjs";
import { io } from "socket.io-client";

const [port, user, password, shot] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;

let n = 0;
let failed = 0;

function ok(cond, name, diag) {
  n++;
  console.log(`${cond ? "ok" : "not ok"} ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (diag !== undefined) console.log(`# ${diag}`);
  }
  return cond;
}

const watchdog = setTimeout(() => {
  ok(false, "the script finished within 90 s");
  console.log(`1..${n}`);
  process.exit(1);
}, 90000);

async function visible(locator, ms = 10000) {
  try {
    await locator.first().waitFor({ state: "visible", timeout: ms });
    return true;
  } catch (e) {
    return false;
  }
}

// three clients: alice and bob in "red", carol in "blue"
const clients = {};
for (const [nick, room] of [["alice", "red"], ["bob", "red"],
                            ["carol", "blue"]]) {
  const s = io(base, { path: "/ws", transports: ["websocket"],
                       forceNew: true, reconnection: false });
  await new Promise((resolve) => s.once("connect", resolve));
  await s.timeout(3000).emitWithAck("nickname", nick);
  await s.timeout(3000).emitWithAck("enter_room", room);
  s.gone = new Promise((resolve) => s.once("disconnect", resolve));
  clients[nick] = s;
}

const browser = await launch({ media: false });

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.route("**/*", (route) =>
    new URL(route.request().url()).hostname === "127.0.0.1"
      ? route.continue() : route.abort());

  await page.goto(`${base}/admin-ui/`);

  async function login(pw) {
    await page.getByLabel("Server URL").fill(base);
    await page.getByLabel("Username").fill(user);
    await page.getByLabel("Password").fill(pw);
    if (!(await page.getByLabel("Path").isVisible())) {
      await page.getByText("Advanced options").click();
    }
    const wsOnly = page.getByRole("switch", { name: "WebSocket only?" });
    if ((await wsOnly.getAttribute("aria-checked")) !== "true") {
      await page.getByText("WebSocket only?").click();
    }
    await page.getByLabel("Namespace").fill("/admin");
    await page.getByLabel("Path").fill("/ws");
    await page.getByRole("button", { name: "Connect" }).click();
  }

  await login("not the password");
  ok(await visible(page.getByText("Invalid credentials")),
     "a wrong password is refused: \"Invalid credentials\"");

  await login(password);
  ok(await visible(page.getByText("connected", { exact: true })),
     "the right one connects (Status: connected)");

  // the dashboard: one healthy server, "/" with three sockets
  ok(await visible(page.locator("tr", { hasText: /^\s*\/\s*3\s*$/ })),
     "the dashboard counts three sockets in \"/\"");

  await page.getByText("Sockets", { exact: true }).first().click();
  for (const [nick, s] of Object.entries(clients)) {
    ok(await visible(page.getByText(s.id)), `the sockets page lists ${nick}`);
  }

  await page.getByText("Rooms", { exact: true }).first().click();
  ok(await visible(page.locator("tr", { hasText: /red\s*public\s*2/i })),
     "the rooms page shows red with two sockets");
  ok(await visible(page.locator("tr", { hasText: /blue\s*public\s*1/i })),
     "and blue with one");

  await page.getByText("Sockets", { exact: true }).first().click();
  await page.getByText(clients.alice.id).click();
  ok(await visible(page.getByText('"nickname": "alice"')),
     "alice's details show her nickname");
  ok(await visible(page.locator("tr", { hasText: /^\s*red\s*$/ })),
     "and her room");

  if (shot) {
    await page.waitForTimeout(500);
    await page.screenshot({ path: shot });
    console.log(`# screenshot in ${shot}`);
  }

  // the socket card's disconnect button (the client card has one too)
  const bye = new Promise((resolve) => clients.bob.once("bye", (...a) =>
    resolve(a)));
  await page.locator("main button:has(i.mdi-logout)").nth(1).click();

  const reason = await Promise.race([
    clients.alice.gone,
    new Promise((resolve) => setTimeout(() => resolve("timeout"), 5000)),
  ]);
  ok(reason === "io server disconnect",
     "the UI's disconnect disconnects alice (io server disconnect)",
     `got ${reason}`);
  const b = await Promise.race([
    bye, new Promise((resolve) => setTimeout(() => resolve(null), 5000))]);
  ok(b && b[0] === "alice" && b[1] === 1, "bob gets bye from alice");
  ok(await visible(page.getByText("disconnected", { exact: true })),
     "the UI shows her socket disconnected");
  ok(clients.bob.connected && clients.carol.connected,
     "bob and carol are still connected");
} catch (e) {
  ok(false, "the browser steps ran", e.stack);
} finally {
  await browser.close();
  for (const s of Object.values(clients)) s.close();
}

clearTimeout(watchdog);
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
