// The lobby: a nickname (remembered), the open rooms with their live
// member counts (room_change, and list_rooms on every connect), and a form
// to create or join a room by name; /?room=name fills the form in.

import { $, el, setText, show, showError, errorText } from "./ui.js";

const NICK_KEY = "noom.nickname";

export class Lobby {
    // onJoin(room, nickname): a promise, rejected with the server's refusal
    constructor(conn, onJoin) {
        this.conn = conn;
        this.onJoin = onJoin;
        this.view = $("#lobby");
        this.form = $("#join-form");
        this.nickInput = $("#nickname");
        this.roomInput = $("#room-name");
        this.joinButton = $("#join-button");
        this.errorEl = $("#lobby-error");
        this.roomsEl = $("#rooms");
        this.emptyEl = $("#rooms-empty");
        this.inviteEl = $("#invite");
        this.busy = false;

        this.nickInput.value = remembered();
        const invited = new URL(location.href).searchParams.get("room");
        if (invited) {
            this.roomInput.value = invited;
            setText(this.inviteEl, `You are invited to the room “${invited}”. `
                + "Enter your name and join.");
            show(this.inviteEl, true);
        }

        this.form.addEventListener("submit", (e) => {
            e.preventDefault();
            this.join(this.roomInput.value);
        });

        conn.on("room_change", (names, counts) => this.render(names, counts));
        conn.on("connect", () => this.refresh());
    }

    refresh() {
        this.conn.request("list_rooms").then(([names, counts]) => {
            this.render(names, counts);
        }).catch(() => {});
    }

    show() {
        show(this.view, true);
        document.title = "noom";
        if (!this.nickInput.value) {
            this.nickInput.focus();
        } else {
            this.roomInput.focus();
        }
    }

    hide() {
        show(this.view, false);
    }

    error(text) {
        showError(this.errorEl, text);
    }

    errorText() {
        return this.errorEl.hidden ? "" : this.errorEl.textContent;
    }

    render(names, counts) {
        if (!Array.isArray(names)) {
            return;
        }
        counts = counts && typeof counts === "object" ? counts : {};
        const items = names.map((name) => {
            const n = Number(counts[name]) || 0;
            return el("li", { attrs: { "data-room": name } },
                el("span", { class: "room-name", text: name }),
                el("span", { class: "members", text: n === 1
                    ? "1 person" : `${n} people` }),
                el("button", {
                    text: "Join",
                    attrs: { type: "button", "aria-label": `Join ${name}` },
                    on: { click: () => this.join(name) },
                }));
        });
        this.roomsEl.replaceChildren(...items);
        show(this.emptyEl, items.length === 0);
    }

    async join(roomName) {
        if (this.busy) {
            return;
        }
        const nickname = this.nickInput.value.trim();
        const room = String(roomName || "").trim();
        if (!nickname) {
            this.error("Enter your name first.");
            this.nickInput.focus();
            return;
        }
        if (!room) {
            this.error("Enter the name of a room to create or join.");
            this.roomInput.focus();
            return;
        }
        remember(nickname);
        this.error("");
        this.busy = true;
        this.joinButton.disabled = true;
        try {
            await this.onJoin(room, nickname);
        } catch (err) {
            this.error(errorText(err));
            if (err.code === "invalid_nickname") {
                this.nickInput.focus();
            } else {
                this.roomInput.focus();
            }
        } finally {
            this.busy = false;
            this.joinButton.disabled = false;
        }
    }
}

function remembered() {
    try {
        return localStorage.getItem(NICK_KEY) || "";
    } catch (err) {
        return "";
    }
}

function remember(nickname) {
    try {
        localStorage.setItem(NICK_KEY, nickname);
    } catch (err) {
        // not remembered
    }
}
