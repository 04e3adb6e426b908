
/*
 * Copyright (C) noom authors
 *
 * libFuzzer target for ngx_noom_json_scan(), ngx_noom_json_event_for() and
 * ngx_noom_json_escape(), the JSON that new_message and the signaling
 * events read and write without jansson, checked against jansson itself on
 * every valid UTF-8 input (the WebSocket layer lets no other text through):
 *
 *   - when the scan accepts the input, jansson reads it as an array with
 *     the same number of elements, each element's text alone is that
 *     element, and a string's unescaped length and escape flag are right;
 *   - ngx_noom_json_event_for() agrees with the scan (below);
 *   - the line new_message builds, "<escaped nick>: <string's text>", is a
 *     string of the nickname, ": " and the string;
 *   - the escape of the input, between quotes, reads back as the input;
 *   - ngx_noom_json_surrogates() keeps the length, finds nothing the second
 *     time, changes nothing in a text jansson reads, and leaves no text
 *     that jansson refuses for an invalid Unicode escape.
 */


#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>

#include "ngx_noom_parse.h"
#include "utf8_ref.h"


#define check(cond, ...)                                                      \
    if (!(cond)) {                                                            \
        fprintf(stderr, "json_scan: " __VA_ARGS__);                          \
        fprintf(stderr, "\n");                                                \
        abort();                                                              \
    }


static json_t *
load(const void *p, size_t len)
{
    json_error_t  err;

    return json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
}


static void
surrogates(const uint8_t *data, size_t size, u_char *fixed)
{
    json_t        *before, *after;
    ngx_uint_t     n;
    json_error_t   err;

    memcpy(fixed, data, size);
    n = ngx_noom_json_surrogates(fixed, size);

    check(ngx_noom_json_surrogates(fixed, size) == 0,
          "surrogates: a second pass over '%.*s' still replaces", (int) size,
          data);
    check(n != 0 || memcmp(fixed, data, size) == 0,
          "surrogates: '%.*s' changed with nothing replaced", (int) size,
          data);

    before = load(data, size);
    after = json_loadb((char *) fixed, size,
                       JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);

    check(before == NULL || (after && json_equal(before, after)),
          "surrogates: '%.*s' read otherwise after", (int) size, data);
    check(after || strncmp(err.text, "invalid Unicode", 15) != 0,
          "surrogates: '%.*s' still refused: %s", (int) size, data,
          err.text);

    json_decref(before);
    json_decref(after);
}


/*
 * ngx_noom_json_event_for() takes ["<name>",<string>,"<room>"] written
 * compactly, and nothing else: with the scan's first and third elements as
 * name and room, it takes the input if and only if no byte lies between
 * the elements, and its string is the scan's second; with "new_message"
 * and "r1", whatever it takes the scan reads as those three.
 */

