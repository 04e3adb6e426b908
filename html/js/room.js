// Being in a room: joining and rejoining, the participant list, the chat,
// a video tile per member laid out to fill the stage, the active speaker,
// and telling the others about our microphone, camera and screen
// (media_state).  The members are the server's: the ack of join_room,
// then welcome and bye.  The ack's third argument, when the server sends
// one, is the room's recent chat, shown as earlier messages.

import { $, el, setText, show, showError, clock, initial, errorText,
    icon, setIcon, limitInput } from "./ui.js";

const SMALL = window.matchMedia("(max-width: 52rem)");
const GAP = 8;  // px, the .tiles gap
const MAX_LINES = 500;   // in the chat list
const MAX_HISTORY = 200; // earlier messages taken from an ack

export class Room extends EventTarget {
    constructor(conn, media, call, levels) {
        super();
        this.conn = conn;
        this.media = media;
        this.call = call;
        this.levels = levels;
        this.name = null;
        this.nickname = "";
        this.members = new Map();   // id -> { id, nickname, state }
        this.tiles = new Map();     // id -> tile element ("self" for us)
        this.states = new Map();    // media_state heard before the member
        // every socket id this page has had: after a reconnect the server
        // may still list the old one until it notices it is gone
        this.ownIds = new Set();
        this.joining = false;
        // the socket id whose join_room ack the room was set up from
        this.settledId = null;
        this.pinned = null;
        this.unread = 0;
        // the messages of others shown, as "id ts text": a rejoin's history
        // adds only what was missed
        this.seen = new Set();

        this.view = $("#room");
        this.titleEl = $("#room-name-label");
        this.countEl = $("#room-count");
        this.peopleEl = $("#people");
        this.peopleCountEl = $("#people-count");
        this.messagesEl = $("#messages");
        this.tilesEl = $("#tiles");
        this.errorEl = $("#room-error");
        this.chatForm = $("#chat-form");
        this.chatInput = $("#chat-input");
        this.micButton = $("#toggle-mic");
        this.camButton = $("#toggle-cam");
        this.screenButton = $("#toggle-screen");
        this.sideButton = $("#toggle-side");
        this.unreadEl = $("#unread");
        this.camSelect = $("#camera-select");
        this.micSelect = $("#mic-select");

        this.listen();
        this.bindControls();
        new ResizeObserver(() => this.layout()).observe(this.tilesEl);
    }

    get inRoom() {
        return this.name !== null;
    }

    // -- joining and leaving --------------------------------------------

    // from the pre-join screen, or after a reload; throws the server's
    // refusal (room_full, ...)
    async enter(name, nickname) {
        if (this.joining) {
            return;
        }
        this.joining = true;
        try {
            await this.conn.request("nickname", nickname);
            const [count, members, history] = await this.conn.request(
                "join_room", name);
            this.nickname = nickname;
            this.name = name;
            this.clear();
            this.showRoom();
            this.earlier(history, "Earlier messages:");
            this.system(`You joined ${name}.`);
            this.settle(count, members);
            this.levels.start();
            this.media.start().then(() => {
                if (this.media.lastError && !this.media.mic && !this.media.cam) {
                    this.system("No camera or microphone: you can watch, "
                        + "listen and chat.");
                }
            });
        } finally {
            this.joining = false;
        }
    }

    // every reconnect while in the room.  Recovered by the server (the
    // same socket id, still in the room, every missed event replayed) and
    // settled in this session: the calls go on as they are.  Otherwise (a
    // fresh session, or a rejoin that the lost connection cut short): join
    // again.  told: the chat said the connection was lost
    reconnected(recovered, told) {
        if (!this.inRoom) {
            return;
        }
        if (recovered && this.settledId === this.conn.id) {
            if (told) {
                this.system("Reconnected.");
            }
            return;
        }
        this.rejoin();
    }

