
/*
 * Copyright (C) noom authors
 *
 * ngx_noom_sio_parse(): the Socket.IO v5 packet prefix
 * <type>[<attachments>-][<nsp>,][<ack id>]<json>, and ngx_noom_valid_name()
 * for nicknames and room names, ngx_noom_json_scan(),
 * ngx_noom_json_event_for(), ngx_noom_json_escape() and
 * ngx_noom_sio_decimal() for the events that skip jansson.  Every input
 * is parsed from a heap copy of exactly its size, so a read past the end is
 * an ASan error.
 */


#include <stdlib.h>

#include "tap.h"
#include "ngx_noom_parse.h"


#define NONE  "(none)"


typedef struct {
    const char  *in;
    ngx_int_t    rc;
    int          type;
    unsigned     attachments;
    const char  *nsp;
    int64_t      ack;
    const char  *data;
    const char  *name;
} sio_case_t;


static const sio_case_t  sio_cases[] = {

    /* types */
    { "0", NGX_OK, 0, 0, "/", -1, "", "CONNECT" },
    { "0{\"token\":\"x\"}", NGX_OK, 0, 0, "/", -1, "{\"token\":\"x\"}",
      "CONNECT with auth" },
    { "1", NGX_OK, 1, 0, "/", -1, "", "DISCONNECT" },
    { "2[\"hello\",1]", NGX_OK, 2, 0, "/", -1, "[\"hello\",1]", "EVENT" },
    { "3[]", NGX_OK, 3, 0, "/", -1, "[]", "ACK without an id" },
    { "4{\"message\":\"no\"}", NGX_OK, 4, 0, "/", -1,
      "{\"message\":\"no\"}", "CONNECT_ERROR" },
    { "51-[\"up\",{\"_placeholder\":true,\"num\":0}]", NGX_OK, 5, 1, "/", -1,
      "[\"up\",{\"_placeholder\":true,\"num\":0}]", "BINARY_EVENT" },
    { "62-7[{\"_placeholder\":true,\"num\":0}]", NGX_OK, 6, 2, "/", 7,
      "[{\"_placeholder\":true,\"num\":0}]", "BINARY_ACK with an id" },
    { "2", NGX_OK, 2, 0, "/", -1, "", "EVENT without data (the caller "
      "refuses it)" },

    /* bad types */
    { "", NGX_ERROR, 0, 0, NULL, 0, NULL, "empty packet" },
    { "7[]", NGX_ERROR, 0, 0, NULL, 0, NULL, "type 7" },
    { "9", NGX_ERROR, 0, 0, NULL, 0, NULL, "type 9" },
    { "a", NGX_ERROR, 0, 0, NULL, 0, NULL, "type a" },
    { "/chat,", NGX_ERROR, 0, 0, NULL, 0, NULL, "no type" },
    { "[\"x\"]", NGX_ERROR, 0, 0, NULL, 0, NULL, "JSON without a type" },
    { " 2[]", NGX_ERROR, 0, 0, NULL, 0, NULL, "space before the type" },

    /* attachments */
    { "50-[]", NGX_OK, 5, 0, "/", -1, "[]", "0 attachments" },
    { "5999-[]", NGX_OK, 5, 999, "/", -1, "[]", "999 attachments" },
    { "5007-[]", NGX_OK, 5, 7, "/", -1, "[]", "007 attachments" },
    { "51-", NGX_OK, 5, 1, "/", -1, "", "attachments and nothing more" },
    { "5", NGX_ERROR, 0, 0, NULL, 0, NULL, "BINARY_EVENT without a count" },
    { "6", NGX_ERROR, 0, 0, NULL, 0, NULL, "BINARY_ACK without a count" },
    { "5-[]", NGX_ERROR, 0, 0, NULL, 0, NULL, "empty count" },
    { "5[]", NGX_ERROR, 0, 0, NULL, 0, NULL, "no count" },
    { "51", NGX_ERROR, 0, 0, NULL, 0, NULL, "count without a dash" },
    { "51[]", NGX_ERROR, 0, 0, NULL, 0, NULL, "count followed by JSON" },
    { "5a-[]", NGX_ERROR, 0, 0, NULL, 0, NULL, "count not a number" },
    { "51a-[]", NGX_ERROR, 0, 0, NULL, 0, NULL, "count with a letter" },
    { "51000-[]", NGX_ERROR, 0, 0, NULL, 0, NULL, "4-digit count" },
    { "5/chat,1-[]", NGX_ERROR, 0, 0, NULL, 0, NULL,
      "namespace before the count" },
    { "21-[]", NGX_OK, 2, 0, "/", 1, "-[]", "no count on an EVENT: "
      "1 is an ack id" },

    /* namespaces */
    { "0/chat,", NGX_OK, 0, 0, "/chat", -1, "", "CONNECT to /chat" },
    { "0/chat", NGX_OK, 0, 0, "/chat", -1, "", "namespace without a comma" },
    { "0/chat,{\"a\":1}", NGX_OK, 0, 0, "/chat", -1, "{\"a\":1}",
      "CONNECT to /chat with auth" },
    { "2/chat,[\"a\"]", NGX_OK, 2, 0, "/chat", -1, "[\"a\"]",
      "EVENT in /chat" },
    { "2/chat,12[\"a\"]", NGX_OK, 2, 0, "/chat", 12, "[\"a\"]",
      "EVENT in /chat with an ack id" },
    { "2/chat[\"a\"]", NGX_OK, 2, 0, "/chat[\"a\"]", -1, "",
      "no comma: the namespace runs to the end (as socket.io-parser)" },
    { "2/,[\"a\"]", NGX_OK, 2, 0, "/", -1, "[\"a\"]", "namespace /" },
    { "2/a/b,[\"a\"]", NGX_OK, 2, 0, "/a/b", -1, "[\"a\"]",
      "namespace with a slash" },
    { "2/,", NGX_OK, 2, 0, "/", -1, "", "namespace / and nothing more" },
    { "2/", NGX_OK, 2, 0, "/", -1, "", "a lone slash" },
    { "52-/chat,3[\"a\"]", NGX_OK, 5, 2, "/chat", 3, "[\"a\"]",
      "count, namespace and ack id" },
    { "1/admin,", NGX_OK, 1, 0, "/admin", -1, "", "DISCONNECT from /admin" },
    { "2/chat,,[]", NGX_OK, 2, 0, "/chat", -1, ",[]",
      "a second comma is data" },

    /* ack ids */
    { "20[\"a\"]", NGX_OK, 2, 0, "/", 0, "[\"a\"]", "ack id 0" },
    { "21[\"a\"]", NGX_OK, 2, 0, "/", 1, "[\"a\"]", "ack id 1" },
    { "31[]", NGX_OK, 3, 0, "/", 1, "[]", "ACK 1" },
    { "2123", NGX_OK, 2, 0, "/", 123, "", "ack id and no data" },
    { "2999999999999999[]", NGX_OK, 2, 0, "/", 999999999999999LL, "[]",
      "15-digit ack id" },
    { "2000000000000042[]", NGX_OK, 2, 0, "/", 42, "[]",
      "15-digit ack id with zeros" },
    { "21000000000000000[]", NGX_ERROR, 0, 0, NULL, 0, NULL,
      "16-digit ack id" },
    { "20000000000000000[]", NGX_ERROR, 0, 0, NULL, 0, NULL,
      "16 zeros" },
    { "29999999999999999999999[]", NGX_ERROR, 0, 0, NULL, 0, NULL,
      "22-digit ack id" },
    { "2/chat,1000000000000000[]", NGX_ERROR, 0, 0, NULL, 0, NULL,
      "16-digit ack id after a namespace" },
    { "2 1[]", NGX_OK, 2, 0, "/", -1, " 1[]", "a space is data" },
    { "2-1[]", NGX_OK, 2, 0, "/", -1, "-1[]", "no negative ack ids" },
    { "21a", NGX_OK, 2, 0, "/", 1, "a", "the id stops at a non-digit" },
};


