// Being in a room: joining and rejoining, the participant list, the chat,
// a video tile per member, and telling the others about our microphone,
// camera and screen (media_state).  The members are the server's: the ack
// of join_room, then welcome and bye.

import { $, el, setText, show, showError, setPressed, clock, initial,
    errorText } from "./ui.js";

const STATE_WORDS = [
    ["audio", "microphone off"],
    ["video", "camera off"],
];

export class Room extends EventTarget {
    constructor(conn, media, call) {
        super();
        this.conn = conn;
        this.media = media;
        this.call = call;
        this.name = null;
        this.nickname = "";
        this.members = new Map();   // id -> { id, nickname, state }
        this.tiles = new Map();     // id -> tile element ("self" for us)
        this.states = new Map();    // media_state heard before the member
        // every socket id this page has had: after a reconnect the server
        // may still list the old one until it notices it is gone
        this.ownIds = new Set();
        this.joining = false;

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
        this.camSelect = $("#camera-select");
        this.micSelect = $("#mic-select");

        this.listen();
        this.bindControls();
    }

    get inRoom() {
        return this.name !== null;
    }

    // -- joining and leaving --------------------------------------------

    // from the lobby; throws the server's refusal (room_full, ...)
    async enter(name, nickname) {
        if (this.joining) {
            return;
        }
        this.joining = true;
        try {
            await this.conn.request("nickname", nickname);
            const [count, members] = await this.conn.request("join_room", name);
            this.nickname = nickname;
            this.name = name;
            this.clear();
            this.showRoom();
            this.system(`You joined ${name}.`);
            this.settle(count, members);
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

    // after every reconnect: same nickname, same room, a new socket id
    async rejoin() {
        const name = this.name;
        if (!name || this.joining) {
            return;
        }
        this.joining = true;
        try {
            await this.conn.request("nickname", this.nickname).catch(() => {});
            const [count, members] = await this.conn.request("join_room", name);
            if (this.name !== name) {
                return;
            }
            this.system("Reconnected.");
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
        this.ownIds.add(this.conn.id);
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
        this.call.stop();
        this.media.stop();
        if (this.conn.connected) {
            this.conn.request("leave_room", name).catch(() => {});
        }
        this.clear();
        show(this.view, false);
        this.dispatchEvent(new CustomEvent("left", { detail: { reason } }));
    }

    clear() {
        for (const id of [...this.members.keys()]) {
            this.removeMember(id);
        }
        this.members.clear();
        this.states.clear();
        this.messagesEl.replaceChildren();
        showError(this.errorEl, "");
        const self = this.tiles.get("self");
        if (self) {
            self.remove();
            this.tiles.delete("self");
        }
    }

    showRoom() {
        setText(this.titleEl, this.name);
        document.title = `${this.name} – noom`;
        this.tiles.set("self", this.makeTile("self", this.nickname, true));
        this.renderSelf();
        this.renderPeople();
        show(this.view, true);
        this.chatInput.focus();
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
            setText(this.tiles.get(id).querySelector(".name"), nickname);
        }
        this.renderTile(id);
        return m;
    }

    removeMember(id) {
        this.members.delete(id);
        this.call.drop(id);
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
            if (!this.inRoom || this.ownIds.has(id) || id === conn.id) {
                return;
            }
            if (this.members.has(id)) {
                // the same id again: its old call is useless now
                this.call.drop(id);
            }
            this.addMember(id, nickname);
            this.call.peerFor(id, false);
            this.renderPeople();
            this.system(`${nickname} arrived.`);
            this.sendState(id);
        });

        conn.on("bye", (nickname, count, id) => {
            if (!this.inRoom) {
                return;
            }
            const known = this.members.has(id);
            this.removeMember(id);
            this.renderPeople();
            if (known) {
                this.system(`${nickname} left.`);
            }
        });

        conn.on("new_message", (line, msg) => {
            if (!this.inRoom) {
                return;
            }
            if (msg && typeof msg === "object") {
                const m = this.members.get(msg.id);
                if (m && m.nickname !== msg.nickname) {
                    m.nickname = msg.nickname;
                    this.renderPeople();
                    this.renderTile(msg.id);
                }
                this.chat(msg.nickname, msg.text, msg.ts, false);
            } else {
                this.chat("", String(line), Date.now(), false);
            }
        });

        conn.on("media_state", (state, fromId) => {
            if (!this.inRoom || !state || typeof state !== "object") {
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
            this.renderTile(fromId);
            this.renderPeople();
        });

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

        this.chatForm.addEventListener("submit", (e) => {
            e.preventDefault();
            this.send();
        });
    }

    // our media_state, to everyone or to one newcomer
    sendState(toId) {
        if (!this.inRoom || !this.conn.connected) {
            return;
        }
        const args = [this.media.state, this.name];
        if (toId) {
            args.push(toId);
        }
        this.conn.request("media_state", ...args).catch(() => {});
    }

    // -- chat -----------------------------------------------------------

    async send() {
        const text = this.chatInput.value.trim();
        if (!text || !this.inRoom) {
            return;
        }
        try {
            await this.conn.request("new_message", text, this.name);
            this.chat(this.nickname, text, Date.now(), true);
            this.chatInput.value = "";
        } catch (err) {
            this.system(`Not sent: ${errorText(err)}`, true);
        }
    }

    chat(nickname, text, ts, own) {
        const li = el("li", { class: own ? "msg own" : "msg" },
            el("span", { class: "who", text: own ? `${nickname} (you)` : nickname }),
            el("span", { class: "text", text }),
            el("time", { text: clock(ts), attrs: {
                datetime: new Date(ts).toISOString() } }));
        this.appendLine(li);
    }

    system(text, error) {
        this.appendLine(el("li", { class: error ? "sys err" : "sys", text }));
    }

    appendLine(li) {
        const list = this.messagesEl;
        const atBottom = list.scrollHeight - list.scrollTop
            - list.clientHeight < 40;
        list.append(li);
        while (list.children.length > 500) {
            list.firstElementChild.remove();
        }
        if (atBottom) {
            list.scrollTop = list.scrollHeight;
        }
    }

    // -- tiles and the participant list -----------------------------------

    makeTile(id, nickname, self) {
        const video = el("video", { attrs: {
            autoplay: true, playsinline: true, muted: self } });
        video.muted = self;
        const tile = el("figure", {
            class: self ? "tile self" : "tile",
            attrs: { "data-id": id },
        },
            video,
            el("div", { class: "avatar", text: initial(nickname),
                attrs: { "aria-hidden": "true" } }),
            el("figcaption", {},
                el("span", { class: "name", text: nickname }),
                self ? el("span", { class: "you", text: " (you)" }) : null,
                el("span", { class: "badges" },
                    el("span", { class: "badge mic-off", text: "muted" }),
                    el("span", { class: "badge cam-off", text: "camera off" }),
                    el("span", { class: "badge screen",
                        text: "sharing screen" }))));
        this.tilesEl.append(tile);
        this.layout();
        return tile;
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
        setText(tile.querySelector(".avatar"), initial(m.nickname));
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
        setPressed(this.micButton, !this.media.audioOn);
        setPressed(this.camButton, !this.media.videoOn);
        setPressed(this.screenButton, !!this.media.screen);
        this.screenButton.hidden = !this.media.canShareScreen;
        this.renderPeople();
    }

    renderPeople() {
        const items = [];
        const self = { nickname: this.nickname, state: this.media.state };
        items.push(this.person(self, true));
        for (const m of this.members.values()) {
            items.push(this.person(m, false));
        }
        this.peopleEl.replaceChildren(...items);
        const n = this.members.size + 1;
        setText(this.peopleCountEl, n);
        setText(this.countEl, n === 1 ? "1 person" : `${n} people`);
        this.layout();
    }

    person(m, self) {
        const s = m.state || { audio: true, video: true, screen: false };
        const words = STATE_WORDS.filter(([k]) => !s[k]).map(([, w]) => w);
        if (s.screen) {
            words.push("sharing screen");
        }
        return el("li", { attrs: { "data-id": self ? "self" : m.id } },
            el("span", { class: "name", text: m.nickname }),
            self ? el("span", { class: "you", text: " (you)" }) : null,
            words.length
                ? el("span", { class: "state", text: ` — ${words.join(", ")}` })
                : null);
    }

    layout() {
        const n = this.tilesEl.children.length;
        this.tilesEl.dataset.count = String(n);
    }

    // -- controls --------------------------------------------------------

    bindControls() {
        this.micButton.addEventListener("click", () => this.toggleMic());
        this.camButton.addEventListener("click", () => this.toggleCam());
        this.screenButton.addEventListener("click", () => this.toggleScreen());
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

        // M and V, as in other meeting apps, when not typing
        document.addEventListener("keydown", (e) => {
            if (!this.inRoom || e.ctrlKey || e.metaKey || e.altKey
                || e.target.closest("input, textarea, select, [contenteditable]"))
            {
                return;
            }
            if (e.key === "m" || e.key === "M") {
                e.preventDefault();
                this.toggleMic();
            } else if (e.key === "v" || e.key === "V") {
                e.preventDefault();
                this.toggleCam();
            }
        });
    }

    problem(text) {
        showError(this.errorEl, text);
    }

    toggleMic() {
        showError(this.errorEl, "");
        this.media.setAudio(!this.media.audioOn).catch((err) =>
            this.problem(`Cannot start the microphone: ${err.message}`));
    }

    toggleCam() {
        showError(this.errorEl, "");
        this.media.setVideo(!this.media.videoOn).catch((err) =>
            this.problem(`Cannot start the camera: ${err.message}`));
    }

    toggleScreen() {
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

export function roomLink(name) {
    const url = new URL("/", location.href);
    url.searchParams.set("room", name);
    return url.href;
}

function fill(select, devices, current, word) {
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