    // after a reconnect that was not recovered: same nickname, same room,
    // a new socket id, every call made again
    async rejoin() {
        const name = this.name;
        if (!name || this.joining) {
            return;
        }
        this.joining = true;
        try {
            await this.conn.request("nickname", this.nickname).catch(() => {});
            const [count, members, history] = await this.conn.request(
                "join_room", name);
            if (this.name !== name) {
                return;
            }
            this.system("Reconnected.");
            this.earlier(history, "While you were away:");
            this.settle(count, members);
        } catch (err) {
            if (this.name !== name || err.code === "offline") {
                return;   // the next "connect" tries again
            }
            if (err.code === "timeout" || err.code === "busy") {
                setTimeout(() => {
                    if (this.conn.connected) {
                        this.rejoin();
                    }
                }, 2000);
                return;
            }
            // refused for good (room_full, ...): back to the lobby
            this.leave(errorText(err));
        } finally {
            this.joining = false;
        }
    }

    // the ack of join_room: the members now, each one offered a call
    settle(count, members) {
        this.settledId = this.conn.id;
        this.ownIds.add(this.conn.id);
        this.view.dataset.self = this.conn.id;
        this.call.start(this.name, this.conn.id);
        const now = new Map((members || []).map((m) => [m.id, m]));
        for (const id of [...this.members.keys()]) {
            if (!now.has(id) || this.ownIds.has(id)) {
                this.removeMember(id);
            }
        }
        for (const m of now.values()) {
            if (this.ownIds.has(m.id)) {
                continue;
            }
            this.addMember(m.id, m.nickname);
            this.call.connect(m.id);
        }
        this.renderPeople();
        this.sendState();
    }

    // leave on purpose (or because the rejoin was refused: reason)
    leave(reason) {
        if (!this.name) {
            return;
        }
        const name = this.name;
        this.name = null;
        this.settledId = null;
        this.call.stop();
        this.media.stop();
        this.levels.stop();
        // also while away: a session the server keeps leaves when it is back
        this.conn.request("leave_room", name).catch(() => {});
        this.clear();
        show(this.view, false);
        delete this.view.dataset.room;
        delete this.view.dataset.self;
        if (document.fullscreenElement) {
            document.exitFullscreen().catch(() => {});
        }
        this.dispatchEvent(new CustomEvent("left", { detail: { reason } }));
    }

    clear() {
        for (const id of [...this.members.keys()]) {
            this.removeMember(id);
        }
        this.members.clear();
        this.states.clear();
        this.pinned = null;
        this.messagesEl.replaceChildren();
        this.seen.clear();
        showError(this.errorEl, "");
        this.setUnread(0);
        const self = this.tiles.get("self");
        if (self) {
            self.remove();
            this.tiles.delete("self");
        }
    }

    showRoom() {
        setText(this.titleEl, this.name);
        this.view.dataset.room = this.name;
        document.title = `${this.name} – noom`;
        this.tiles.set("self", this.makeTile("self", this.nickname, true));
        this.setSide(!SMALL.matches);
        this.renderSelf();
        this.renderPeople();
        show(this.view, true);
        document.body.dataset.view = "room";
        // not the chat box: on a phone that would open the keyboard
        $("#room-title").focus();
    }

    // -- members --------------------------------------------------------

    addMember(id, nickname) {
        let m = this.members.get(id);
        if (!m) {
            m = { id, nickname, state: this.states.get(id) || null };
            this.states.delete(id);
            this.members.set(id, m);
            this.tiles.set(id, this.makeTile(id, nickname, false));
        } else {
            m.nickname = nickname;
        }
        this.renderTile(id);
        return m;
    }

    removeMember(id) {
        this.members.delete(id);
        this.call.drop(id);
        if (this.pinned === id) {
            this.pinned = null;
        }
        const tile = this.tiles.get(id);
        if (tile) {
            const video = tile.querySelector("video");
            video.srcObject = null;
            tile.remove();
            this.tiles.delete(id);
        }
    }

