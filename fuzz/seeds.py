#!/usr/bin/python3
# Writes the seed corpora in fuzz/corpus/<target>/ (small files, committed).
# Run again after editing; it rewrites the seeds it owns (seed-*) and leaves
# other files (regressions, found inputs worth keeping) alone.

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

LIMITS = [0, 1, 125, 126, 65535, 65536, 16 << 20, (1 << 64) - 1]


def frame(op, payload=b"", fin=True, rsv=0, masked=True, length=None,
          form=None, key=b"\x37\xfa\x21\x3d"):
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    m = 0x80 if masked else 0
    if form is None:
        form = 7 if n < 126 else (16 if n < 65536 else 64)
    if form == 7:
        h = bytes([b0, m | n])
    elif form == 16:
        h = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        h = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if masked:
        h += key
        payload = bytes(c ^ key[i & 3] for i, c in enumerate(payload))
    return h + payload


def ws_seed(frames, unmasked=0, limit=6, chunks=()):
    return bytes([unmasked | (limit << 1), len(chunks)]) + bytes(chunks) + \
        frames


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def ws_frame():
    T, B, C, CL, PI, PO = 1, 2, 0, 8, 9, 10
    s = {
        "text-hello": frame(T, b"Hello"),
        "binary-empty": frame(B),
        "fragments-ping": frame(T, b"Hel", fin=False) + frame(PI, b"p") +
        frame(C, b"lo"),
        "fragments-three": frame(T, b"a", fin=False) +
        frame(C, b"b", fin=False) + frame(C, b"c"),
        "close-1000": frame(CL, b"\x03\xe8bye"),
        "close-empty": frame(CL),
        "ping-125": frame(PI, b"p" * 125),
        "pong": frame(PO, b"x"),
        "binary-200": frame(B, bytes(range(200))),
        "binary-64bit-header": frame(B, b"abc", length=65536),
        "text-16bit-nonminimal": frame(T, b"hi", form=16),
        "rsv1": frame(T, b"x", rsv=1),
        "opcode-3": frame(3, b"x"),
        "opcode-11": frame(11),
        "ping-126": frame(PI, b"p" * 126),
        "ping-not-final": frame(PI, b"p", fin=False),
        "unmasked": frame(T, b"Hello", masked=False),
        "cont-alone": frame(C, b"x"),
        "text-in-text": frame(T, b"a", fin=False) + frame(T, b"b"),
        "length-high-bit": frame(B, b"", length=1 << 63),
        "utf8-invalid": frame(T, b"ab\xed\xa0\x80cd"),
        "utf8-across-fragments": frame(T, b"\xe2\x82", fin=False) +
        frame(PI) + frame(C, b"\xac"),
        "utf8-cut-at-end": frame(T, b"ab\xce"),
        "empty-fragments": frame(T, fin=False) + frame(C, fin=False) +
        frame(C),
    }
    for name, f in s.items():
        write("ws_frame", name, ws_seed(f))
    write("ws_frame", "chunked-1-2-3", ws_seed(s["fragments-ping"],
                                              chunks=(1, 2, 3)))
    write("ws_frame", "chunked-mask", ws_seed(s["binary-200"],
                                              chunks=(7, 1, 5, 3, 9)))
    write("ws_frame", "limit-125-over", ws_seed(frame(T, b"x" * 126),
                                                limit=2))
    write("ws_frame", "limit-1-fragments", ws_seed(
        frame(B, b"a", fin=False) + frame(C, b"b"), limit=1))
    write("ws_frame", "limit-0-empty", ws_seed(frame(T) + frame(PI, b"x"),
                                               limit=0))
    write("ws_frame", "server-unmasked", ws_seed(
        frame(T, b"Hello", masked=False) + frame(PI, masked=False),
        unmasked=1))
    write("ws_frame", "server-masked", ws_seed(frame(T, b"Hello"),
                                               unmasked=1))
    write("ws_frame", "nolimit-huge", ws_seed(
        frame(B, b"abc", fin=False, length=(1 << 63) - 1), limit=7))


def utf8():
    with open(os.path.join(TOP, "t", "unit", "utf8_vectors.txt")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            vid, _, hexbytes = line.split()[:3]
            b = b"" if hexbytes == "-" else bytes.fromhex(hexbytes)
            write("utf8", vid, b)
    write("utf8", "ascii-long", b"abcdefghijklmnopqrstuvwxyz0123456789")
    write("utf8", "close-1000-reason", b"\x03\xe8normal")
    write("utf8", "close-4999", b"\x13\x87")
    write("utf8", "close-1005", b"\x03\xed")


def sio_packet():
    for i, p in enumerate([
        b"0", b"0{\"token\":\"abc\"}", b"0/chat,", b"1", b"2[\"hello\",1]",
        b"20[\"enter_room\",\"lobby\"]", b"2/chat,12[\"a\"]", b"31[]",
        b"4{\"message\":\"x\"}", b"51-[\"up\",{\"_placeholder\":true,\"num\":0}]",
        b"62-/chat,7[{}]", b"2999999999999999[]", b"21000000000000000[]",
        b"5-[]", b"7", b"2/chat",
    ]):
        write("sio_packet", "%02d" % i, p)


def valid_name():
    for i, (limit, name) in enumerate([
        (32, b"bob"), (32, b"  "), (32, b"Zo\xc3\xab"), (4, b"\xc3\xa9\xc3\xa9"),
        (32, b"a\xc2\x85b"), (32, b"\xc2\xa0"), (32, b"tab\there"),
        (255, b"x" * 100), (0, b"a"), (32, b"del\x7f"),
        (32, b"\xf0\x9f\x98\x80 room"),
    ]):
        write("valid_name", "%02d" % i, bytes([limit]) + name)


def json_scan():
    for i, text in enumerate([
        b'["new_message","hi","r1"]',
        b'[ "new_message" , "a\\"b\\\\c\\/d\\n" , "r1" ]',
        b'["offer",{"type":"offer","sdp":"v=0\\r\\n","n":[1,-2,0]},"r"]',
        b'["ice",null,"r","AAAAAAAAAAAAAAAAAAAA"]',
        b'["ice",{"candidate":"c","sdpMLineIndex":0},"r",null]',
        b'[true,false,null,123456789012345678]',
        b'[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
        b'["caf\\u00e9",1.5,1e3]',
        b'["d\xc3\xa9j\xc3\xa0 \xe2\x9a\xa1"]',
        b'[{"a":{},"b":[]},"",[]]',
    ]):
        write("json_scan", "%02d" % i, text)


def node_msg():
    node, sid = b"0123456789abcdef", b"ABCDEFGHIJ_-345678xy"
    for i, text in enumerate([
        b'M' + b'noom1 R - - ["new_message","a: hi",{"id":"x"}]',
        b'M' + b'noom1 R ' + node + b' - ["ice",null,"' + sid + b'"]',
        b'M' + b'noom1 U - ' + sid + b' ["offer",{"sdp":"v=0"},"x"]',
        b'M' + b'noom1 R - ' + sid + b' ["welcome","n",2,"' + sid + b'"]',
        b'Mnoom1 R - - {}',
        b'C' + b'12 3 r1',
        b'C' + b'1 0 a room',
    ]):
        write("node_msg", "%02d" % i, text)


if __name__ == "__main__":
    ws_frame()
    utf8()
    sio_packet()
    valid_name()
    json_scan()
    node_msg()