static void
test_sio(void)
{
    u_char                 *copy;
    size_t                  i, len;
    ngx_int_t               rc;
    const sio_case_t       *c;
    ngx_noom_sio_packet_t   pkt;

    for (i = 0; i < sizeof(sio_cases) / sizeof(sio_cases[0]); i++) {
        c = &sio_cases[i];
        len = strlen(c->in);

        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, c->in, len);
        memset(&pkt, 0xa5, sizeof(pkt));

        rc = ngx_noom_sio_parse(copy, len, &pkt);

        if (c->rc == NGX_ERROR) {
            is_int(rc, NGX_ERROR, "'%s': %s: error", c->in, c->name);
            free(copy);
            continue;
        }

        if (!is_int(rc, NGX_OK, "'%s': %s", c->in, c->name)) {
            free(copy);
            continue;
        }

        is_int(pkt.type, c->type, "'%s': type %d", c->in, c->type);
        is_int(pkt.attachments, c->attachments, "'%s': %u attachments",
               c->in, c->attachments);
        is_mem(pkt.nsp.data, pkt.nsp.len, c->nsp, strlen(c->nsp),
               "'%s': namespace %s", c->in, c->nsp);
        is_int(pkt.ack, c->ack, "'%s': ack id %lld", c->in,
               (long long) c->ack);
        is_mem(pkt.data, pkt.len, c->data, strlen(c->data),
               "'%s': data '%s'", c->in, c->data);
        ok(pkt.data >= copy && pkt.data + pkt.len == copy + len,
           "'%s': the data runs to the end of the packet", c->in);

        free(copy);
    }
}


