// Connection state recovery in the web client: node
// t/js/recovery_browser.mjs <port>, run by t/recovery_browser.t against
// nginx with four workers and noom_recovery on.
//
// alice, bob and carol hold a call; the script asks for three nginx
// reloads ("reload <n>" on stdout, "reloaded <n>" back on stdin).  Each
// reload closes every WebSocket (1001) and the pages reconnect to the new
// workers.  Checked, for every page and reload:
//   - it reconnected, and the server's CONNECT answer has the same sid and
//     pid as at first (socket.io-client's recovered), the room's tile of
//     our own still has the same id;
//   - video bytes received rise on every link past what they were before
//     the reload;
// and after the three reloads:
//   - no RTCPeerConnection was made since the call was set up, none was
//     asked for an ICE restart, no description was set (no renegotiation)
//     and each local ICE ufrag is the one from before;
//   - the message one page sent while it was away (sent when its status
//     went to "reconnecting") arrived exactly once at each of the others;
//   - nobody saw anybody arrive or leave meanwhile.
// The longest stretch without new video bytes on any link is reported
// (a note), not asserted.  Then a late joiner, dave, gets the room's
// messages from the join_room ack, oldest first, marked as earlier, an
// HTML-looking one as text; and a page that goes away leaves at once
// (bye long before the five-minute window).

import readline from "node:readline";
import { Failure, ok, note, check, expect, until, launch, open,
    summary } from "./lib.mjs";

const port = Number(process.argv[2]);
if (!port) {
    console.error("usage: node t/js/recovery_browser.mjs <port>");
    process.exit(2);
}
const BASE = `http://127.0.0.1:${port}`;
const ROOM = "weekly";
const RELOADS = 3;
const HTML = "<img src=x onerror=alert(1)><b>bold</b>";
// generous, not a timing: the machine may be crowded by other jobs
const T = 120000;

// -- talking to the perl test ----------------------------------------------

const input = readline.createInterface({ input: process.stdin });
const inbox = [];
let waiter = null;
input.on("line", (line) => {
    if (waiter) {
        const w = waiter;
        waiter = null;
        w(line);
    } else {
        inbox.push(line);
    }
});
input.on("close", () => {
    if (waiter) {
        waiter("(stdin closed)");
    }
});

function ask(line) {
    console.log(line);
    return new Promise((resolve) => {
        if (inbox.length) {
            resolve(inbox.shift());
        } else {
            waiter = resolve;
        }
    });
}

// -- in the page: counting what the client does with RTCPeerConnection ----

// an init script after t/js/hooks.js: every constructor call, restartIce,
// createOffer({iceRestart}) and setLocalDescription is counted; watch()
// records the longest time without new video bytes on each link
// (sampled every 200 ms)
function counting() {
    const Base = window.RTCPeerConnection;
    const c = { created: 0, restartIce: 0, iceRestartOffers: 0,
        localDescriptions: 0 };

    class Counted extends Base {
        constructor(...args) {
            super(...args);
            c.created += 1;
        }

        restartIce() {
            c.restartIce += 1;
            return super.restartIce();
        }

        createOffer(...args) {
            if (args.some((a) => a && typeof a === "object" && a.iceRestart)) {
                c.iceRestartOffers += 1;
            }
            return super.createOffer(...args);
        }

        setLocalDescription(...args) {
            c.localDescriptions += 1;
            return super.setLocalDescription(...args);
        }
    }
    window.RTCPeerConnection = Counted;

    // the page's connection states, for the diagnostics of a failure
    const states = [];
    document.addEventListener("DOMContentLoaded", () => {
        const status = document.querySelector("#status");
        if (!status) {
            return;
        }
        const take = () => states.push(`${(performance.now() / 1000)
            .toFixed(1)}s ${status.dataset.state}`);
        take();
        new MutationObserver(take).observe(status,
            { attributes: true, attributeFilter: ["data-state"] });
    });

    const links = new Map();   // member id -> {bytes, at, gap}
    let timer = null;
    window.recoveryTest = {
        counts: () => ({ ...c }),
        states: () => states.slice(-30),
        watch() {
            if (timer) {
                return;
            }
            timer = setInterval(async () => {
                const now = performance.now();
                for (const s of await noomTest.stats()) {
                    const bytes = s.video ? s.video.bytesReceived : 0;
                    const l = links.get(s.id);
                    if (!l) {
                        links.set(s.id, { bytes, at: now, gap: 0 });
                    } else if (bytes > l.bytes) {
                        l.gap = Math.max(l.gap, now - l.at);
                        l.bytes = bytes;
                        l.at = now;
                    }
                }
            }, 200);
        },
        // the longest gap on each link since the last call, in ms
        gaps() {
            const now = performance.now();
            const out = {};
            for (const [id, l] of links) {
                out[id] = Math.round(Math.max(l.gap, now - l.at));
                l.gap = 0;
            }
            return out;
        },
    };
}

