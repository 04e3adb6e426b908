// What the browser tests share: Debian's Chromium (with fake devices, or
// without media for pages that need none), pages with the test hooks
// (t/js/hooks.js), polling for conditions, and TAP output ("ok - ...",
// "not ok - ...", "# ...").

import { chromium } from "playwright-core";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const TOP = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
// the test's window into the page (no debug global ships in html/)
export const HOOKS = join(TOP, "t", "js", "hooks.js");
// generous: other jobs may share the machine
export const WAIT = 30000;
// media over WebRTC: under prove -j4 on two cores, three pages' peer
// connections have taken more than 30 s to carry their first bytes
export const MEDIA_WAIT = 90000;
const T0 = Date.now();

let count = 0;

export class Failure extends Error {}

export function ok(name) {
    count += 1;
    console.log(`ok - ${name}`);
    if (process.env.NOOM_TIMES) {
        console.log(`# ${((Date.now() - T0) / 1000).toFixed(1)} s`);
    }
}

export function note(text) {
    for (const line of String(text).split("\n")) {
        console.log(`# ${line}`);
    }
}

export function elapsed() {
    return `${((Date.now() - T0) / 1000).toFixed(1)} s`;
}

export function summary() {
    return `${count} checks in ${elapsed()}`;
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The browser tests' one way to poll: fn(arg) in the page until it is
// true (or {ok: true}; truthy: any true value), every 100 ms, for at most
// timeout ms; past it, throws an error naming the last error or result.
// (page.waitForFunction takes a returned promise for a true value.)
export async function until(page, fn, arg, timeout = WAIT,
    { truthy = false } = {})
{
    const end = Date.now() + timeout;
    let error;
    let last;
    for (;;) {
        try {
            last = await page.evaluate(fn, arg);
            if (last === true || (last && last.ok === true)
                || (truthy && last)) {
                return last;
            }
            error = null;
        } catch (err) {
            error = err;
        }
        if (Date.now() > end) {
            const e = new Error(`no success within ${timeout} ms`
                + (error ? `: ${error.message.split("\n")[0]}` : "")
                + (last && typeof last === "object"
                    ? `: ${JSON.stringify(last)}` : ""));
            throw e;
        }
        await pause(100);
    }
}

// a condition in the page, as a test; a timeout fails it
export async function expect(page, name, fn, arg, timeout = WAIT) {
    try {
        await until(page, fn, arg, timeout);
    } catch (err) {
        console.log(`not ok - ${name}`);
        note(`${page.nick}: ${err.message}`);
        throw new Failure(name);
    }
    ok(name);
}

export function check(cond, name, detail) {
    if (!cond) {
        console.log(`not ok - ${name}`);
        if (detail !== undefined) {
            note(typeof detail === "string" ? detail : JSON.stringify(detail));
        }
        throw new Failure(name);
    }
    ok(name);
}

// Debian's Chromium, never a downloaded one.  media: the options of the
// fake camera and microphone ("device-count=3,fps=10"), false for none
export async function launch({ media = "fps=10" } = {}) {
    const args = [
        "--no-sandbox", "--headless=new", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run",
    ];
    if (media) {
        args.push(
            `--use-fake-device-for-media-stream=${media}`,
            // also grants getDisplayMedia: a fake screen
            "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--autoplay-policy=no-user-gesture-required",
            "--mute-audio");
    }
    return chromium.launch({ executablePath: "/usr/bin/chromium", args });
}

// a page in a context of its own (its own localStorage), 320x240 cameras
// deny: camera and microphone refused, as when people say no
// init: one more init script, after the hooks; setup(page): before the
// page loads (listeners that must see its first requests)
export async function open(browser, base, nick, path, problems,
    { viewport, deny, init, setup } = {})
{
    const context = await browser.newContext({
        viewport: viewport || { width: 1280, height: 800 },
    });
    await context.addInitScript({ path: HOOKS });
    if (deny) {
        await context.addInitScript(() => {
            navigator.mediaDevices.getUserMedia = () => Promise.reject(
                new DOMException("Permission denied", "NotAllowedError"));
        });
    }
    await context.addInitScript(() => {
        const md = navigator.mediaDevices;
        const gum = md.getUserMedia.bind(md);
        md.getUserMedia = (c) => {
            if (c && c.video) {
                c = { ...c, video: { ...(c.video === true ? {} : c.video),
                    width: { ideal: 320 }, height: { ideal: 240 } } };
            }
            return gum(c);
        };
    });
    if (init) {
        await context.addInitScript(init);
    }
    const page = await context.newPage();
    page.nick = nick;
    if (setup) {
        setup(page);
    }
    // clicks and fills wait longer than Playwright's 30 s on a crowded machine
    page.setDefaultTimeout(90000);
    page.on("pageerror", (err) => problems.push(`${nick}: ${err.message}`));
    page.on("dialog", (dialog) => {
        problems.push(`${nick}: a dialog opened: ${dialog.message()}`);
        dialog.dismiss().catch(() => {});
    });
    page.on("console", (msg) => {
        if (msg.type() === "error") {
            note(`${nick} console: ${msg.text()}`);
        }
    });
    await page.goto(base + path);
    await until(page, () => window.noomTest && noomTest.connected());
    return page;
}