    listen() {
        const conn = this.conn;

        conn.on("welcome", (nickname, count, id) => {
            if (!this.inRoom || typeof id !== "string" || !id
                || this.ownIds.has(id) || id === conn.id)
            {
                return;
            }
            if (this.members.has(id)) {
                // the same id again: its old call is useless now
                this.call.drop(id);
            }
            this.addMember(id, nickname);
            this.call.peerFor(id, false);
            this.renderPeople();
            this.system(`${this.label(id, nickname)} arrived.`);
            this.sendState(id);
        });

        conn.on("bye", (nickname, count, id) => {
            if (!this.inRoom || typeof id !== "string") {
                return;
            }
            const known = this.members.has(id);
            const who = this.label(id, nickname);
            this.removeMember(id);
            this.renderPeople();
            if (known) {
                this.system(`${who} left.`);
            }
        });

        conn.on("new_message", (line, msg) => {
            if (!this.inRoom) {
                return;
            }
            if (msg && typeof msg === "object") {
                // ours: shown when it was sent (the room never sends our
                // own messages back, but a replay after a recovery might)
                if (msg.id === conn.id || this.ownIds.has(msg.id)) {
                    return;
                }
                const m = this.members.get(msg.id);
                if (m && m.nickname !== msg.nickname) {
                    m.nickname = msg.nickname;
                    this.renderPeople();
                }
                this.chat(msg.nickname, this.tag(msg.id, msg.nickname),
                    msg.text, msg.ts, false, { id: msg.id });
            } else {
                this.chat("", "", String(line), Date.now(), false);
            }
        });

        conn.on("media_state", (state, fromId) => {
            if (!this.inRoom || !state || typeof state !== "object"
                || typeof fromId !== "string")
            {
                return;
            }
            if (fromId === conn.id || this.ownIds.has(fromId)) {
                return;
            }
            const clean = {
                audio: state.audio === true,
                video: state.video === true,
                screen: state.screen === true,
            };
            const m = this.members.get(fromId);
            if (!m) {
                this.states.set(fromId, clean);
                return;
            }
            m.state = clean;
            this.renderPeople();
        });

        conn.addEventListener("limits", () => this.checkChat());

        this.call.addEventListener("peer", (e) => this.attach(e.detail));
        this.call.addEventListener("track", (e) => this.attach(e.detail));
        this.call.addEventListener("state", (e) => {
            const tile = this.tiles.get(e.detail.id);
            if (tile) {
                tile.dataset.connection = e.detail.pc.connectionState;
            }
        });
        // somebody we did not know offered: they are new, tell them how we are
        this.call.addEventListener("newpeer-offer",
            (e) => this.sendState(e.detail.id));

        this.media.addEventListener("state", () => {
            this.renderSelf();
            this.sendState();
        });
        this.media.addEventListener("tracks", () => this.renderSelf());
        this.media.addEventListener("devices", () => this.renderDevices());

        this.levels.addEventListener("change", (e) => this.renderSpeakers(
            e.detail));

        this.chatForm.addEventListener("submit", (e) => {
            e.preventDefault();
            this.send();
        });
        this.checkChat = limitInput(this.chatInput, $("#chat-note"),
            () => this.conn.limits.message, "Messages");
    }

    // our media_state, to everyone or to one newcomer
    sendState(toId) {
        if (!this.inRoom) {
            return;
        }
        const args = [this.media.state, this.name];
        if (toId) {
            args.push(toId);
        }
        this.conn.request("media_state", ...args).catch(() => {});
        this.dispatchEvent(new Event("state"));
    }

    // -- names: the same nickname twice is told apart by the id ------------