static void
test_valid_name(void)
{
    char      buf[64], name[80];
    unsigned  c, wrong;

    static const struct {
        const char  *s;
        size_t       max;
        ngx_int_t    rc;
        const char  *name;
    } cases[] = {
        { "bob", 32, NGX_OK, "bob" },
        { "b", 1, NGX_OK, "one byte, limit 1" },
        { "", 32, NGX_ERROR, "empty" },
        { "bob", 2, NGX_ERROR, "3 bytes, limit 2" },
        { "bob", 3, NGX_OK, "3 bytes, limit 3" },
        { " bob", 32, NGX_ERROR, "a space first" },
        { "bob ", 32, NGX_ERROR, "a space last" },
        { "Mary  Ann", 32, NGX_ERROR, "two spaces in a row" },
        { "Mary Ann", 32, NGX_OK, "a space inside" },
        { " ", 32, NGX_ERROR, "one space" },
        { "     ", 32, NGX_ERROR, "only spaces" },
        { "\t", 32, NGX_ERROR, "a tab" },
        { "bob\n", 32, NGX_ERROR, "a newline at the end" },
        { "b\rob", 32, NGX_ERROR, "a CR inside" },
        { "\x1b[31mred", 32, NGX_ERROR, "an escape sequence" },
        { "bob\x7f", 32, NGX_ERROR, "DEL" },
        { "Zo\xc3\xab", 32, NGX_OK, "Zoë" },
        { "\xe6\x97\xa5\xe6\x9c\xac", 32, NGX_OK, "CJK" },
        { "\xf0\x9f\x98\x80", 32, NGX_OK, "an emoji" },
        { "\xc3\xa9\xc3\xa9", 3, NGX_ERROR, "the limit counts bytes" },
        { "\xc3\xa9\xc3\xa9", 4, NGX_OK, "4 bytes, limit 4" },
        { "a\xc2\x80", 32, NGX_ERROR, "U+0080 (C1)" },
        { "a\xc2\x85" "b", 32, NGX_ERROR, "U+0085 NEL (C1)" },
        { "\xc2\x9f", 32, NGX_ERROR, "U+009F (C1)" },
        { "\xc2\xa0", 32, NGX_ERROR, "U+00A0 no-break space alone" },
        { "a\xc2\xa0" "b", 32, NGX_OK, "U+00A0 between letters" },
        { "a \xc2\xa0" "b", 32, NGX_ERROR, "a space and U+00A0 in a row" },
        { "\xe3\x80\x80", 32, NGX_ERROR, "U+3000 ideographic space alone" },
        { "\xe2\xa0\x80", 32, NGX_ERROR, "U+2800 braille blank alone" },
        { "\xe2\x80\x8b", 32, NGX_ERROR, "U+200B zero width space alone" },
        { "a\xe2\x80\x8b" "b", 32, NGX_ERROR, "U+200B inside" },
        { "\xef\xbb\xbf" "bob", 32, NGX_ERROR, "U+FEFF first" },
        { "\xe2\x80\xae" "evil", 32, NGX_ERROR, "U+202E right-to-left "
          "override" },
        { "a\xe2\x81\xa6" "b", 32, NGX_ERROR, "U+2066 left-to-right "
          "isolate" },
        { "a\xe2\x80\x8f", 32, NGX_ERROR, "U+200F right-to-left mark" },
        { "a\xd8\x9c", 32, NGX_ERROR, "U+061C Arabic letter mark" },
        { "bo\xc2\xad" "b", 32, NGX_ERROR, "U+00AD soft hyphen" },
        { "a\xe2\x81\xa0" "b", 32, NGX_ERROR, "U+2060 word joiner" },
        { "\xe3\x85\xa4", 32, NGX_ERROR, "U+3164 Hangul filler" },
        { "a\xe2\x80\xa9" "b", 32, NGX_ERROR, "U+2029 paragraph "
          "separator" },
        { "a\xef\xbf\xbe", 32, NGX_ERROR, "U+FFFE, a noncharacter" },
        { "\xef\xbf\xbd", 32, NGX_OK, "U+FFFD, what a lone surrogate "
          "became" },
        { "e\xcc\x81", 32, NGX_ERROR, "e and a combining acute (NFD)" },
        { "\xc3\xa9", 32, NGX_OK, "the composed letter (NFC)" },
        { "\xe1\xba\xb9\xcc\x81", 32, NGX_OK, "U+1EB9 and a combining "
          "acute (Yoruba; no composed form)" },
        { "\xe1\xba\xb9\xcc\x81\xcc\x81\xcc\x81", 32, NGX_ERROR,
          "three combining marks in a row" },
        { "\xcc\x81" "a", 32, NGX_ERROR, "a combining mark first" },
        { "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", 32, NGX_OK,
          "woman, ZWJ, laptop (an emoji sequence)" },
        { "\xe2\x9d\xa4\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x94\xa5", 32,
          NGX_OK, "heart, VS16, ZWJ, fire" },
        { "a\xe2\x80\x8d" "b", 32, NGX_ERROR, "a ZWJ between letters" },
        { "\xf0\x9f\x91\xa9\xe2\x80\x8d", 32, NGX_ERROR, "a ZWJ last" },
        { "1\xef\xb8\x8f\xe2\x83\xa3", 32, NGX_OK, "keycap 1" },
        { "a\xef\xb8\x8f" "b", 32, NGX_ERROR, "VS16 after a letter" },
        { "\xef\xb8\x8f", 32, NGX_ERROR, "VS16 alone" },
        { "a\xef\xb8\x80", 32, NGX_ERROR, "VS1" },
        { "\xf0\x9f\x8f\xb4\xf3\xa0\x81\xa7\xf3\xa0\x81\xa2"
          "\xf3\xa0\x81\xbf", 32, NGX_OK, "a flag with tags" },
        { "a\xf3\xa0\x81\xa7", 32, NGX_ERROR, "a tag after a letter" },
        { "\xc2\xbf", 32, NGX_OK, "U+00BF" },
        { "\xc3\x80", 32, NGX_OK, "U+00C0 (80 after C3 is not C1)" },
        { "\xe2\x80\xa8", 32, NGX_ERROR, "U+2028 line separator" },
        { "x\xc2", 32, NGX_ERROR, "a cut C2 at the end is not read past" },
        { "x\xe2\x80", 32, NGX_ERROR, "a cut 3-byte sequence" },
        { "x\xc0\xaf", 32, NGX_ERROR, "an overlong sequence" },
        { "x\xed\xa0\x80", 32, NGX_ERROR, "an encoded surrogate" },
    };

    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t   len = strlen(cases[i].s);
        u_char  *copy;

        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, cases[i].s, len);
        is_int(ngx_noom_valid_name(copy, len, cases[i].max), cases[i].rc,
               "valid_name: %s: %s", cases[i].name,
               cases[i].rc == NGX_OK ? "accepted" : "refused");
        free(copy);
    }

    /* every C0 control, DEL and every C1 control, at the start, inside
     * and at the end */

    wrong = 0;

    for (c = 0; c < 0xa0; c++) {
        size_t  n;

        if (c >= 0x20 && c < 0x7f) {
            continue;
        }

        for (i = 0; i < 3; i++) {
            n = 0;

            if (i > 0) {
                buf[n++] = 'a';
            }

            if (c < 0x80) {
                buf[n++] = (char) c;

            } else {
                buf[n++] = (char) 0xc2;
                buf[n++] = (char) c;
            }

            if (i < 2) {
                buf[n++] = 'z';
            }

            if (ngx_noom_valid_name((u_char *) buf, n, 32) != NGX_ERROR) {
                if (wrong++ == 0) {
                    diag("U+%04X at %zu accepted", c, i);
                }
            }
        }
    }

    ok(wrong == 0, "every C0 control, DEL and every C1 control is refused");

    wrong = 0;

    for (c = 0x20; c < 0x7f; c++) {
        buf[0] = (char) c;

        if (ngx_noom_valid_name((u_char *) buf, 1, 1)
            != (c == ' ' ? NGX_ERROR : NGX_OK))
        {
            wrong++;
        }
    }

    ok(wrong == 0, "every printable ASCII character alone, except space");

    memset(buf, 'n', 64);
    sprintf(name, "64 bytes, limit 64");
    is_int(ngx_noom_valid_name((u_char *) buf, 64, 64), NGX_OK, "%s", name);
    is_int(ngx_noom_valid_name((u_char *) buf, 64, 63), NGX_ERROR,
           "64 bytes, limit 63");
    is_int(ngx_noom_valid_name((u_char *) buf, 1, 0), NGX_ERROR,
           "limit 0 refuses everything");
}


