// The web client in a real browser: node t/js/browser.mjs <port> <master pid>
//
// Debian's Chromium through playwright-core (never a downloaded browser),
// fake camera and microphone, four pages in one browser against the nginx
// that t/browser.t started.  Prints TAP lines ("ok - ...", "not ok - ...",
// "# ...") that t/browser.t turns into its own tests; stops at the first
// failure and exits non-zero.
//
// alice, bob and "<img ...>" (the hostile nickname) meet in "standup";
// dave watches from the lobby.  The pages are read through t/js/hooks.js
// (window.noomTest, injected by the test; the client has no debug global).

import { Failure, ok, note, check, elapsed, launch, open as openPage,
    summary, until as untilTrue, WAIT } from "./lib.mjs";

const [port, masterPid] = process.argv.slice(2).map(Number);
if (!port || !masterPid) {
    console.error("usage: node t/js/browser.mjs <port> <nginx master pid>");
    process.exit(2);
}

const BASE = `http://127.0.0.1:${port}`;
const ROOM = "standup";
const XSS = "<img src=x onerror=alert(1)>";
// lib.mjs's poll of the page, until fn(arg) is truthy
const until = (page, fn, arg, timeout = WAIT) =>
    untilTrue(page, fn, arg, timeout, { truthy: true });

// waits for a condition in the page; a timeout is a failed test
async function expect(page, name, fn, arg, timeout = WAIT) {
    try {
        await until(page, fn, arg, timeout);
    } catch (err) {
        console.log(`not ok - ${name}`);
        note(`${page.nick}: ${err.message}`);
        try {
            note(`${page.nick} state: ${JSON.stringify(await page.evaluate(
                () => ({ id: noomTest.id(), room: noomTest.room(),
                    members: noomTest.members(), peers: noomTest.peers() })))}`);
            note(`${page.nick} stats: ${JSON.stringify(await page.evaluate(
                () => noomTest.stats()))}`);
        } catch (e) {
            // the page is gone
        }
        throw new Failure(name);
    }
    ok(name);
}

// -- in-page predicates (run inside the page) ----------------------------

// every peer in ids gets video: bytes and decoded frames grow past the
// baseline taken by mark(), with a frame width; connected
async function flowing(ids) {
    const base = window.__mark || {};
    const stats = await noomTest.stats();
    return ids.every((id) => {
        const s = stats.find((x) => x.id === id);
        const b = base[id];
        return s && s.connectionState === "connected" && s.video
            && s.video.frameWidth > 0 && b && b.video
            && s.video.bytesReceived > b.video.bytesReceived
            && s.video.framesDecoded > b.video.framesDecoded;
    });
}

async function mark() {
    const stats = await noomTest.stats();
    window.__mark = Object.fromEntries(stats.map((s) => [s.id, s]));
    return window.__mark;
}

async function videoFlows(page, ids, name) {
    await until(page, async (ids) => {
        const stats = await noomTest.stats();
        return ids.every((id) => stats.some((s) => s.id === id && s.video
            && s.video.framesDecoded > 0));
    }, ids).catch(() => {});
    await page.evaluate(mark);
    await expect(page, name, flowing, ids);
}

// -- the pages -----------------------------------------------------------

// lib.mjs's page, 320x240 cameras: six streams on a small CI machine
function open(browser, nick, path, problems) {
    return openPage(browser, BASE, nick, path, problems,
        { viewport: { width: 1280, height: 760 } });
}

async function join(page, nick, room) {
    await page.fill("#nickname", nick);
    if (room !== undefined) {
        await page.fill("#room-name", room);
    }
    await page.click("#join-button");
    await through(page);
}

// the pre-join screen, if the lobby let us through: join with the defaults
async function through(page) {
    await until(page, () => !document.querySelector("#prejoin").hidden
        || !document.querySelector("#lobby-error").hidden);
    if (await page.isVisible("#prejoin")) {
        await page.click("#join-now");
    }
}

const ids = (pages) => Promise.all(pages.map((p) => p.evaluate(
    () => noomTest.id())));

function tileOf(page, id) {
    return page.locator(`#tiles .tile[data-id="${id}"]`);
}

async function lobbyCount(page, room, n, name) {
    await expect(page, name, ([room, n]) => {
        const li = [...document.querySelectorAll("#rooms li")]
            .find((x) => x.dataset.room === room);
        const want = n === 1 ? "1 person" : `${n} people`;
        return n === 0 ? !li
            : !!li && li.querySelector(".members").textContent
                .split(",")[0] === want;
    }, [room, n]);
}