    tag(id, nickname) {
        if (!id) {
            return "";
        }
        let same = nickname === this.nickname ? 1 : 0;
        for (const m of this.members.values()) {
            if (m.nickname === nickname) {
                same += 1;
            }
        }
        return same > 1 ? `#${id.replace(/[^A-Za-z0-9]/g, "").slice(0, 4)}`
            : "";
    }

    label(id, nickname) {
        const tag = this.tag(id, nickname);
        return tag ? `${nickname} (${tag})` : nickname;
    }

    // -- chat -----------------------------------------------------------

    async send() {
        const text = this.chatInput.value.trim();
        if (!text || !this.inRoom) {
            return;
        }
        try {
            await this.conn.request("new_message", text, this.name);
            this.chat(this.nickname, "", text, Date.now(), true);
            this.chatInput.value = "";
            setText($("#chat-note"), "");
        } catch (err) {
            this.system(`Not sent: ${errorText(err)}`, true);
        }
    }

    // the room's recent chat from a join_room ack: other people's text,
    // as text, oldest first, marked as earlier; what this page has shown
    // already (its own messages, and others' after a rejoin) is left out
    earlier(history, heading) {
        if (!Array.isArray(history)) {
            return;   // a server without noom_room_history
        }
        const fresh = history.slice(-MAX_HISTORY).filter((m) => m
            && typeof m === "object" && typeof m.text === "string"
            && typeof m.nickname === "string" && typeof m.id === "string"
            && !this.ownIds.has(m.id) && m.id !== this.conn.id
            && !this.seen.has(seenKey(m.id, m.ts, m.text)));
        if (fresh.length === 0) {
            return;
        }
        this.system(heading, false, "earlier-head");
        for (const m of fresh) {
            const ts = Number.isFinite(m.ts) ? m.ts : Date.now();
            this.chat(m.nickname, this.tag(m.id, m.nickname), m.text, ts,
                false, { earlier: true, id: m.id });
        }
    }

    chat(nickname, tag, text, ts, own, { earlier = false, id } = {}) {
        if (!own && id !== undefined) {
            this.seen.add(seenKey(id, ts, text));
            if (this.seen.size > 2 * MAX_LINES) {
                this.seen.delete(this.seen.values().next().value);
            }
        }
        const cls = ["msg"];
        if (own) {
            cls.push("own");
        }
        if (earlier) {
            cls.push("earlier");
        }
        const li = el("li", { class: cls.join(" ") },
            el("span", { class: "who", text: own ? `${nickname} (you)`
                : nickname }),
            tag ? el("span", { class: "tag", text: `${tag} ` }) : null,
            el("span", { class: "text", text }),
            el("time", { text: clock(ts), attrs: {
                datetime: new Date(ts).toISOString() } }));
        this.appendLine(li);
        if (!own && !earlier && !this.sideVisible()) {
            this.setUnread(this.unread + 1);
        }
    }

    system(text, error, extra) {
        const cls = ["sys"];
        if (error) {
            cls.push("err");
        }
        if (extra) {
            cls.push(extra);
        }
        this.appendLine(el("li", { class: cls.join(" "), text }));
    }

    appendLine(li) {
        const list = this.messagesEl;
        const atBottom = list.scrollHeight - list.scrollTop
            - list.clientHeight < 40;
        list.append(li);
        while (list.children.length > MAX_LINES) {
            list.firstElementChild.remove();
        }
        if (atBottom) {
            list.scrollTop = list.scrollHeight;
        }
    }

    // -- the side panel (a panel you open on a phone) ----------------------

    sideVisible() {
        return this.view.dataset.side === "open";
    }

    setSide(open) {
        this.view.dataset.side = open ? "open" : "closed";
        this.sideButton.setAttribute("aria-expanded", open ? "true" : "false");
        setText(this.sideButton.querySelector(".label"),
            open && SMALL.matches ? "Close chat" : "Chat");
        if (open) {
            this.setUnread(0);
            const list = this.messagesEl;
            list.scrollTop = list.scrollHeight;
        }
        this.layout();
    }