/*
 * ngx_noom_json_scan(), up to 4 elements; want: NULL for NGX_DECLINED, else
 * the elements as "<S|N|V><unescaped length of a string>[e]:<text>" joined
 * by " | "
 */

typedef struct {
    const char  *in;
    const char  *want;
} json_case_t;


static const json_case_t  json_cases[] = {

    { "[]", "" },
    { " [ ] \r\n", "" },
    { "[\"new_message\",\"hi\",\"r1\"]",
      "S11:\"new_message\" | S2:\"hi\" | S2:\"r1\"" },
    { "[ \"a\" ,\t\"b\"\n]", "S1:\"a\" | S1:\"b\"" },
    { "[\"\"]", "S0:\"\"" },
    { "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]",
      "S12e:\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"" },
    { "[\"d\xc3\xa9j\xc3\xa0\"]", "S6:\"d\xc3\xa9j\xc3\xa0\"" },
    { "[null,true,false,0,-0,-12,123456789012345678]",
      NULL },                               /* 7 elements: more than 4 */
    { "[null,true,false,-12]", "N:null | V:true | V:false | V:-12" },
    { "[123456789012345678]", "V:123456789012345678" },
    { "[-123456789012345678]", "V:-123456789012345678" },
    { "[{\"a\":{\"b\":[1,{}]},\"c\" : \"d\"},[]]",
      "V:{\"a\":{\"b\":[1,{}]},\"c\" : \"d\"} | V:[]" },
    { "[\"offer\",{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"},\"r\",null]",
      "S5:\"offer\" | V:{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"} | "
      "S1:\"r\" | N:null" },

    /* nesting: the event array is level 1 */
    { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "V:[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]" },
    { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      NULL },

    /* outside the subset: jansson's */
    { "[\"caf\\u00e9\"]", NULL },
    { "[1.5]", NULL },
    { "[1e3]", NULL },
    { "[1E3]", NULL },
    { "[1234567890123456789]", NULL },
    { "{\"a\":1}", NULL },
    { "\"a\"", NULL },
    { "", NULL },

    /* not JSON */
    { "[", NULL },
    { "[\"a\"", NULL },
    { "[\"a]", NULL },
    { "[\"a\",]", NULL },
    { "[,]", NULL },
    { "[]]", NULL },
    { "[] x", NULL },
    { "[01]", NULL },
    { "[-]", NULL },
    { "[+1]", NULL },
    { "[tru]", NULL },
    { "[truex]", NULL },
    { "[nul]", NULL },
    { "[\"a\\q\"]", NULL },
    { "[\"a\\\"]", NULL },
    { "[\"a\tb\"]", NULL },
    { "[{\"a\"}]", NULL },
    { "[{\"a\":}]", NULL },
    { "[{a:1}]", NULL },
    { "[{\"a\":1,}]", NULL },
    { "[{\"a\":1]", NULL },
    { "[[1}]", NULL },
    { "[1 2]", NULL },
};