async function peopleCount(page, n, name) {
    await expect(page, name, (n) => document.querySelector("#people-count")
        .textContent === String(n)
        && document.querySelectorAll("#people li").length === n
        && document.querySelectorAll("#tiles .tile").length === n, n);
}

async function sawMessage(page, who, text, name) {
    await expect(page, name, ([who, text]) => [...document.querySelectorAll(
        "#messages li.msg")].some((li) =>
        li.querySelector(".who").textContent === who
        && li.querySelector(".text").textContent === text), [who, text]);
}

async function say(page, text) {
    await page.fill("#chat-input", text);
    await page.press("#chat-input", "Enter");
}

// -- the test ------------------------------------------------------------

async function main() {
    const problems = [];
    // three fake cameras: 0 and 2 give frames (1 is a depth camera)
    const browser = await launch({ media: "device-count=3,fps=10" });

    try {
        await scenario(browser, problems);
        check(problems.length === 0, "no page errors and no dialogs",
            problems.join("\n"));
    } finally {
        await browser.close();
    }
}

async function scenario(browser, problems) {
    // the lobby watcher
    const dave = await open(browser, "dave", "/", problems);
    ok("a page loads and connects over Socket.IO through nginx");

    // alice comes by link
    const alice = await open(browser, "alice", `/?room=${ROOM}`, problems);
    check(await alice.inputValue("#room-name") === ROOM,
        "a /?room= link fills in the room name");
    await join(alice, "alice");
    await expect(alice, "alice is in the room",
        (room) => noomTest.room() === room
            && !document.querySelector("#room").hidden, ROOM);
    check(new URL(alice.url()).searchParams.get("room") === ROOM,
        "the address bar is the room's link");
    await lobbyCount(dave, ROOM, 1, "the lobby sees the new room with 1 person");

    const bob = await open(browser, "bob", "/", problems);
    await join(bob, "bob", ROOM);
    await lobbyCount(dave, ROOM, 2, "the lobby count goes to 2");

    // the third joins from the lobby's room list, with a hostile nickname
    const eve = await open(browser, "eve", "/", problems);
    await eve.fill("#nickname", XSS);
    await expect(eve, "the room list offers the open room",
        (room) => !!document.querySelector(`#rooms li[data-room="${room}"] button`),
        ROOM);
    await eve.click(`#rooms li[data-room="${ROOM}"] button`);
    await through(eve);
    await expect(eve, "joining from the room list works",
        (room) => noomTest.room() === room, ROOM);
    await lobbyCount(dave, ROOM, 3, "the lobby count goes to 3");

    const call = [alice, bob, eve];
    const [a, b, e] = await ids(call);
    const others = { alice: [b, e], bob: [a, e], eve: [a, b] };

    for (const p of call) {
        await peopleCount(p, 3, `${p.nick} lists 3 participants and shows 3 tiles`);
    }
    for (const p of call) {
        await videoFlows(p, others[p.nick],
            `${p.nick} receives video from both others (bytes and frames grow, width > 0)`);
    }

    await expect(alice, "trickle ICE ends with a null candidate, both ways",
        async () => (await noomTest.stats()).every((s) => s.endsSent >= 1
            && s.endsReceived >= 1));
    const first = await alice.evaluate(() => noomTest.stats());
    const last = await eve.evaluate(() => noomTest.stats());
    check(last.every((s) => s.active && s.offersSent >= 1)
        && first.every((s) => !s.active && s.offersSent === 0),
        "the newcomer made the offers, the first waited for them",
        { first, last });

    // chat, with nicknames
    await say(alice, "hello from alice");
    await sawMessage(bob, "alice", "hello from alice", "bob gets alice's message with her nickname");
    await sawMessage(eve, "alice", "hello from alice", "so does the third");
    await sawMessage(alice, "alice (you)", "hello from alice", "alice sees her own line");

    // text from other people is text
    await say(eve, XSS);
    await sawMessage(alice, XSS, XSS, "a nickname and message with markup arrive as text");
    await sawMessage(bob, XSS, XSS, "on every page");
    for (const p of [alice, bob]) {
        check(await p.evaluate(() => document.querySelectorAll("img").length) === 0,
            `${p.nick}: no img element was created`);
        check(await p.locator(`#people li[data-id="${e}"] .name`).textContent() === XSS,
            `${p.nick}: the participant list shows the nickname as text`);
    }

    // ICE servers come from the server (noom_ice_server in t/browser.t)
    for (const p of call) {
        const got = await p.evaluate(async () => ({
            page: noomTest.iceServers(),
            pcs: (await noomTest.stats()).map((s) => s.iceServers),
        }));
        const stun = got.page.find((s) => String(s.urls).startsWith("stun:"));
        const turn = got.page.find((s) => String(s.urls).startsWith("turn:"));
        check(stun && turn && /^\d+:/.test(turn.username) && turn.credential
            && got.pcs.length === 2 && got.pcs.every((list) =>
                list.length === got.page.length
                && list.some((s) => s.username === turn.username)),
            `${p.nick}: every RTCPeerConnection uses the server's ICE servers`, got);
    }

    // a name over the server's limit is cut where a character ends, and
    // the page says so (the limit comes from the server: 64 bytes)
    await dave.waitForSelector("#nickname[data-max-bytes='64']");
    await dave.fill("#nickname", "é".repeat(40));
    check(await dave.inputValue("#nickname") === "é".repeat(32)
        && /at most 64 bytes/.test(await dave.textContent("#nickname-note")),
        "a name over 64 bytes is cut to 64 bytes, with a notice");

    // names the server refuses (control characters), each with its message
    const lobbyError = (re) => until(dave, (re) => {
        const err = document.querySelector("#lobby-error");
        return !err.hidden && new RegExp(re, "i").test(err.textContent)
            && noomTest.room() === null;
    }, re);
    await join(dave, "bad\u0007name", "somewhere");
    await lobbyError("^That name is not allowed").then(() =>
        ok("an invalid nickname gets its own error message"), () =>
        check(false, "an invalid nickname gets its own error message"));
    await join(dave, "dave", "bad\u0007room");
    await lobbyError("room name is not allowed").then(() =>
        ok("an invalid room name gets its own error message"), () =>
        check(false, "an invalid room name gets its own error message"));

    // the room is full at 3 (noom_max_room_members 3 in t/browser.t)
    await expect(dave, "the lobby shows the room as full, without a Join button",
        (room) => {
            const li = document.querySelector(`#rooms li[data-room="${room}"]`);
            return li && li.dataset.full === "true"
                && li.querySelector("button").disabled
                && /full/.test(li.querySelector(".members").textContent);
        }, ROOM);
    await dave.fill("#nickname", "dave");
    await dave.fill("#room-name", ROOM);
    await join(dave, "dave", ROOM);
    await expect(dave, "a fourth gets a clear room_full error in the lobby",
        () => {
            const err = document.querySelector("#lobby-error");
            return !err.hidden && /full/i.test(err.textContent)
                && err.getAttribute("role") === "alert"
                && noomTest.room() === null
                && !document.querySelector("#lobby").hidden;
        });


    // mute, and back
    await alice.click("#toggle-mic");
    check(await alice.getAttribute("#toggle-mic", "data-state") === "off"
        && await alice.textContent("#toggle-mic .label") === "Unmute",
        "the mute button turns red and says Unmute");
    for (const p of [bob, eve]) {
        await expect(p, `${p.nick} sees alice muted`, (id) => {
            const t = document.querySelector(`#tiles .tile[data-id="${id}"]`);
            const li = document.querySelector(`#people li[data-id="${id}"]`);
            return t && t.dataset.audio === "off"
                && /microphone off/.test(li.textContent);
        }, a);
    }
    await alice.click("#toggle-mic");
    await expect(bob, "bob sees alice unmuted", (id) => document.querySelector(
        `#tiles .tile[data-id="${id}"]`).dataset.audio === "on", a);

    // camera off (keyboard shortcut V) and on (button)
    await bob.click("#tiles");
    await bob.keyboard.press("v");
    for (const p of [alice, eve]) {
        await expect(p, `${p.nick} sees bob's camera off`, (id) => {
            const t = document.querySelector(`#tiles .tile[data-id="${id}"]`);
            return t && t.dataset.video === "off"
                && getComputedStyle(t.querySelector(".avatar")).display !== "none";
        }, b);
    }
    await bob.click("#toggle-cam");
    await expect(alice, "alice sees bob's camera on again", (id) => document
        .querySelector(`#tiles .tile[data-id="${id}"]`).dataset.video === "on", b);
    await videoFlows(alice, [b], "bob's video flows again after camera on");

    // camera switch with the device select: replaceTrack, no new offer
    const before = await alice.evaluate(async () => ({
        media: noomTest.media(),
        cams: noomTest.cams(),
        offers: (await noomTest.stats()).map((s) => s.offersSent),
    }));
    const target = before.cams.find((c) => /fake_device_2/.test(c.label))
        || before.cams.find((c) => c.id !== before.media.camId)
        || before.cams[0];
    check(!!target, "the camera select lists cameras", before.cams);
    if (target.id === before.media.camId) {
        note("only one camera: switching to the same one");
    }
    await alice.click(".devices summary");
    await alice.selectOption("#camera-select", target.id);
    await expect(alice, "alice's camera switched (a new track)", ([old, id]) => {
        const m = noomTest.media();
        return m.videoTrackId && m.videoTrackId !== old && m.camId === id;
    }, [before.media.videoTrackId, target.id]);
    for (const p of [bob, eve]) {
        await videoFlows(p, [a], `${p.nick}: alice's video keeps flowing after the switch`);
    }
    const after = await alice.evaluate(async () => (await noomTest.stats())
        .map((s) => [s.offersSent, s.signalingState]));
    check(after.every(([n, st], i) => n === before.offers[i] && st === "stable"),
        "the switch needed no renegotiation", { before: before.offers, after });

    // ICE restart (what a failed connection gets), from one side, then
    // from both at once (perfect negotiation settles the collision)
    const pairStats = async () => {
        const [sa, sb] = await Promise.all([alice, bob].map((p) =>
            p.evaluate(() => noomTest.stats())));
        return { alice: sa.find((s) => s.id === b), bob: sb.find((s) => s.id === a) };
    };
    for (const who of [[bob], [alice, bob]]) {
        const before = await pairStats();
        const old = { alice: [[b, before.alice.localUfrag]],
            bob: [[a, before.bob.localUfrag]] };
        const label = who.length === 1 ? "an ICE restart" : "ICE restarts from both sides at once";
        if (who.length === 1) {
            await bob.evaluate((id) => noomTest.restartIce(id), a);
        } else {
            // both pages hold what they receive, restart ICE, and let it go
            // once both their offers are made: the offers surely cross (a
            // restart at the same moment on both sides would leave it to
            // the timing, and on a loaded machine one page often saw the
            // other's offer before it made its own)
            const open = await Promise.all(who.map((p) =>
                p.evaluate(() => noomTest.hold(true))));
            check(open.every((n) => n > 0),
                "both pages hold their signaling (on a WebSocket)", open);
            await Promise.all(who.map((p) => p.evaluate((id) =>
                noomTest.restartIce(id), p === alice ? b : a)));
            for (const [p, peer] of [[alice, b], [bob, a]]) {
                await expect(p, `${p.nick}: its offer for the restart is made`,
                    async ([peer, n]) => {
                        const s = (await noomTest.stats()).find((x) => x.id === peer);
                        return s && s.offersSent > n;
                    }, [peer, before[p.nick].offersSent]);
            }
            await Promise.all(who.map((p) =>
                p.evaluate(() => noomTest.hold(false))));
        }
        for (const [p, peer] of [[alice, b], [bob, a]]) {
            await expect(p, `${p.nick}: ${label} gives new ICE credentials and settles`,
                async ([peer, ufrag]) => {
                    const s = (await noomTest.stats()).find((x) => x.id === peer);
                    return s && s.localUfrag && s.localUfrag !== ufrag
                        && s.signalingState === "stable"
                        && s.connectionState === "connected";
                }, [peer, Object.fromEntries(old[p.nick])[peer]]);
        }
        await videoFlows(alice, [b, e], `video keeps flowing after ${label}`);
        if (who.length === 2) {
            const now = await pairStats();
            check(now.alice.collisions + now.bob.collisions
                > before.alice.collisions + before.bob.collisions,
                "the two offers collided (glare) and were settled",
                { before, now });
        }
    }

    // screen share: the others get the screen (16:9) instead of the camera
    await eve.click("#toggle-screen");
    for (const p of [alice, bob]) {
        await expect(p, `${p.nick} sees that the third shares a screen`,
            (id) => document.querySelector(`#tiles .tile[data-id="${id}"]`)
                .dataset.screen === "on", e);
        await p.evaluate(mark);
        await expect(p, `${p.nick} receives the shared screen`, async (id) => {
            const s = (await noomTest.stats()).find((x) => x.id === id);
            const b = window.__mark[id];
            return s && s.video && s.video.frameWidth > 0
                && Math.abs(s.video.frameWidth / s.video.frameHeight - 16 / 9) < 0.05
                && s.video.framesDecoded > b.video.framesDecoded;
        }, e);
    }
    await eve.click("#toggle-screen");
    await expect(alice, "after the share, the camera comes back", async (id) => {
        const t = document.querySelector(`#tiles .tile[data-id="${id}"]`);
        const s = (await noomTest.stats()).find((x) => x.id === id);
        return t.dataset.screen === "off" && s && s.video
            && Math.abs(s.video.frameWidth / s.video.frameHeight - 4 / 3) < 0.05;
    }, e);

    // one leaves
    await eve.click("#leave");
    await expect(eve, "the one who leaves is back in the lobby",
        () => !document.querySelector("#lobby").hidden && noomTest.room() === null
            && noomTest.peers().length === 0);
    for (const p of [alice, bob]) {
        await peopleCount(p, 2, `${p.nick}: the tile and the participant are gone`);
        await expect(p, `${p.nick}: the call to the one who left is closed`,
            (id) => !noomTest.peers().includes(id)
                && document.querySelector("#room-count").textContent === "2 people", e);
    }
    await lobbyCount(dave, ROOM, 2, "the lobby count goes back to 2");
    await eve.reload();
    await until(eve, () => window.noomTest && noomTest.connected());
    check(await eve.inputValue("#nickname") === XSS,
        "the nickname is remembered across visits");
    await sawMessage(alice, "alice (you)", "hello from alice", "the chat is still there");
    await expect(alice, "and says who left", (nick) => [...document.querySelectorAll(
        "#messages li.sys")].some((li) => li.textContent === `${nick} left.`), XSS);

    // nginx reload: every WebSocket is closed (1001), the pages reconnect
    // with new socket ids, rejoin, call each other again
    const reloadAt = Date.now();
    process.kill(masterPid, "SIGHUP");
    note(`SIGHUP sent to nginx ${masterPid}`);
    await expect(alice, "alice reconnects with a new socket id and rejoins",
        ([old, room]) => noomTest.connected() && noomTest.id() !== old
            && noomTest.room() === room, [a, ROOM], 20000);
    await expect(bob, "bob too", ([old, room]) => noomTest.connected()
        && noomTest.id() !== old && noomTest.room() === room, [b, ROOM], 20000);
    const [a2, b2] = await ids([alice, bob]);
    await expect(alice, "alice's call is to bob's new id only",
        (id) => noomTest.peers().join() === id
            && noomTest.members().map((m) => m.id).join() === id
            && document.querySelectorAll("#tiles .tile").length === 2, b2);
    await expect(bob, "bob's call is to alice's new id only",
        (id) => noomTest.peers().join() === id
            && document.querySelectorAll("#tiles .tile").length === 2, a2);
    await videoFlows(alice, [b2], "video flows again after the reload (alice)");
    await videoFlows(bob, [a2], "video flows again after the reload (bob)");
    note(`back in ${((Date.now() - reloadAt) / 1000).toFixed(1)} s after the reload`);
    await say(bob, "still here");
    await sawMessage(alice, "bob", "still here", "chat works after the reload");
    await lobbyCount(dave, ROOM, 2, "the lobby reconnects and sees the room again");
    await expect(bob, "the chat told about the lost connection and the rejoin",
        () => {
            const lines = [...document.querySelectorAll("#messages li.sys")]
                .map((li) => li.textContent);
            const lost = lines.findIndex((l) => /Connection lost/.test(l));
            return lost >= 0 && lines.indexOf("Reconnected.", lost) > lost;
        });
    await expect(alice, "the nickname survived", (id) => noomTest.members()
        .some((m) => m.id === id && m.nickname === "bob"), b2);
}

// a guard against a hang, not a timing: on a busy machine (prove -j8 on
// two cores) the whole script has taken more than 150 s
const GUARD = Number(process.env.TEST_NOOM_BROWSER_GUARD || 600);
const guard = setTimeout(() => {
    console.log(`not ok - the browser test did not hang (${GUARD} s)`);
    process.exit(1);
}, GUARD * 1000);

try {
    await main();
    note(summary());
    clearTimeout(guard);
    process.exit(0);
} catch (err) {
    if (!(err instanceof Failure)) {
        console.log(`not ok - the browser test ran to its end`);
        note(err.stack || String(err));
    }
    note(`failed after ${elapsed()}`);
    clearTimeout(guard);
    process.exit(1);
}
