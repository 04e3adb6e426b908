// The page: one connection; the lobby, the pre-join screen or a room; the
// connection state in the banner; a reconnect keeps the call (recovered)
// or rejoins it, so does a reload of the page, and Back in a call asks
// first.

import { Connection, NoomError } from "./connection.js";
import { Media } from "./media.js";
import { Call } from "./call.js";
import { Levels } from "./levels.js";
import { Room, roomLink } from "./room.js";
import { Lobby } from "./lobby.js";
import { Prejoin } from "./prejoin.js";
import { $, setText, errorText } from "./ui.js";

const STATUS = {
    connecting: "Connecting to the server…",
    connected: "Connected",
    reconnecting: "Connection lost. Reconnecting…",
    unreachable: "The server cannot be reached. Retrying…",
};

// the call this tab is in, for a reload: {room, nickname, audio, video}
const CALL_KEY = "noom.call";

// a session the server keeps (noom_recovery) usually comes back within a
// second (an nginx reload): the chat says it was lost only after this long
const LOST_GRACE = 3000;

const conn = new Connection("/ws");
const media = new Media();
const call = new Call(conn, media);
const levels = new Levels(call, media);
const room = new Room(conn, media, call, levels);
const prejoin = new Prejoin(media, levels);
const lobby = new Lobby(conn, async (name, nickname) => {
    if (lobby.isFull(name)) {
        throw new NoomError("room_full");
    }
    // a refused name is said in the lobby, before the devices open
    await conn.request("nickname", nickname);
    lobby.hide();
    prejoin.show(name, nickname);
});

prejoin.onBack = () => {
    prejoin.hide();
    levels.stop();
    media.stop();
    lobby.show();
};

prejoin.onJoin = async (name, nickname) => {
    try {
        await room.enter(name, nickname);
    } catch (err) {
        if (err.code === "timeout" || err.code === "offline"
            || err.code === "busy")
        {
            prejoin.error(errorText(err));
            return;
        }
        prejoin.onBack();
        lobby.error(errorText(err));
        return;
    }
    prejoin.hide();
    entered(name);
};

// in the call: the address is the room's link, and one history entry of
// our own makes Back ask before leaving
function entered(name) {
    if (!(history.state && history.state.noom === "call")) {
        history.pushState({ noom: "call" }, "", roomLink(name));
    } else {
        history.replaceState({ noom: "call" }, "", roomLink(name));
    }
    saveCall();
}

function saveCall() {
    try {
        if (room.inRoom) {
            sessionStorage.setItem(CALL_KEY, JSON.stringify({
                room: room.name, nickname: room.nickname,
                audio: media.audioOn, video: media.videoOn,
            }));
        } else {
            sessionStorage.removeItem(CALL_KEY);
        }
    } catch (err) {
        // not kept: a reload lands in the lobby
    }
}

function savedCall() {
    try {
        const saved = JSON.parse(sessionStorage.getItem(CALL_KEY) || "null");
        const invited = new URL(location.href).searchParams.get("room");
        if (saved && typeof saved.room === "string"
            && typeof saved.nickname === "string" && saved.room === invited)
        {
            return saved;
        }
    } catch (err) {
        // nothing usable
    }
    return null;
}

room.addEventListener("state", saveCall);

room.addEventListener("left", (e) => {
    const dialog = $("#leave-dialog");
    if (dialog.open) {
        dialog.close();
    }
    saveCall();
    history.replaceState(null, "", "/");
    lobby.forgetInvite();
    lobby.error(e.detail.reason || "");
    lobby.show();
    lobby.refresh();
});

// Back in a call: stay on the page and ask
window.addEventListener("popstate", () => {
    if (!room.inRoom || (history.state && history.state.noom === "call")) {
        return;
    }
    history.pushState({ noom: "call" }, "", roomLink(room.name));
    const dialog = $("#leave-dialog");
    setText($("#leave-dialog-room"), room.name);
    if (!dialog.open) {
        dialog.returnValue = "";
        dialog.showModal();
    }
});

$("#leave-dialog").addEventListener("close", () => {
    if ($("#leave-dialog").returnValue === "leave") {
        room.leave();
    }
});

const statusEl = $("#status");

function renderStatus(state) {
    statusEl.dataset.state = state;
    setText(statusEl, STATUS[state] || state);
    document.body.dataset.connection = state;
}

let connectionError = "";
// the lost connection not told in the chat yet (a recoverable session)
let lostTimer = null;
let lostTold = false;

function tellLost() {
    clearTimeout(lostTimer);
    lostTimer = null;
    if (room.inRoom && connectionError) {
        room.system(connectionError, true);
        lostTold = true;
    }
}

conn.addEventListener("state", (e) => {
    const state = e.detail;
    renderStatus(state);
    if (state === "reconnecting" || state === "unreachable") {
        connectionError = STATUS[state];
        if (room.inRoom) {
            if (conn.away && !lostTold) {
                lostTimer = lostTimer || setTimeout(tellLost, LOST_GRACE);
            } else if (!lostTimer) {
                tellLost();
            }
        } else {
            lobby.error(connectionError);
        }
    } else if (state === "connected") {
        // recovered in time: nobody needs to hear of it; a fresh session
        // rebuilds the call, which is worth a word
        if (lostTimer && !conn.recovered) {
            tellLost();
        }
        clearTimeout(lostTimer);
        lostTimer = null;
        if (connectionError) {
            if (!room.inRoom && lobby.errorText() === connectionError) {
                lobby.error("");
            }
            connectionError = "";
        }
    }
});
renderStatus(conn.state);

// a reload in a call: straight back into it, as it was
let resume = savedCall();

// every (re)connect: a recovered session is still in its room, with its
// calls as they were; a fresh one joins the same room again
conn.on("connect", () => {
    const told = lostTold;
    lostTold = false;
    if (room.inRoom) {
        room.reconnected(conn.recovered, told);
        return;
    }
    if (resume) {
        const { room: name, nickname, audio, video } = resume;
        resume = null;
        media.audioOn = audio !== false;
        media.videoOn = video !== false;
        rejoinAfterReload(name, nickname, 3);
    }
});

// in a full room our own socket from before the reload may not be gone
// yet: room_full is worth another try or two
function rejoinAfterReload(name, nickname, tries) {
    room.enter(name, nickname).then(() => entered(name), (err) => {
        if (err.code === "room_full" && tries > 1) {
            setTimeout(() => rejoinAfterReload(name, nickname, tries - 1),
                1000);
            return;
        }
        saveCall();
        lobby.error(errorText(err));
        lobby.show();
    });
}

if (resume) {
    document.body.dataset.view = "rejoining";
} else {
    lobby.show();
}