static void
test_json_scan(void)
{
    char                 got[512], *g, *copy;
    size_t               i, len;
    ngx_int_t            rc;
    ngx_uint_t           n, k;
    ngx_noom_json_tok_t  tok[4];
    const json_case_t   *c;

    for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
        c = &json_cases[i];
        len = strlen(c->in);

        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, c->in, len);

        n = 0;
        rc = ngx_noom_json_scan((u_char *) copy, len, tok, 4, &n);

        g = got;
        *g = '\0';

        for (k = 0; rc == NGX_OK && k < n; k++) {
            g += sprintf(g, "%s%c", k ? " | " : "",
                         tok[k].type == NGX_NOOM_JSON_STRING ? 'S'
                         : tok[k].type == NGX_NOOM_JSON_NULL ? 'N' : 'V');

            if (tok[k].type == NGX_NOOM_JSON_STRING) {
                g += sprintf(g, "%zu%s", tok[k].slen,
                             tok[k].escaped ? "e" : "");
            }

            g += sprintf(g, ":%.*s", (int) tok[k].len,
                         (char *) tok[k].data);
        }

        if (c->want == NULL) {
            is_int(rc, NGX_DECLINED, "json_scan declines %s", c->in);

        } else {
            ok(rc == NGX_OK && strcmp(got, c->want) == 0,
               "json_scan %s", c->in);

            if (rc != NGX_OK || strcmp(got, c->want) != 0) {
                diag("rc %d, got '%s', want '%s'", (int) rc, got, c->want);
            }
        }

        free(copy);
    }
}


/*
 * Every byte value at every place of strings of 1 to 40 bytes: the scan
 * goes 16, 8 and 1 byte at a time, and each must find a '"', a '\\' or a
 * control character wherever it is.  A string with one such byte is
 * declined, or ends there ('"'); any other byte is plain.
 */

static void
test_json_scan_bytes(void)
{
    u_char               buf[64], *copy;
    size_t               len, at, bad;
    ngx_int_t            rc, want;
    ngx_uint_t           n, c;
    ngx_noom_json_tok_t  tok[4];

    bad = 0;

    for (len = 1; len <= 40; len++) {
        for (at = 0; at < len; at++) {
            for (c = 1; c < 256; c++) {
                buf[0] = '[';
                buf[1] = '"';
                memset(buf + 2, 'a', len);
                buf[2 + at] = (u_char) c;
                buf[2 + len] = '"';
                buf[3 + len] = ']';

                /* a '"' ends the string early: what follows is not JSON */
                want = (c < 0x20 || c == '"' || c == '\\') ? NGX_DECLINED
                                                           : NGX_OK;

                copy = malloc(len + 4);
                if (copy == NULL) {
                    abort();
                }

                memcpy(copy, buf, len + 4);

                n = 0;
                rc = ngx_noom_json_scan(copy, len + 4, tok, 4, &n);
                free(copy);

                if (rc != want
                    || (rc == NGX_OK
                        && (n != 1 || tok[0].slen != len
                            || tok[0].escaped)))
                {
                    if (bad++ < 5) {
                        diag("len %zu, byte 0x%02x at %zu: rc %d",
                             len, (unsigned) c, at, (int) rc);
                    }
                }
            }
        }
    }

    ok(bad == 0, "json_scan: every byte at every place of 1 to 40 bytes");
}