// -- the wire: the server's CONNECT answers, as the page gets them ---------

// "40{"sid":...,"pid":...}" over the WebSocket or in a polling response;
// also counts the new_message events that carry the page's own id (the
// room never sends a member its own messages; the client drops them)
function watchWire(page) {
    page.connects = [];
    page.ownEchoes = 0;
    const take = (text) => {
        for (const p of String(text).split("\x1e")) {
            if (p.startsWith("42[\"new_message\"") && page.connects.length) {
                try {
                    const d = JSON.parse(p.slice(2));
                    if (d[2] && d[2].id === page.connects[0].sid) {
                        page.ownEchoes += 1;
                    }
                } catch (err) {
                    // not JSON
                }
                continue;
            }
            if (!p.startsWith("40{")) {
                continue;
            }
            try {
                const d = JSON.parse(p.slice(2));
                if (d && typeof d.sid === "string") {
                    page.connects.push({ sid: d.sid, pid: d.pid || null });
                }
            } catch (err) {
                // not a CONNECT answer after all
            }
        }
    };
    page.on("websocket", (ws) => ws.on("framereceived", (f) => {
        if (typeof f.payload === "string") {
            take(f.payload);
            wireChanged();
        }
    }));
    page.on("response", (r) => {
        const url = r.url();
        if (url.includes("/ws/") && url.includes("transport=polling")
            && r.request().method() === "GET")
        {
            r.text().then((text) => { take(text); wireChanged(); }, () => {});
        }
    });
}

// what waits for something on the wire, woken by each frame and response
const wireWaiters = new Set();

function wireChanged() {
    for (const w of [...wireWaiters]) {
        w();
    }
}

// -- helpers ---------------------------------------------------------------

// a condition on what node saw (the wire), as a test: checked at each
// frame or polling response the pages get, until the timeout
async function expectHere(name, fn, detail, timeout = T) {
    let w, timer;
    const met = fn() || await new Promise((resolve) => {
        w = () => { if (fn()) resolve(true); };
        wireWaiters.add(w);
        timer = setTimeout(() => resolve(false), timeout);
    });
    wireWaiters.delete(w);
    clearTimeout(timer);
    if (!met) {
        console.log(`not ok - ${name}`);
        note(JSON.stringify(detail()));
        throw new Failure(name);
    }
    ok(name);
}

async function join(page, nick) {
    await page.fill("#nickname", nick);
    await page.fill("#room-name", ROOM);
    await page.click("#join-button");
    await until(page, () => !document.querySelector("#prejoin").hidden,
        undefined, T);
    await page.click("#join-now");
    await expect(page, `${page.nick} is in the room`,
        (room) => noomTest.room() === room, ROOM, T).catch(async (err) => {
        note(`${page.nick}: ${JSON.stringify(await page.evaluate(() => ({
            status: document.querySelector("#status").textContent,
            view: document.body.dataset.view,
            errors: [...document.querySelectorAll(".error, [role=alert]")]
                .filter((e) => !e.hidden).map((e) => e.textContent),
        })))}`);
        note(`${page.nick}: CONNECT answers ${JSON.stringify(page.connects)}`);
        throw err;
    });
}

async function say(page, text) {
    await page.fill("#chat-input", text);
    await page.press("#chat-input", "Enter");
    await expect(page, `${page.nick} says "${text}"`, (text) => [...document
        .querySelectorAll("#messages li.msg.own .text")]
        .some((t) => t.textContent === text), text, T).catch(async (err) => {
        note(`${page.nick}: ${JSON.stringify(await sysLines(page))}`);
        throw err;
    });
}

