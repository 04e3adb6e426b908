// DOM helpers.  Everything that comes from other people (nicknames, room
// names, messages) goes into the page through textContent, never as
// markup: el() has no way to set any.

export function $(selector, root = document) {
    const node = root.querySelector(selector);
    if (!node) {
        throw new Error(`missing element ${selector}`);
    }
    return node;
}

// el("li", { class: "x", text: "hi", attrs: { "data-id": id } }, child...)
export function el(tag, opts = {}, ...children) {
    const node = document.createElement(tag);
    if (opts.class) {
        node.className = opts.class;
    }
    if (opts.text !== undefined) {
        node.textContent = String(opts.text);
    }
    for (const [name, value] of Object.entries(opts.attrs || {})) {
        if (value === false || value === null || value === undefined) {
            continue;
        }
        node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const [name, fn] of Object.entries(opts.on || {})) {
        node.addEventListener(name, fn);
    }
    for (const child of children) {
        if (child !== null && child !== undefined) {
            node.append(child);
        }
    }
    return node;
}

export function setText(node, text) {
    node.textContent = String(text);
}

export function show(node, visible = true) {
    node.hidden = !visible;
}

// a message in an error area (role=alert), or none
export function showError(node, text) {
    node.textContent = text || "";
    node.hidden = !text;
}

// the size the server counts: UTF-8 bytes
const encoder = new TextEncoder();

export function bytes(text) {
    return encoder.encode(String(text)).length;
}

// the longest start of text that fits in max UTF-8 bytes, never cutting
// a character in two
export function cutToBytes(text, max) {
    let used = 0;
    let out = "";
    for (const ch of String(text)) {
        used += bytes(ch);
        if (used > max) {
            break;
        }
        out += ch;
    }
    return out;
}

// keeps an input within the server's limit as people type or paste, and
// says so when the end was cut; limit() gives the bytes (null: not known).
// The limit, once known, is also the input's data-max-bytes.
export function limitInput(input, note, limit, what) {
    const check = () => {
        const max = limit();
        if (max) {
            input.dataset.maxBytes = String(max);
        }
        if (!max || bytes(input.value) <= max) {
            return;
        }
        input.value = cutToBytes(input.value, max);
        note.textContent = `${what} can be at most ${max} bytes: `
            + "the end was cut.";
    };
    input.addEventListener("input", () => {
        note.textContent = "";
        check();
    });
    return check;
}

// an icon from the sprite in index.html
export function icon(name, cls) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("aria-hidden", "true");
    if (cls) {
        svg.setAttribute("class", cls);
    }
    const use = document.createElementNS(ns, "use");
    use.setAttribute("href", `#i-${name}`);
    svg.append(use);
    return svg;
}

export function setIcon(button, name) {
    button.querySelector("use").setAttribute("href", `#i-${name}`);
}

// "14:05" from a Unix time in ms
export function clock(ts) {
    const d = new Date(ts);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// the first letter of a nickname, for a tile without video
export function initial(name) {
    const first = Array.from(String(name || "?").trim())[0];
    return first ? first.toUpperCase() : "?";
}

// the words people read for a server error code
const ERRORS = {
    room_full: "This room is full. Try again later or pick another room.",
    invalid_room_name: "That room name is not allowed: not only spaces, "
        + "and no control characters.",
    invalid_nickname: "That name is not allowed: not only spaces, "
        + "and no control characters.",
    too_many_rooms: "The server has as many rooms as it can hold. "
        + "Join an open room instead.",
    message_too_long: "That message is too long.",
    not_in_room: "You are not in that room any more.",
    busy: "The server is busy; some people may have missed that.",
    offline: "Not connected to the server. Reconnecting…",
    timeout: "The server did not answer in time. Try again.",
};

export function errorText(err) {
    const code = err && (err.code || err.error);
    return ERRORS[code] || (err && err.message) || "Something went wrong.";
}