static void
event_for(u_char *copy, size_t size, ngx_int_t scan, ngx_noom_json_tok_t *tok,
    ngx_uint_t n)
{
    ngx_int_t             rc, compact;
    ngx_str_t             name;
    ngx_noom_json_tok_t   one;

    ngx_str_set(&name, "new_message");

    rc = ngx_noom_json_event_for(copy, size, &name, (u_char *) "r1", 2,
                                 &one);

    check(rc == NGX_DECLINED
          || (scan == NGX_OK && n == 3 && tok[0].len == 13
              && memcmp(tok[0].data, "\"new_message\"", 13) == 0
              && tok[2].len == 4 && memcmp(tok[2].data, "\"r1\"", 4) == 0
              && tok[1].data == one.data && tok[1].len == one.len),
          "event_for took '%.*s', which the scan reads otherwise",
          (int) size, copy);

    if (scan != NGX_OK || n != 3
        || tok[0].type != NGX_NOOM_JSON_STRING || tok[0].escaped
        || tok[2].type != NGX_NOOM_JSON_STRING || tok[2].escaped)
    {
        return;
    }

    compact = tok[0].data == copy + 1
              && tok[1].type == NGX_NOOM_JSON_STRING
              && tok[1].data == tok[0].data + tok[0].len + 1
              && tok[2].data == tok[1].data + tok[1].len + 1
              && tok[2].data + tok[2].len == copy + size - 1;

    name.data = tok[0].data + 1;
    name.len = tok[0].slen;

    rc = ngx_noom_json_event_for(copy, size, &name, tok[2].data + 1,
                                 tok[2].slen, &one);

    check(rc == (compact ? NGX_OK : NGX_DECLINED),
          "event_for of '%.*s': %d, compact %d", (int) size, copy, (int) rc,
          (int) compact);

    check(rc != NGX_OK
          || (one.data == tok[1].data && one.len == tok[1].len
              && one.slen == tok[1].slen && one.escaped == tok[1].escaped),
          "event_for of '%.*s' read another string", (int) size, copy);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char               *copy, *line, *p;
    json_t               *all, *one, *want;
    size_t                k;
    ngx_int_t             rc;
    ngx_uint_t            n;
    ngx_noom_json_tok_t   tok[4];

    if (!utf8_ref(data, size).complete) {
        return 0;
    }

    copy = malloc(size ? size : 1);
    line = malloc(7 * size + 8);
    if (copy == NULL || line == NULL) {
        abort();
    }

    memcpy(copy, data, size);

    /* the escape reads back as the input */

    p = line;
    *p++ = '"';
    p = ngx_noom_json_escape(p, copy, size);
    *p++ = '"';

    one = load(line, p - line);
    check(one && json_is_string(one) && json_string_length(one) == size
          && memcmp(json_string_value(one), data, size) == 0,
          "the escape of '%.*s' does not read back", (int) size, data);
    json_decref(one);

    surrogates(data, size, copy);

    memcpy(copy, data, size);
    rc = ngx_noom_json_scan(copy, size, tok, 4, &n);

    check(rc == NGX_OK || rc == NGX_DECLINED, "returned %d", (int) rc);

    event_for(copy, size, rc, tok, n);

    if (rc == NGX_DECLINED) {
        goto done;
    }

    all = load(data, size);
    check(all && json_is_array(all) && json_array_size(all) == n,
          "accepted '%.*s', which jansson reads otherwise", (int) size, data);

    for (k = 0; k < n; k++) {
        check(tok[k].data >= copy && tok[k].len > 0
              && tok[k].data + tok[k].len <= copy + size,
              "element %zu is outside the input", k);

        one = load(tok[k].data, tok[k].len);
        want = json_array_get(all, k);

        check(one && json_equal(one, want),
              "element %zu '%.*s' of '%.*s' is not what jansson read", k,
              (int) tok[k].len, tok[k].data, (int) size, data);

        check((tok[k].type == NGX_NOOM_JSON_STRING) == json_is_string(want)
              && (tok[k].type == NGX_NOOM_JSON_NULL) == json_is_null(want),
              "element %zu of '%.*s' has the wrong type", k, (int) size,
              data);

        if (tok[k].type == NGX_NOOM_JSON_STRING) {
            check(tok[k].slen == json_string_length(want)
                  && tok[k].escaped
                     == (memchr(tok[k].data, '\\', tok[k].len) != NULL),
                  "string %zu of '%.*s': length %zu, escaped %d", k,
                  (int) size, data, tok[k].slen, (int) tok[k].escaped);

            /* new_message's line, with the string as the nickname too */

            p = line;
            *p++ = '"';
            p = ngx_noom_json_escape(p, (u_char *) json_string_value(want),
                                     tok[k].slen);
            *p++ = ':';
            *p++ = ' ';
            p = ngx_cpymem(p, tok[k].data + 1, tok[k].len - 2);
            *p++ = '"';

            json_decref(one);
            one = load(line, p - line);

            check(one && json_is_string(one)
                  && json_string_length(one) == 2 * tok[k].slen + 2
                  && memcmp(json_string_value(one), json_string_value(want),
                            tok[k].slen) == 0
                  && memcmp(json_string_value(one) + tok[k].slen, ": ", 2)
                     == 0
                  && memcmp(json_string_value(one) + tok[k].slen + 2,
                            json_string_value(want), tok[k].slen) == 0,
                  "the line of string %zu of '%.*s'", k, (int) size, data);
        }

        json_decref(one);
    }

    json_decref(all);

done:

    free(copy);
    free(line);

    return 0;
}