/*
 * ngx_noom_json_event_for(): ["<name>",<string>,"<room>"] written compactly.
 * Whatever it takes, ngx_noom_json_scan() reads as the same three elements;
 * whatever is not exactly that shape it leaves to the scan.
 */

typedef struct {
    const char  *in;
    const char  *room;
    const char  *want;                      /* the string's text, or NULL */
} event_case_t;


static const event_case_t  event_cases[] = {

    { "[\"new_message\",\"hi\",\"r1\"]", "r1", "\"hi\"" },
    { "[\"new_message\",\"\",\"r1\"]", "r1", "\"\"" },
    { "[\"new_message\",\"a\\\"b\\\\\",\"r1\"]", "r1", "\"a\\\"b\\\\\"" },
    { "[\"new_message\",\"\\\",\\\"r1\",\"r1\"]", "r1",
      "\"\\\",\\\"r1\"" },
    { "[\"new_message\",\"d\xc3\xa9j\xc3\xa0\",\"caf\xc3\xa9\"]",
      "caf\xc3\xa9", "\"d\xc3\xa9j\xc3\xa0\"" },
    { "[\"new_message\",\"0123456789abcdef0123456789\",\"room-x\"]",
      "room-x", "\"0123456789abcdef0123456789\"" },

    /* the text ends before the room: it is the scan's (and not JSON) */
    { "[\"new_message\",\"a\",\"r1\",\"r1\"]", "r1", NULL },
    { "[\"new_message\",\"a\"b\",\"r1\"]", "r1", NULL },

    /* another room, name or shape */
    { "[\"new_message\",\"hi\",\"r2\"]", "r1", NULL },
    { "[\"new_message\",\"hi\",\"R1\"]", "r1", NULL },
    { "[\"new_messagf\",\"hi\",\"r1\"]", "r1", NULL },
    { "[\"offer\",\"hi\",\"r1\"]", "r1", NULL },
    { "[\"new_message\", \"hi\",\"r1\"]", "r1", NULL },
    { "[\"new_message\",\"hi\" ,\"r1\"]", "r1", NULL },
    { "[\"new_message\",\"hi\",\"r1\"] ", "r1", NULL },
    { "[\"new_message\",\"hi\",\"r1\",null]", "r1", NULL },
    { "[\"new_message\",1,\"r1\"]", "r1", NULL },
    { "[\"new_message\",\"hi\",\"r1\"}", "r1", NULL },
    { "{\"new_message\",\"hi\",\"r1\"]", "r1", NULL },
    { "[\"new_message\",\"hi\"]", "r1", NULL },
    { "[\"new_message\"]", "r1", NULL },
    { "", "r1", NULL },

    /* strings outside the scan's subset */
    { "[\"new_message\",\"caf\\u00e9\",\"r1\"]", "r1", NULL },
    { "[\"new_message\",\"a\\q\",\"r1\"]", "r1", NULL },
    { "[\"new_message\",\"a\tb\",\"r1\"]", "r1", NULL },
    { "[\"new_message\",\"a\\\",\"r1\"]", "r1", NULL },

    /* a room that would need escapes is never compared as it is */
    { "[\"new_message\",\"hi\",\"a\\b\"]", "a\\b", NULL },
    { "[\"new_message\",\"hi\",\"a\"b\"]", "a\"b", NULL },
};


static ngx_int_t
event_for(const char *in, size_t len, const char *room,
    ngx_noom_json_tok_t *tok)
{
    u_char               *copy;
    ngx_int_t             rc;
    ngx_str_t             name;
    ngx_uint_t            n;
    ngx_noom_json_tok_t   all[4];

    ngx_str_set(&name, "new_message");

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    memcpy(copy, in, len);

    rc = ngx_noom_json_event_for(copy, len, &name, (u_char *) room,
                                 strlen(room), tok);

    /* what it takes, the scan reads as the same elements */

    if (rc == NGX_OK
        && (ngx_noom_json_scan(copy, len, all, 4, &n) != NGX_OK
            || n != 3
            || all[0].type != NGX_NOOM_JSON_STRING
            || all[0].len != name.len + 2
            || all[2].type != NGX_NOOM_JSON_STRING
            || all[2].escaped || all[2].slen != strlen(room)
            || memcmp(all[2].data + 1, room, all[2].slen) != 0
            || all[1].data != tok->data || all[1].len != tok->len
            || all[1].slen != tok->slen || all[1].type != tok->type
            || all[1].escaped != tok->escaped))
    {
        rc = NGX_ERROR;
    }

    if (rc == NGX_OK) {
        tok->data = (u_char *) in + (tok->data - copy);
    }

    free(copy);

    return rc;
}