    setUnread(n) {
        this.unread = n;
        setText(this.unreadEl, n > 9 ? "9+" : String(n));
        show(this.unreadEl, n > 0);
        this.sideButton.setAttribute("aria-label", n > 0
            ? `Chat, ${n} unread` : "Chat");
    }

    // -- tiles and the participant list -----------------------------------

    makeTile(id, nickname, self) {
        const video = el("video", { attrs: {
            autoplay: true, playsinline: true, muted: self } });
        video.muted = self;
        const pin = el("button", {
            class: "pin",
            attrs: { type: "button", "aria-pressed": "false",
                "aria-label": "Pin", title: "Pin: keep this video large" },
            on: { click: () => this.pin(this.pinned === id ? null : id) },
        }, icon("pin"));
        const full = el("button", {
            class: "full",
            attrs: { type: "button", "aria-label": "Full screen",
                title: "Full screen" },
            on: { click: () => this.fullscreen(tile) },
        }, icon("full"));
        const tile = el("figure", {
            class: self ? "tile self" : "tile",
            attrs: { "data-id": id },
        },
            video,
            el("div", { class: "avatar", text: initial(nickname),
                attrs: { "aria-hidden": "true" } }),
            el("div", { class: "tile-actions" }, pin, full),
            el("figcaption", {},
                el("span", { class: "name", text: nickname }),
                el("span", { class: "tag", attrs: { hidden: true } }),
                self ? el("span", { class: "you", text: "you" }) : null,
                el("span", { class: "badges" },
                    badge("mic-off", "mic-off", "muted"),
                    badge("cam-off", "cam-off", "camera off"),
                    badge("screen", "screen", "sharing screen"))));
        this.tilesEl.append(tile);
        this.layout();
        return tile;
    }

    // the tile's buttons say whose video they act on
    nameButtons(tile, who) {
        const pin = tile.querySelector(".pin");
        const pinned = pin.getAttribute("aria-pressed") === "true";
        pin.setAttribute("aria-label", `${pinned ? "Unpin" : "Pin"} ${who}`);
        tile.querySelector(".full").setAttribute("aria-label",
            `${who} full screen`);
    }

    pin(id) {
        this.pinned = id;
        for (const [tid, tile] of this.tiles) {
            const on = tid === id;
            tile.dataset.pinned = on ? "true" : "false";
            tile.querySelector(".pin").setAttribute("aria-pressed",
                on ? "true" : "false");
            const m = this.members.get(tid);
            this.nameButtons(tile, m ? m.nickname
                : `${this.nickname} (you)`);
        }
        this.layout();
    }

    fullscreen(tile) {
        if (document.fullscreenElement === tile) {
            document.exitFullscreen().catch(() => {});
        } else if (tile.requestFullscreen) {
            tile.requestFullscreen().catch((err) =>
                this.problem(`Cannot go full screen: ${err.message}`));
        }
    }

    // the tile of a remote member shows its peer's stream
    attach(peer) {
        const tile = this.tiles.get(peer.id);
        if (!tile) {
            return;
        }
        const video = tile.querySelector("video");
        if (video.srcObject !== peer.stream) {
            video.srcObject = peer.stream;
        }
        play(video);
    }

    renderTile(id) {
        const m = this.members.get(id);
        const tile = this.tiles.get(id);
        if (!m || !tile) {
            return;
        }
        setText(tile.querySelector(".name"), m.nickname);
        const tag = this.tag(id, m.nickname);
        const tagEl = tile.querySelector(".tag");
        setText(tagEl, tag);
        tagEl.hidden = !tag;
        setText(tile.querySelector(".avatar"), initial(m.nickname));
        this.nameButtons(tile, tag ? `${m.nickname} ${tag}` : m.nickname);
        // nothing heard yet: shown as on, the video tells
        const s = m.state || { audio: true, video: true, screen: false };
        tile.dataset.audio = s.audio ? "on" : "off";
        tile.dataset.video = s.video || s.screen ? "on" : "off";
        tile.dataset.screen = s.screen ? "on" : "off";
    }

