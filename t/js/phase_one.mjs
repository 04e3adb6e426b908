// The tutorial's first-phase page (t/js/phase_one/) in two Chromium pages:
// each opens ws://<host>/ and must show both people's lines, its own
// included, once.  Usage: node phase_one.mjs <port>.  Prints TAP.

import { launch } from "./lib.mjs";

const base = `http://127.0.0.1:${process.argv[2]}/`;
let n = 0, failed = 0;

function is(got, want, name) {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    n++;
    if (g !== w) {
        failed++;
        console.log(`#   got: ${g}\n#   expected: ${w}`);
    }
    console.log(`${g === w ? "ok" : "not ok"} ${n} - ${name}`);
}

const browser = await launch({ media: false });

try {
    const [ann, bob] = await Promise.all([browser.newPage(),
                                          browser.newPage()]);
    // the page's own top-level const: its socket, open before anyone speaks
    for (const p of [ann, bob]) {
        await p.goto(base);
        await p.waitForFunction(() => socket.readyState === WebSocket.OPEN);
    }

    async function say(page, nick, line) {
        await page.fill("#nick input", nick);
        await page.click("#nick button");
        await page.fill("#message input", line);
        await page.click("#message button");
    }

    const lines = (page) => page.$$eval("li", (l) => l.map((x) => x.textContent));
    const want = ["ann: hello from ann", "bob: hello from bob"];

    await say(ann, "ann", "hello from ann");
    await ann.waitForFunction(() => document.querySelectorAll("li").length >= 1);
    await say(bob, "bob", "hello from bob");

    for (const p of [ann, bob]) {
        await p.waitForFunction(() => document.querySelectorAll("li").length
            >= 2, null, { timeout: 10000 });
    }
    // one more round trip: anything sent twice would be in by then
    await say(ann, "ann", "last");
    for (const p of [ann, bob]) {
        await p.waitForFunction(() => document.querySelectorAll("li").length
            >= 3, null, { timeout: 10000 });
    }
    want.push("ann: last");
    is(await lines(ann), want, "ann's page shows both lines, hers once");
    is(await lines(bob), want, "bob's page shows both lines, his once");
} catch (e) {
    n++;
    failed++;
    console.log(`not ok ${n} - ${e.message.split("\n")[0]}`);
}

await browser.close();
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