function seen(page, who, text, name) {
    return expect(page, name, ([who, text]) => [...document.querySelectorAll(
        "#messages li.msg")].some((li) =>
        li.querySelector(".who").textContent === who
        && li.querySelector(".text").textContent === text), [who, text], T);
}

// how many times each text is in the chat
function counted(page, texts) {
    return page.evaluate((texts) => texts.map((text) => [...document
        .querySelectorAll("#messages li.msg .text")]
        .filter((t) => t.textContent === text).length), texts);
}

function sysLines(page) {
    return page.evaluate(() => [...document.querySelectorAll(
        "#messages li.sys")].map((li) => li.textContent));
}

// each link: connected, stable, video decoded
async function settled(n) {
    const stats = await noomTest.stats();
    return stats.length === n && stats.every((s) => s.connectionState
        === "connected" && s.signalingState === "stable" && s.video
        && s.video.framesDecoded > 0 && s.video.frameWidth > 0);
}

async function videoBytes() {
    const out = {};
    for (const s of await noomTest.stats()) {
        out[s.id] = { bytes: s.video ? s.video.bytesReceived : 0,
            ufrag: s.localUfrag };
    }
    return out;
}

// every link's video bytes past the ones given, on the same ICE ufrag
async function risen(before) {
    const now = {};
    for (const s of await noomTest.stats()) {
        now[s.id] = s;
    }
    const ids = Object.keys(before);
    return ids.length > 0 && ids.every((id) => now[id] && now[id].video
        && now[id].video.bytesReceived > before[id].bytes
        && now[id].localUfrag === before[id].ufrag
        && now[id].connectionState === "connected");
}

// sends `text` from the chat box as soon as the page's status says the
// connection is lost: the request is made while the session is away
function arm(text) {
    window.__armed = "armed";
    const status = document.querySelector("#status");
    const mo = new MutationObserver(() => {
        if (window.__armed !== "armed"
            || status.dataset.state === "connected")
        {
            return;
        }
        window.__armed = "sent";
        window.__sentIn = status.dataset.state;
        mo.disconnect();
        document.querySelector("#chat-input").value = text;
        document.querySelector("#chat-form").requestSubmit();
    });
    mo.observe(status, { attributes: true, attributeFilter: ["data-state"] });
}

// -- the test --------------------------------------------------------------

// what each page went through, after a failure
const all = [];

async function diagnose() {
    for (const page of all) {
        try {
            note(`${page.nick}: states ${JSON.stringify(await page.evaluate(
                () => recoveryTest.states()))}`);
            note(`${page.nick}: chat ${JSON.stringify(await sysLines(page))}`);
        } catch (err) {
            // the page is gone
        }
        note(`${page.nick}: CONNECT answers ${JSON.stringify(page.connects)}`);
    }
}