    renderSelf() {
        const tile = this.tiles.get("self");
        const s = this.media.state;
        if (tile) {
            setText(tile.querySelector(".name"), this.nickname);
            setText(tile.querySelector(".avatar"), initial(this.nickname));
            this.nameButtons(tile, `${this.nickname} (you)`);
            tile.dataset.audio = s.audio ? "on" : "off";
            tile.dataset.video = s.video || s.screen ? "on" : "off";
            tile.dataset.screen = s.screen ? "on" : "off";
            const video = tile.querySelector("video");
            const track = this.media.outgoing("video");
            const current = video.srcObject && video.srcObject.getVideoTracks()[0];
            if (track !== (current || null)) {
                video.srcObject = track ? new MediaStream([track]) : null;
                if (track) {
                    play(video);
                }
            }
            tile.classList.toggle("mirror", !!track && !this.media.screen);
        }
        const micOn = this.media.audioOn && !!this.media.mic;
        const camOn = this.media.videoOn && !!this.media.cam;
        control(this.micButton, micOn ? "on" : "off", micOn ? "mic" : "mic-off",
            micOn ? "Mute" : "Unmute", "M");
        control(this.camButton, camOn ? "on" : "off", camOn ? "cam" : "cam-off",
            camOn ? "Stop camera" : "Start camera", "V");
        const sharing = !!this.media.screen;
        control(this.screenButton, sharing ? "sharing" : "idle", "screen",
            sharing ? "Stop sharing" : "Share screen", "S");
        this.screenButton.hidden = !this.media.canShareScreen;
        this.renderPeople();
    }

    renderPeople() {
        const items = [];
        const self = { id: "self", nickname: this.nickname,
            state: this.media.state };
        items.push(this.person(self, true));
        for (const m of this.members.values()) {
            items.push(this.person(m, false));
            this.renderTile(m.id);
        }
        this.peopleEl.replaceChildren(...items);
        const n = this.members.size + 1;
        setText(this.peopleCountEl, n);
        setText(this.countEl, n === 1 ? "1 person" : `${n} people`);
        this.renderSpeakers(this.levels);
        this.layout();
    }

    person(m, self) {
        const s = m.state || { audio: true, video: true, screen: false };
        const words = [];
        if (!s.audio) {
            words.push("microphone off");
        }
        if (!s.video) {
            words.push("camera off");
        }
        if (s.screen) {
            words.push("sharing screen");
        }
        const tag = self ? "" : this.tag(m.id, m.nickname);
        return el("li", { attrs: {
            "data-id": m.id,
            "data-audio": s.audio ? "on" : "off",
            "data-video": s.video ? "on" : "off",
            "data-screen": s.screen ? "on" : "off",
            "data-speaking": "false",
        } },
            el("span", { class: "speaking", attrs: { title: "speaking",
                "aria-hidden": "true" } }),
            el("span", { class: "who" },
                el("span", { class: "name", text: m.nickname }),
                tag ? el("span", { class: "tag", text: ` ${tag}` }) : null,
                self ? el("span", { class: "you", text: " (you)" }) : null,
                el("span", { class: "visually-hidden state",
                    text: words.length ? `: ${words.join(", ")}` : "" })),
            el("span", { class: "icons", attrs: { "aria-hidden": "true" } },
                icon(s.audio ? "mic" : "mic-off", s.audio ? "" : "off"),
                icon(s.video ? "cam" : "cam-off", s.video ? "" : "off"),
                s.screen ? icon("screen") : null));
    }