static void
test_json_event_for(void)
{
    u_char               buf[96], room[24];
    size_t               i, len, at, bad;
    ngx_int_t            rc, want;
    ngx_uint_t           c;
    ngx_noom_json_tok_t  tok;
    const event_case_t  *e;

    for (i = 0; i < sizeof(event_cases) / sizeof(event_cases[0]); i++) {
        e = &event_cases[i];

        rc = event_for(e->in, strlen(e->in), e->room, &tok);

        if (e->want == NULL) {
            is_int(rc, NGX_DECLINED, "event_for declines %s", e->in);

        } else {
            ok(rc == NGX_OK && tok.len == strlen(e->want)
               && memcmp(tok.data, e->want, tok.len) == 0,
               "event_for %s", e->in);
        }
    }

    /* every byte at every place of the room and of the text */

    bad = 0;

    for (len = 1; len <= 20; len++) {
        for (at = 0; at < len; at++) {
            for (c = 1; c < 256; c++) {
                want = (c < 0x20 || c == '"' || c == '\\') ? NGX_DECLINED
                                                           : NGX_OK;

                /* the room: the text as it is in the event */

                memset(room, 'r', len);
                room[at] = (u_char) c;
                room[len] = '\0';

                i = sprintf((char *) buf, "[\"new_message\",\"hi\",\"%s\"]",
                            room);

                rc = event_for((char *) buf, i, (char *) room, &tok);

                if (rc != want && bad++ < 5) {
                    diag("room of %zu, byte 0x%02x at %zu: rc %d", len,
                         (unsigned) c, at, (int) rc);
                }

                /* the text */

                memset(room, 'a', len);
                room[at] = (u_char) c;
                room[len] = '\0';

                i = sprintf((char *) buf, "[\"new_message\",\"%s\",\"r\"]",
                            room);

                rc = event_for((char *) buf, i, "r", &tok);

                if ((rc != want || (rc == NGX_OK && tok.slen != len))
                    && bad++ < 5)
                {
                    diag("text of %zu, byte 0x%02x at %zu: rc %d", len,
                         (unsigned) c, at, (int) rc);
                }
            }
        }
    }

    ok(bad == 0, "event_for: every byte at every place of the room and "
       "the text");
}


static void
test_json_escape(void)
{
    u_char  out[64], *last;

    last = ngx_noom_json_escape(out, (u_char *) "Zo\xc3\xab \"Z\" \\", 10);
    is_mem(out, last - out, "Zo\xc3\xab \\\"Z\\\" \\\\", 13,
           "json_escape: quotes and backslashes");

    last = ngx_noom_json_escape(out, (u_char *) "a\nb\x01\x1f", 5);
    is_mem(out, last - out, "a\\u000ab\\u0001\\u001f", 20,
           "json_escape: control characters as \\u00XX");

    last = ngx_noom_json_escape(out, (u_char *) "x", 0);
    ok(last == out, "json_escape: nothing");
}


/*
 * ngx_noom_sio_decimal(), for ack ids and timestamps: every number below
 * a million, the numbers around each power of ten, the largest ones and
 * pseudo-random ones of every length, against snprintf().
 */

static void
test_decimal(void)
{
    char        want[32];
    u_char      out[32], *last;
    uint64_t    n, x, ten;
    ngx_uint_t  i, k, bad;

    bad = 0;
    x = 88172645463325252ULL;

    for (i = 0; i < 1000000 + 19 * 5 + 2 + 64 * 1000; i++) {

        if (i < 1000000) {
            n = i;

        } else if (i < 1000000 + 19 * 5) {
            k = (i - 1000000) / 5 + 1;

            for (ten = 1; k; k--) {
                ten *= 10;
            }

            n = ten + (i - 1000000) % 5 - 2;

        } else if (i < 1000000 + 19 * 5 + 2) {
            n = UINT64_MAX - (i - 1000000 - 19 * 5);

        } else {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            n = x >> (i % 64);
        }

        memset(out, 'x', sizeof(out));
        last = ngx_noom_sio_decimal(out, n);
        snprintf(want, sizeof(want), "%llu", (unsigned long long) n);

        if ((size_t) (last - out) != strlen(want)
            || memcmp(out, want, last - out) != 0
            || *last != 'x')
        {
            if (bad++ < 5) {
                diag("%s: %.*s", want, (int) (last - out), out);
            }
        }
    }

    ok(bad == 0, "sio_decimal: as snprintf(), no byte past its end");
}


