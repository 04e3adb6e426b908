// Three people in a call where the server refuses every WebSocket (the
// location answers an upgrade with 403): the page's Socket.IO falls back to
// HTTP long-polling for signaling and chat, and the media flow peer to peer
// as before.  Usage: node t/js/polling_call.mjs <port>.  Prints TAP lines
// that t/polling_browser.t turns into tests.

import { Failure, check, expect, launch, note, ok, open, summary, until,
    MEDIA_WAIT } from "./lib.mjs";

const BASE = `http://127.0.0.1:${process.argv[2]}`;
const ROOM = "no-websocket";

async function join(page, nick) {
    await page.fill("#nickname", nick);
    await page.fill("#room-name", ROOM);
    await page.click("#join-button");
    await page.waitForSelector("#prejoin:not([hidden])");
    await page.click("#join-now");
    await until(page, (room) => noomTest.room() === room, ROOM);
}

const problems = [];
const browser = await launch();

try {
    const pages = [];
    for (const nick of ["ann", "ben", "cat"]) {
        const p = await open(browser, BASE, nick, "/", problems);
        await join(p, nick);
        pages.push(p);
    }
    ok("three people join with WebSockets refused");

    for (const p of pages) {
        await expect(p, `${p.nick} lists three people`,
            () => document.querySelectorAll("#people li").length === 3);
    }

    // every link carries video both ways
    for (const p of pages) {
        await expect(p, `${p.nick} receives video from both others`,
            async () => {
                const s = await noomTest.stats();
                return s.length === 2 && s.every((x) => x.video
                    && x.video.framesDecoded > 10 && x.video.frameWidth > 0);
            }, undefined, MEDIA_WAIT);
    }

    // chat over polling
    await pages[0].fill("#chat-input", "hello without websockets");
    await pages[0].press("#chat-input", "Enter");
    for (const p of pages.slice(1)) {
        await expect(p, `${p.nick} gets the chat line`, () =>
            [...document.querySelectorAll("#messages li")].some((li) =>
                li.textContent.includes("hello without websockets")));
    }

    // what the pages used: polling only, since every upgrade was refused
    const transports = await Promise.all(pages.map((p) => p.evaluate(() =>
        performance.getEntriesByType("resource")
            .filter((e) => /EIO=4/.test(e.name))
            .map((e) => /transport=(\w+)/.exec(e.name)[1]))));
    check(transports.every((t) => t.includes("polling")),
        "each page polled", transports.map((t) => t.length));

    check(problems.length === 0, "no page error", problems);
} catch (e) {
    if (!(e instanceof Failure)) {
        console.log(`not ok - ${e.message.split("\n")[0]}`);
        note(e.stack);
    }
    await browser.close();
    note(summary());
    process.exit(1);
}

await browser.close();
note(summary());