    // the speaking dot in the list, the active speaker's tile outlined
    renderSpeakers({ speaking, active }) {
        speaking = speaking || new Set();
        for (const li of this.peopleEl.children) {
            const on = speaking.has(li.dataset.id);
            li.dataset.speaking = on ? "true" : "false";
        }
        for (const [id, tile] of this.tiles) {
            tile.dataset.speaking = speaking.has(id) ? "true" : "false";
            // outlined while speaking: the last speaker, not a stale one
            tile.dataset.active = active === id && this.tiles.size > 1
                && speaking.has(id) ? "true" : "false";
        }
    }

    // gallery: the columns that give every tile the largest 4:3 picture,
    // each tile filling its cell.  Focus: a pinned tile, or else a shared
    // screen, large; the others in a strip beside it (under it on a phone)
    layout() {
        const tiles = this.tilesEl;
        const n = tiles.children.length;
        tiles.dataset.count = String(n);
        let focus = this.pinned && this.tiles.has(this.pinned)
            ? this.pinned : null;
        if (!focus) {
            for (const m of this.members.values()) {
                if (m.state && m.state.screen) {
                    focus = m.id;
                    break;
                }
            }
        }
        for (const [id, tile] of this.tiles) {
            tile.classList.toggle("main", id === focus);
        }
        if (focus && n > 1) {
            for (const t of tiles.children) {
                t.style.gridColumn = "";
            }
            tiles.dataset.mode = "focus";
            tiles.dataset.focus = focus;
            tiles.dataset.strip = String(n - 1);
            tiles.style.setProperty("--strip", String(Math.max(1, n - 1)));
            // strip tiles of about 4:3
            const h = tiles.clientHeight;
            const each = (h - GAP * (n - 2)) / Math.max(1, n - 1);
            tiles.style.setProperty("--strip-w",
                `${Math.round(Math.min(240, Math.max(120, each * 4 / 3)))}px`);
            return;
        }
        tiles.dataset.mode = "grid";
        delete tiles.dataset.focus;
        const { cols, rows } = grid(n, tiles.clientWidth, tiles.clientHeight);
        tiles.style.setProperty("--cols2", String(2 * cols));
        tiles.style.setProperty("--rows", String(rows));
        // the last row, when not full, in the middle
        const rest = n % cols;
        [...tiles.children].forEach((t, i) => {
            t.style.gridColumn = rest && i === n - rest
                ? `${cols - rest + 1} / span 2` : "";
        });
    }

    // -- controls --------------------------------------------------------

    bindControls() {
        this.micButton.addEventListener("click", () => this.toggleMic());
        this.camButton.addEventListener("click", () => this.toggleCam());
        this.screenButton.addEventListener("click", () => this.toggleScreen());
        this.sideButton.addEventListener("click",
            () => this.setSide(!this.sideVisible()));
        $("#close-side").addEventListener("click", () => {
            this.setSide(false);
            this.sideButton.focus();
        });
        this.camSelect.addEventListener("change", () => {
            this.media.switchCamera(this.camSelect.value).catch((err) =>
                this.problem(`Cannot use that camera: ${err.message}`));
        });
        this.micSelect.addEventListener("change", () => {
            this.media.switchMic(this.micSelect.value).catch((err) =>
                this.problem(`Cannot use that microphone: ${err.message}`));
        });
        $("#leave").addEventListener("click", () => this.leave());
        $("#copy-link").addEventListener("click", () => this.copyLink());
        SMALL.addEventListener("change", () => {
            if (this.inRoom) {
                this.setSide(!SMALL.matches);
            }
        });

        // M, V, S and C, when not typing; Escape closes the phone's panel
        document.addEventListener("keydown", (e) => {
            if (this.inRoom && e.key === "Escape" && SMALL.matches
                && this.sideVisible() && !document.querySelector("dialog[open]"))
            {
                this.setSide(false);
                this.sideButton.focus();
                return;
            }
            if (!this.inRoom || e.ctrlKey || e.metaKey || e.altKey
                || e.target.closest("input, textarea, select, [contenteditable]")
                || document.querySelector("dialog[open]"))
            {
                return;
            }
            const key = e.key.toLowerCase();
            const act = { m: () => this.toggleMic(),
                v: () => this.toggleCam(),
                s: () => this.toggleScreen(),
                c: () => this.setSide(!this.sideVisible()) }[key];
            if (act) {
                e.preventDefault();
                act();
            }
        });
    }

