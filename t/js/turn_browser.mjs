// A call forced through the TURN relay: node t/js/turn_browser.mjs <port>
//
// Two pages of the web client open /?room=relay&ice=relay, so their
// RTCPeerConnections use iceTransportPolicy "relay" with the ICE servers
// and TURN credentials noom hands out; video must flow, and the selected
// candidate pair must be relay on both ends.  Prints TAP.

import { HOOKS, WAIT, launch, until as untilTrue } from "./lib.mjs";

const port = Number(process.argv[2]);
const BASE = `http://127.0.0.1:${port}`;
let n = 0, failed = 0;

function ok(cond, name, why) {
    n++;
    if (!cond) failed++;
    console.log(`${cond ? "ok" : "not ok"} ${n} - ${name}`);
    if (!cond && why) console.log(`# ${why}`);
}

// lib.mjs's poll of the page: whether fn(arg) became truthy in time
const until = (page, fn, arg, timeout = WAIT) =>
    untilTrue(page, fn, arg, timeout, { truthy: true })
        .then(() => true, () => false);

const browser = await launch();

try {
    const pages = [];
    for (const nick of ["ana", "ben"]) {
        const context = await browser.newContext();
        await context.addInitScript({ path: HOOKS });
        const page = await context.newPage();
        await page.goto(`${BASE}/?room=relay&ice=relay`);
        ok(await until(page, () => window.noomTest && noomTest.connected()),
           `${nick}'s page connects`);
        await page.fill("#nickname", nick);
        await page.click("#join-button");
        await page.click("#join-now");
        pages.push(page);
    }

    for (const page of pages) {
        ok(await until(page, () => noomTest.iceServers().some(
               (s) => s.username && s.credential)),
           "the page got TURN credentials from noom");
        ok(await until(page, async () => {
            const stats = await noomTest.stats();
            return stats.length === 1 && stats[0].video
                && stats[0].video.framesDecoded > 10
                && stats[0].video.frameWidth > 0;
        }), "video arrives through the relay");
        const c = await page.evaluate(() => noomTest.candidates());
        ok(c.length === 1 && c[0].local === "relay" && c[0].remote === "relay",
           "the selected candidate pair is relay on both ends",
           JSON.stringify(c));
    }
} catch (e) {
    ok(false, e.message);
} finally {
    await browser.close();
}

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