static void
test_json_surrogates(void)
{
    static const struct {
        const char  *in;
        const char  *out;
        ngx_uint_t   n;
        const char  *name;
    } cases[] = {
        { "[\"a\\ud83d\"]", "[\"a\\ufffd\"]", 1, "a lone high surrogate" },
        { "[\"\\ude00b\"]", "[\"\\ufffdb\"]", 1, "a lone low surrogate" },
        { "[\"\\ud83d\\ude00\"]", "[\"\\ud83d\\ude00\"]", 0,
          "a pair stays" },
        { "[\"\\uD83D\\uDE00\"]", "[\"\\uD83D\\uDE00\"]", 0,
          "a pair in upper case stays" },
        { "[\"\\ude00\\ud83d\"]", "[\"\\ufffd\\ufffd\"]", 2,
          "low then high: both alone" },
        { "[\"\\ud83d\\ud83d\\ude00\"]",
          "[\"\\ufffd\\ud83d\\ude00\"]", 1,
          "two highs then a low: the first is alone" },
        { "[\"\\ud83d\\n\"]", "[\"\\ufffd\\n\"]", 1,
          "a high before another escape" },
        { "[\"\\\\ud83d\"]", "[\"\\\\ud83d\"]", 0,
          "an escaped backslash then ud83d: no escape" },
        { "[\"\\\"\\ud83d\"]", "[\"\\\"\\ufffd\"]", 1,
          "after an escaped quote, still in the string" },
        { "{\"k\\udbff\":1}", "{\"k\\ufffd\":1}", 1, "in an object key" },
        { "[1,\"x\"]\\ud83d", "[1,\"x\"]\\ud83d", 0,
          "outside a string: left for jansson" },
        { "[\"\\ud83", "[\"\\ud83", 0, "cut in the escape" },
        { "[\"\\ud83d\\ude0", "[\"\\ufffd\\ude0", 1,
          "a high before a cut low" },
        { "[\"\\u00e9\\u0000\"]", "[\"\\u00e9\\u0000\"]", 0,
          "other escapes stay" },
        { "[\"\\uzzzz\\ud800\"]", "[\"\\uzzzz\\ufffd\"]", 1,
          "after an invalid escape" },
        { "\\", "\\", 0, "a backslash at the end" },
        { "\"\\", "\"\\", 0, "a backslash at the end of a string" },
    };

    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t      len = strlen(cases[i].in);
        u_char     *copy;
        ngx_uint_t  n;

        copy = malloc(len ? len : 1);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, cases[i].in, len);
        n = ngx_noom_json_surrogates(copy, len);
        is_int(n, cases[i].n, "json_surrogates: %s: %u replaced",
               cases[i].name, (unsigned) cases[i].n);
        is_mem(copy, len, cases[i].out, strlen(cases[i].out),
               "json_surrogates: %s: the text", cases[i].name);
        free(copy);
    }
}


static void
test_fold_name(void)
{
    static const struct {
        const char  *in;
        const char  *out;
        const char  *name;
    } cases[] = {
        { "Team Blue", "team blue", "ASCII" },
        { "\xc3\x89quipe \xc3\x97 \xc3\x9f", "\xc3\xa9quipe \xc3\x97 \xc3\x9f",
          "Latin-1: \xc3\x89 folds, \xc3\x97 and \xc3\x9f stay" },
        { "\xce\x91\xce\x9f\xce\xa0\xce\xa9\xce\xa2",
          "\xce\xb1\xce\xbf\xcf\x80\xcf\x89\xce\xa2",
          "Greek: Alpha, Omicron, Pi, Omega; U+03A2 stays" },
        { "\xd0\x81\xd0\x90\xd0\x9f\xd0\xa0\xd0\xaf",
          "\xd1\x91\xd0\xb0\xd0\xbf\xd1\x80\xd1\x8f",
          "Cyrillic: Io, A, Pe, Er, Ya" },
        { "\xe6\x97\xa5X\xf0\x9f\x98\x80", "\xe6\x97\xa5x\xf0\x9f\x98\x80",
          "other scripts as they are" },
        { "A\xc3", "a\xc3", "a cut sequence at the end" },
    };

    size_t  i;
    u_char  out[64];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t   len = strlen(cases[i].in);
        u_char  *copy;

        copy = malloc(len);
        if (copy == NULL) {
            abort();
        }

        memcpy(copy, cases[i].in, len);
        ngx_noom_fold_name(out, copy, len);
        is_mem(out, len, cases[i].out, strlen(cases[i].out),
               "fold_name: %s", cases[i].name);
        ngx_noom_fold_name(copy, copy, len);
        is_mem(copy, len, cases[i].out, strlen(cases[i].out),
               "fold_name: %s, in place", cases[i].name);
        free(copy);
    }
}


int
main(void)
{
    test_sio();
    test_valid_name();
    test_json_scan();
    test_json_scan_bytes();
    test_json_event_for();
    test_json_escape();
    test_decimal();
    test_json_surrogates();
    test_fold_name();

    return done();
}