    problem(text) {
        showError(this.errorEl, text);
    }

    toggleMic() {
        showError(this.errorEl, "");
        this.media.setAudio(!(this.media.audioOn && this.media.mic))
            .catch((err) =>
                this.problem(`Cannot start the microphone: ${err.message}`));
    }

    toggleCam() {
        showError(this.errorEl, "");
        this.media.setVideo(!(this.media.videoOn && this.media.cam))
            .catch((err) =>
                this.problem(`Cannot start the camera: ${err.message}`));
    }

    toggleScreen() {
        if (!this.media.canShareScreen) {
            return;
        }
        showError(this.errorEl, "");
        const p = this.media.screen ? this.media.stopScreen()
            : this.media.startScreen();
        p.catch((err) => {
            if (err.name !== "NotAllowedError") {
                this.problem(`Cannot share the screen: ${err.message}`);
            }
        });
    }

    renderDevices() {
        fill(this.camSelect, this.media.cams, this.media.camId, "Camera");
        fill(this.micSelect, this.media.mics, this.media.micId, "Microphone");
    }

    async copyLink() {
        const url = roomLink(this.name);
        try {
            await navigator.clipboard.writeText(url);
            this.system(`Link copied: ${url}`);
        } catch (err) {
            this.system(`Share this link: ${url}`);
        }
    }
}

// a control bar button: its state (red when "off"), icon, and a label
// that says what a press does, with the shortcut in the tooltip
function control(button, state, iconName, label, key) {
    button.dataset.state = state;
    setIcon(button, iconName);
    setText(button.querySelector(".label"), label);
    button.title = `${label} (${key})`;
}

// a state on a tile: an icon, with words for screen readers and tooltips
function badge(cls, iconName, words) {
    return el("span", { class: `badge ${cls}`, attrs: { title: words } },
        icon(iconName), el("span", { class: "visually-hidden", text: words }));
}

// the columns and rows for n tiles in a width x height area
export function grid(n, width, height) {
    let best = { cols: 1, rows: Math.max(1, n), size: -1 };
    for (let cols = 1; cols <= Math.max(1, n); cols++) {
        const rows = Math.ceil(n / cols);
        const w = (width - GAP * (cols - 1)) / cols;
        const h = (height - GAP * (rows - 1)) / rows;
        const size = Math.min(w, h * 4 / 3);
        if (size > best.size + 0.5) {
            best = { cols, rows, size };
        }
    }
    return best;
}

function seenKey(id, ts, text) {
    return `${id}\n${ts}\n${text}`;
}

export function roomLink(name) {
    const url = new URL("/", location.href);
    url.searchParams.set("room", name);
    return url.href;
}

export function fill(select, devices, current, word) {
    const options = devices.map((d, i) => el("option", {
        text: d.label || `${word} ${i + 1}`,
        attrs: { value: d.deviceId, selected: d.deviceId === current },
    }));
    select.replaceChildren(...options);
    select.disabled = options.length < 1;
    if (current) {
        select.value = current;
    }
}

// autoplay with sound may be refused before the first click: play muted,
// and let the next click anywhere bring the sound back
function play(video) {
    const p = video.play();
    if (!p || video.muted) {
        return;
    }
    p.catch((err) => {
        if (err.name !== "NotAllowedError") {
            return;
        }
        video.muted = true;
        video.play().catch(() => {});
        document.addEventListener("click", () => {
            if (!video.closest(".self")) {
                video.muted = false;
            }
        }, { once: true });
    });
}