async function scenario(browser, problems) {
    const opts = { init: counting, setup: watchWire };
    const pages = [];
    for (const nick of ["alice", "bob", "carol"]) {
        const page = await open(browser, BASE, nick, "/", problems, opts);
        page.on("dialog", (dialog) => {
            problems.push(`${nick}: a dialog opened: ${dialog.message()}`);
            dialog.dismiss().catch(() => {});
        });
        pages.push(page);
        all.push(page);
    }
    const [alice, bob, carol] = pages;
    const others = (p) => pages.filter((x) => x !== p);

    for (const page of pages) {
        await join(page, page.nick);
    }
    for (const page of pages) {
        await expect(page, `${page.nick}: calls to both others, video on each`,
            settled, 2, T);
    }

    // the chat, in the order the server logged it (each line waits for
    // its delivery before the next is sent)
    const sent = [];
    await say(alice, "before the reloads");
    sent.push(["alice", "before the reloads"]);
    for (const p of others(alice)) {
        await seen(p, "alice", "before the reloads", `${p.nick} gets the chat`);
    }

    // the call as set up
    const base = new Map();
    for (const page of pages) {
        const b = {
            id: await page.evaluate(() => noomTest.id()),
            counts: await page.evaluate(() => recoveryTest.counts()),
            links: await page.evaluate(videoBytes),
            sys: await sysLines(page),
            connect: page.connects[0],
        };
        base.set(page, b);
        check(page.connects.length === 1 && b.connect.sid === b.id
            && !!b.connect.pid,
            `${page.nick}: one CONNECT answer, with our id and a pid (recovery on)`,
            { connects: page.connects, id: b.id });
        note(`${page.nick}: ${b.counts.created} RTCPeerConnection(s) made `
            + `to set the call up`);
        await page.evaluate(() => recoveryTest.watch());
    }

    let worst = 0;
    for (let i = 1; i <= RELOADS; i++) {
        const sender = pages[(i - 1) % pages.length];
        const text = `sent while away, reload ${i}`;
        await sender.evaluate(arm, text);
        const before = new Map();
        for (const page of pages) {
            before.set(page, { links: await page.evaluate(videoBytes),
                connects: page.connects.length });
            await page.evaluate(() => recoveryTest.gaps());
        }

        const answer = await ask(`reload ${i}`);
        check(answer === `reloaded ${i}`, `reload ${i}: nginx reloaded`,
            answer);

        for (const page of pages) {
            const n = before.get(page).connects;
            await expectHere(`reload ${i}: ${page.nick} connected again`,
                () => page.connects.length > n,
                () => ({ connects: page.connects }));
            const b = base.get(page);
            // (on a crowded machine a page may need two tries)
            check(page.connects.slice(n).every((c) => c.sid === b.connect.sid
                && c.pid === b.connect.pid),
                `reload ${i}: ${page.nick} recovered: the same sid and pid`,
                { connects: page.connects.slice(n), first: b.connect });
            if (page.connects.length > n + 1) {
                note(`reload ${i}: ${page.nick} connected `
                    + `${page.connects.length - n} times`);
            }
            await expect(page, `reload ${i}: ${page.nick} is connected, `
                + "in the room, with the same id",
                ([id, room]) => noomTest.connected() && noomTest.id() === id
                    && noomTest.room() === room, [b.id, ROOM], T);
        }
        await expect(sender, `reload ${i}: ${sender.nick} sent a message `
            + "while away", () => window.__armed === "sent", undefined, T);
        for (const page of pages) {
            await expect(page, `reload ${i}: ${page.nick} gets video on every `
                + "link, more bytes than before the reload, the same ufrag",
            risen, before.get(page).links, T);
        }
        for (const p of others(sender)) {
            await seen(p, sender.nick, text,
                `reload ${i}: ${p.nick} gets ${sender.nick}'s message`);
        }
        sent.push([sender.nick, text]);
        for (const page of pages) {
            const gaps = await page.evaluate(() => recoveryTest.gaps());
            for (const [id, ms] of Object.entries(gaps)) {
                worst = Math.max(worst, ms);
                note(`reload ${i}: ${page.nick} <- ${id}: longest gap in `
                    + `video bytes ${ms} ms`);
            }
        }
    }
    note(`the longest gap in video bytes on any link, across the reloads: `
        + `${worst} ms (sampled every 200 ms)`);

    // one more line from each: by the order of each sender, everything sent
    // before is in
    for (const page of pages) {
        const text = `after the reloads, from ${page.nick}`;
        await say(page, text);
        sent.push([page.nick, text]);
        for (const p of others(page)) {
            await seen(p, page.nick, text, `${p.nick} gets "${text}"`);
        }
    }

    for (const page of pages) {
        const b = base.get(page);
        check(page.connects.every((c) => c.sid === b.connect.sid
            && c.pid === b.connect.pid),
            `${page.nick}: every CONNECT answer had the first sid and pid`,
            page.connects);
        const counts = await page.evaluate(() => recoveryTest.counts());
        check(counts.created === b.counts.created,
            `${page.nick}: no RTCPeerConnection made after the call was set up`,
            { before: b.counts, after: counts });
        check(counts.restartIce === b.counts.restartIce
            && counts.iceRestartOffers === b.counts.iceRestartOffers,
            `${page.nick}: no ICE restart`, { before: b.counts, after: counts });
        check(counts.localDescriptions === b.counts.localDescriptions,
            `${page.nick}: no renegotiation (no local description set)`,
            { before: b.counts, after: counts });
        const links = await page.evaluate(videoBytes);
        check(Object.keys(b.links).length === 2 && Object.entries(b.links)
            .every(([id, l]) => links[id] && links[id].ufrag === l.ufrag),
            `${page.nick}: the same two links, each with its local ICE ufrag`,
            { before: b.links, after: links });
        const texts = sent.map(([, t]) => t);
        const n = await counted(page, texts);
        check(n.every((x) => x === 1),
            `${page.nick}: every message is in the chat exactly once`,
            Object.fromEntries(texts.map((t, k) => [t, n[k]])));
        const sys = await sysLines(page);
        const added = sys.slice(b.sys.length);
        check(sys.slice(0, b.sys.length).join("\n") === b.sys.join("\n")
            && !added.some((l) => /arrived\.$|left\.$/.test(l)),
            `${page.nick}: nobody arrived or left`, added);
        if (added.length) {
            note(`${page.nick}: the chat said ${JSON.stringify(added)}`);
        }
        if (page.ownEchoes) {
            note(`${page.nick}: the server sent ${page.ownEchoes} of this `
                + "page's own messages back to it (replayed after a "
                + "recovery); the client left them out");
        }
        check(await page.evaluate(() => !document.querySelector(
            "#messages li.earlier, #messages li.earlier-head")),
            `${page.nick}: no history shown again after a recovery`);
    }

    // a late joiner: the room's chat, from the ack, as text
    await say(alice, HTML);
    sent.push(["alice", HTML]);
    for (const p of others(alice)) {
        await seen(p, "alice", HTML, `${p.nick} gets the HTML-looking line`);
    }
    const dave = await open(browser, BASE, "dave", "/", problems, opts);
    all.push(dave);
    dave.on("dialog", (dialog) => {
        problems.push(`dave: a dialog opened: ${dialog.message()}`);
        dialog.dismiss().catch(() => {});
    });
    await join(dave, "dave");
    const history = await dave.evaluate(() => {
        const lis = [...document.querySelectorAll("#messages li")];
        return {
            earlier: lis.filter((li) => li.classList.contains("earlier"))
                .map((li) => [li.querySelector(".who").textContent,
                    li.querySelector(".text").textContent,
                    li.querySelector(".text").children.length]),
            order: lis.map((li) => (li.classList.contains("earlier") ? "msg"
                : li.textContent)),
            markup: document.querySelectorAll(
                "#messages img, #messages b").length,
        };
    });
    check(JSON.stringify(history.earlier.map(([w, t]) => [w, t]))
        === JSON.stringify(sent),
        "dave gets the room's messages from the ack, oldest first, with "
        + "their nicknames", { got: history.earlier, sent });
    check(history.earlier.every(([, , kids]) => kids === 0)
        && history.markup === 0,
        "the HTML-looking message is text: no element made of it",
        history);
    const first = history.order.indexOf("msg");
    check(first > 0 && history.order[first - 1] === "Earlier messages:"
        && history.order[first + sent.length] === `You joined ${ROOM}.`,
        "they come under \"Earlier messages:\", before \"You joined\"",
        history.order);
    await dave.close();

    // a page that goes away says so (DISCONNECT): the others see it leave
    // now, not when the window (noom_recovery 5m) ends
    // (a page of the same site: the init scripts need mediaDevices)
    await carol.goto(`${BASE}/css/noom.css`);
    for (const p of [alice, bob]) {
        await expect(p, `${p.nick} sees carol leave at once`,
            () => [...document.querySelectorAll("#messages li.sys")]
                .some((li) => li.textContent === "carol left."),
            undefined, T);
    }
}

// a guard against a hang, not a timing
const GUARD = Number(process.env.TEST_NOOM_BROWSER_GUARD || 600);
const guard = setTimeout(() => {
    console.log(`not ok - the recovery browser test did not hang (${GUARD} s)`);
    process.exit(1);
}, GUARD * 1000);

let code = 0;
const problems = [];
const browser = await launch();
try {
    await scenario(browser, problems);
    check(problems.length === 0, "no page errors and no dialogs",
        problems.join("\n"));
    note(summary());
} catch (err) {
    if (!(err instanceof Failure)) {
        console.log("not ok - the recovery browser test ran to its end");
        note(err.stack || String(err));
    }
    await diagnose();
    code = 1;
} finally {
    clearTimeout(guard);
    await browser.close().catch(() => {});
}
input.close();
process.exit(code);
