
/*
 * Copyright (C) noom authors
 *
 * Socket.IO v5 packet prefix: <type>[<attachments>-][<nsp>,][<ack id>]<json>,
 * the checks on names people choose, and a scan of the JSON subset that the
 * hot events use.  All other JSON goes to jansson.
 */


#include "ngx_noom_parse.h"


#define NGX_NOOM_ONES         0x0101010101010101ULL


static u_char *ngx_noom_json_value(u_char *first, u_char *p, u_char *last,
    ngx_uint_t depth, ngx_noom_json_tok_t *tok);
static ngx_inline ngx_uint_t ngx_noom_json_plain8(u_char *p);
#if (NGX_NOOM_SSE2)
static ngx_inline int ngx_noom_json_special16(__m128i v);
static ngx_inline ngx_int_t ngx_noom_json_plain16(u_char *first,
    u_char **pos, u_char *last);
#endif
static u_char *ngx_noom_json_string(u_char *first, u_char *p, u_char *last,
    ngx_noom_json_tok_t *tok);
static u_char *ngx_noom_json_string_from(u_char *first, u_char *start,
    u_char *p, u_char *last, ngx_noom_json_tok_t *tok);
static u_char *ngx_noom_json_space(u_char *p, u_char *last);
static ngx_int_t ngx_noom_json_hex4(u_char *p);
static uint32_t ngx_noom_name_decode(u_char **pos, u_char *last);
static ngx_uint_t ngx_noom_name_class(uint32_t c);
static ngx_uint_t ngx_noom_name_latin(uint32_t c);
static ngx_uint_t ngx_noom_name_pictograph(uint32_t c);
static ngx_uint_t ngx_noom_name_emoji_base(uint32_t c);


ngx_int_t
ngx_noom_sio_parse(u_char *p, size_t len, ngx_noom_sio_packet_t *pkt)
{
    u_char      *last, *start;
    int64_t      ack;
    ngx_uint_t   n;

    ngx_memzero(pkt, sizeof(ngx_noom_sio_packet_t));

    pkt->ack = NGX_NOOM_SIO_NO_ACK;
    ngx_str_set(&pkt->nsp, "/");

    if (len == 0 || p[0] < '0' || p[0] > '6') {
        return NGX_ERROR;
    }

    last = p + len;
    pkt->type = p[0] - '0';
    p++;

    if (pkt->type == NGX_NOOM_SIO_BINARY_EVENT
        || pkt->type == NGX_NOOM_SIO_BINARY_ACK)
    {
        n = 0;
        start = p;

        while (p < last && *p >= '0' && *p <= '9') {
            if (p - start == 3) {
                return NGX_ERROR;
            }

            n = n * 10 + (*p++ - '0');
        }

        if (p == start || p == last || *p != '-') {
            return NGX_ERROR;
        }

        pkt->attachments = n;
        p++;
    }

    if (p < last && *p == '/') {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        pkt->nsp.data = start;
        pkt->nsp.len = p - start;

        if (p < last) {
            p++;
        }
    }

    if (p < last && *p >= '0' && *p <= '9') {
        ack = 0;
        start = p;

        while (p < last && *p >= '0' && *p <= '9') {
            if (p - start == NGX_NOOM_SIO_MAX_ACK_DIGITS) {
                return NGX_ERROR;
            }

            ack = ack * 10 + (*p++ - '0');
        }

        pkt->ack = ack;
    }

    pkt->data = p;
    pkt->len = last - p;

    return NGX_OK;
}


/*
 * A nickname or a room name: what people see of each other, so nothing in
 * it may hide or pretend.  1 to max bytes of UTF-8 (the WebSocket layer has
 * checked the encoding; broken sequences are refused here all the same),
 * and, read as code points:
 *
 *   - no C0 or C1 control, no DEL, no bidirectional control (U+061C,
 *     U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), no invisible format
 *     character (U+00AD, U+034F, U+115F, U+1160, U+17B4, U+17B5,
 *     U+180B-U+180F, U+200B, U+200C, U+2028-U+2029, U+2060-U+2064,
 *     U+206A-U+206F, U+3164, U+FEFF, U+FFA0, U+FFF0-U+FFFB, U+1BCA0-U+1BCA3,
 *     U+1D173-U+1D17A, the tags outside a flag), no noncharacter;
 *   - U+200D (zero width joiner) only between two pictographs, and the
 *     variation selectors U+FE0E, U+FE0F only after a character that has an
 *     emoji form: emoji sequences stay possible, hidden joiners do not;
 *   - spaces (U+0020, U+00A0, U+1680, U+2000-U+200A, U+202F, U+205F,
 *     U+2800, U+3000) neither first, nor last, nor two in a row;
 *   - no combining accent (U+0300-U+036F) right after a Latin letter of
 *     U+0041-U+00FF, the decomposed form of a letter that has a composed one
 *     (keyboards send the composed one), and at most two combining marks
 *     in a row;
 *   - something visible: a code point that is no space, mark, joiner or
 *     selector.
 */

#define NGX_NOOM_NAME_OTHER   0
#define NGX_NOOM_NAME_SPACE   1
#define NGX_NOOM_NAME_MARK    2
#define NGX_NOOM_NAME_ZWJ     3
#define NGX_NOOM_NAME_VS      4
#define NGX_NOOM_NAME_TAG     5
#define NGX_NOOM_NAME_BAD     6

ngx_int_t
ngx_noom_valid_name(u_char *p, size_t len, size_t max)
{
    u_char      *last;
    uint32_t     c, prev;
    ngx_uint_t   cls, pcls, visible, marks;

    if (len == 0 || len > max) {
        return NGX_ERROR;
    }

    last = p + len;
    prev = 0;
    pcls = NGX_NOOM_NAME_SPACE;
    visible = 0;
    marks = 0;

    while (p < last) {

        c = ngx_noom_name_decode(&p, last);
        cls = ngx_noom_name_class(c);

        switch (cls) {

        case NGX_NOOM_NAME_BAD:
            return NGX_ERROR;

        case NGX_NOOM_NAME_SPACE:
            if (pcls == NGX_NOOM_NAME_SPACE) {
                return NGX_ERROR;
            }
            break;

        case NGX_NOOM_NAME_MARK:
            if (prev == 0 || pcls == NGX_NOOM_NAME_SPACE || ++marks > 2
                || (c <= 0x036f && prev >= 0x41 && prev <= 0xff
                    && ngx_noom_name_latin(prev)))
            {
                return NGX_ERROR;
            }
            break;

        case NGX_NOOM_NAME_ZWJ:
            if (!ngx_noom_name_pictograph(prev) && prev != 0xfe0f) {
                return NGX_ERROR;
            }
            break;

        case NGX_NOOM_NAME_VS:
            if (!ngx_noom_name_emoji_base(prev)) {
                return NGX_ERROR;
            }
            break;

        case NGX_NOOM_NAME_TAG:
            if (prev != 0x1f3f4 && pcls != NGX_NOOM_NAME_TAG) {
                return NGX_ERROR;
            }
            break;

        default: /* NGX_NOOM_NAME_OTHER */
            visible = 1;
        }

        if (pcls == NGX_NOOM_NAME_ZWJ && !ngx_noom_name_pictograph(c)) {
            return NGX_ERROR;
        }

        if (cls != NGX_NOOM_NAME_MARK) {
            marks = 0;
        }

        prev = c;
        pcls = cls;
    }

    if (pcls == NGX_NOOM_NAME_SPACE || pcls == NGX_NOOM_NAME_ZWJ) {
        return NGX_ERROR;
    }

    return visible ? NGX_OK : NGX_ERROR;
}


/* the next code point; 0xffffffff for a broken sequence */

static uint32_t
ngx_noom_name_decode(u_char **pos, u_char *last)
{
    u_char      *p;
    uint32_t     c;
    ngx_uint_t   n, i;

    p = *pos;
    c = *p++;

    if (c < 0x80) {
        *pos = p;
        return c;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        c &= 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        c &= 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        c &= 0x07;

    } else {
        *pos = p;
        return 0xffffffff;
    }

    for (i = 0; i < n; i++) {
        if (p == last || (*p & 0xc0) != 0x80) {
            *pos = p;
            return 0xffffffff;
        }

        c = (c << 6) | (*p++ & 0x3f);
    }

    *pos = p;

    if ((n == 2 && c < 0x800) || (n == 3 && (c < 0x10000 || c > 0x10ffff))
        || (c >= 0xd800 && c <= 0xdfff))
    {
        return 0xffffffff;
    }

    return c;
}


static ngx_uint_t
ngx_noom_name_class(uint32_t c)
{
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
        return NGX_NOOM_NAME_BAD;
    }

    if (c < 0x7f) {
        return (c == ' ') ? NGX_NOOM_NAME_SPACE : NGX_NOOM_NAME_OTHER;
    }

    if (c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a)
        || c == 0x202f || c == 0x205f || c == 0x2800 || c == 0x3000)
    {
        return NGX_NOOM_NAME_SPACE;
    }

    if ((c >= 0x0300 && c <= 0x036f) || (c >= 0x1ab0 && c <= 0x1aff)
        || (c >= 0x1dc0 && c <= 0x1dff) || (c >= 0x20d0 && c <= 0x20ff)
        || (c >= 0xfe20 && c <= 0xfe2f))
    {
        return NGX_NOOM_NAME_MARK;
    }

    if (c == 0x200d) {
        return NGX_NOOM_NAME_ZWJ;
    }

    if (c == 0xfe0e || c == 0xfe0f) {
        return NGX_NOOM_NAME_VS;
    }

    if (c >= 0xe0020 && c <= 0xe007f) {
        return NGX_NOOM_NAME_TAG;
    }

    if (c == 0xad || c == 0x034f || c == 0x061c || c == 0x115f
        || c == 0x1160 || c == 0x17b4 || c == 0x17b5
        || (c >= 0x180b && c <= 0x180f)
        || (c >= 0x200b && c <= 0x200f)
        || (c >= 0x2028 && c <= 0x202e)
        || (c >= 0x2060 && c <= 0x206f)
        || c == 0x3164
        || (c >= 0xfe00 && c <= 0xfe0f)
        || c == 0xfeff || c == 0xffa0
        || (c >= 0xfff0 && c <= 0xfffb)
        || (c >= 0xfdd0 && c <= 0xfdef)
        || (c & 0xfffe) == 0xfffe
        || (c >= 0x1bca0 && c <= 0x1bca3)
        || (c >= 0x1d173 && c <= 0x1d17a)
        || (c >= 0xe0000 && c <= 0xe0fff)
        || c > 0x10ffff)
    {
        return NGX_NOOM_NAME_BAD;
    }

    return NGX_NOOM_NAME_OTHER;
}


static ngx_uint_t
ngx_noom_name_latin(uint32_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= 0xc0 && c <= 0xff && c != 0xd7 && c != 0xf7);
}


static ngx_uint_t
ngx_noom_name_pictograph(uint32_t c)
{
    return (c >= 0x2300 && c <= 0x23ff) || (c >= 0x2600 && c <= 0x27bf)
           || (c >= 0x2b00 && c <= 0x2bff) || (c >= 0x1f000 && c <= 0x1faff);
}


/* a character that has an emoji and a text form (and the keycap bases) */

static ngx_uint_t
ngx_noom_name_emoji_base(uint32_t c)
{
    return ngx_noom_name_pictograph(c)
           || c == '#' || c == '*' || (c >= '0' && c <= '9')
           || c == 0xa9 || c == 0xae || c == 0x203c || c == 0x2049
           || c == 0x2122 || c == 0x2139 || (c >= 0x2194 && c <= 0x21aa)
           || c == 0x24c2 || c == 0x25aa || c == 0x25ab || c == 0x25b6
           || c == 0x25c0 || (c >= 0x25fb && c <= 0x25fe)
           || c == 0x3030 || c == 0x303d || c == 0x3297 || c == 0x3299;
}


/*
 * Room names are compared without case: the lobby must not show "Team" and
 * "team" as two rooms.  The fold maps capitals to small letters in ASCII,
 * Latin-1, Greek and Cyrillic, where each pair has the same UTF-8 length,
 * so a name keeps its length; other scripts are compared as they are.
 * dst may be src.
 */

void
ngx_noom_fold_name(u_char *dst, u_char *src, size_t len)
{
    u_char  *last;

    for (last = src + len; src < last; src++, dst++) {

        if (*src >= 'A' && *src <= 'Z') {
            *dst = *src | 0x20;
            continue;
        }

        *dst = *src;

        if (last - src < 2) {
            continue;
        }

        if (*src == 0xc3 && src[1] >= 0x80 && src[1] <= 0x9e
            && src[1] != 0x97)
        {
            /* U+00C0-U+00DE but U+00D7: +0x20 */
            *++dst = *++src + 0x20;

        } else if (*src == 0xce && ((src[1] >= 0x91 && src[1] <= 0x9f)
                                    || (src[1] >= 0xa0 && src[1] <= 0xa9
                                        && src[1] != 0xa2)))
        {
            /* U+0391-U+03A9 but U+03A2: +0x20 */
            if (src[1] <= 0x9f) {
                *++dst = *++src + 0x20;

            } else {
                *dst = 0xcf;
                *++dst = *++src - 0x20;
            }

        } else if (*src == 0xd0 && src[1] >= 0x80 && src[1] <= 0xaf) {
            /* U+0400-U+040F: +0x50, U+0410-U+042F: +0x20 */
            if (src[1] <= 0x8f) {
                *dst = 0xd1;
                *++dst = *++src + 0x10;

            } else if (src[1] <= 0x9f) {
                *++dst = *++src + 0x20;

            } else {
                *dst = 0xd1;
                *++dst = *++src - 0x20;
            }

        } else if (*src >= 0xc0) {
            /* the rest of a sequence is copied as it is */
            continue;
        }
    }
}


/*
 * ["<name>",<string>,"<room>"] as JSON.stringify() writes an event of a
 * string for a room, nothing between the tokens: name and room are
 * compared whole, and only the string is scanned.  Neither name nor room
 * may hold '"', '\\' or a control character.  NGX_OK: ngx_noom_json_scan()
 * would read these three elements, and *tok is the second; NGX_DECLINED:
 * anything else, which is then ngx_noom_json_scan()'s to read.
 */

ngx_int_t
ngx_noom_json_event_for(u_char *p, size_t len, ngx_str_t *name,
    u_char *room, size_t room_len, ngx_noom_json_tok_t *tok)
{
    u_char  *last, *q, *r, *s;

    /* ["<name>","<string>","<room>"]: 10 bytes and the two names */

    if (len < name->len + room_len + 10) {
        return NGX_DECLINED;
    }

    last = p + len;
    s = p + name->len + 4;
    q = last - room_len - 5;

    if (p[0] != '[' || p[1] != '"' || s[-2] != '"' || s[-1] != ','
        || s[0] != '"' || q[0] != '"' || q[1] != ',' || q[2] != '"'
        || last[-2] != '"' || last[-1] != ']'
        || ngx_memcmp(p + 2, name->data, name->len) != 0
        || ngx_memcmp(q + 3, room, room_len) != 0)
    {
        return NGX_DECLINED;
    }

    /* the room as it is in the text: a string with nothing to escape */

    r = q + 3;

#if (NGX_NOOM_SSE2)
    if (ngx_noom_json_plain16(p, &r, last - 2) == NGX_OK) {
        return NGX_DECLINED;
    }
#endif

    for ( /* void */ ; r < last - 2; r++) {
        if (*r == '"' || *r == '\\' || *r < 0x20) {
            return NGX_DECLINED;
        }
    }

    /* the string must close at q: a quote before it would end it early */

    if (ngx_noom_json_string(p, s, last, tok) != q + 1) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * An event's JSON when it is an array of at most max elements in a subset
 * of JSON: strings without \u escapes, integers of at most 18 digits, true,
 * false, null, and objects and arrays of those at most
 * NGX_NOOM_JSON_MAX_DEPTH deep.  The text must be valid UTF-8 (the WebSocket
 * layer has checked it).  NGX_OK: jansson would read the same array, and
 * tok[0..n-1] are its elements as they are in the text.  NGX_DECLINED:
 * anything else, valid JSON or not, which is then jansson's to read.
 */

ngx_int_t
ngx_noom_json_scan(u_char *p, size_t len, ngx_noom_json_tok_t *tok,
    ngx_uint_t max, ngx_uint_t *n)
{
    u_char      *first, *last;
    ngx_uint_t   i;

    first = p;
    last = p + len;
    i = 0;

    p = ngx_noom_json_space(p, last);

    if (p == last || *p != '[') {
        return NGX_DECLINED;
    }

    p = ngx_noom_json_space(p + 1, last);

    if (p < last && *p == ']') {
        p++;
        goto done;
    }

    for ( ;; ) {
        if (i == max) {
            return NGX_DECLINED;
        }

        p = ngx_noom_json_value(first, p, last, 2, &tok[i]);
        if (p == NULL) {
            return NGX_DECLINED;
        }

        i++;

        p = ngx_noom_json_space(p, last);

        if (p == last) {
            return NGX_DECLINED;
        }

        if (*p == ']') {
            p++;
            break;
        }

        if (*p != ',') {
            return NGX_DECLINED;
        }

        p = ngx_noom_json_space(p + 1, last);
    }

done:

    if (ngx_noom_json_space(p, last) != last) {
        return NGX_DECLINED;
    }

    *n = i;

    return NGX_OK;
}


static u_char *
ngx_noom_json_value(u_char *first, u_char *p, u_char *last, ngx_uint_t depth,
    ngx_noom_json_tok_t *tok)
{
    u_char               *start;
    u_char                close;
    ngx_uint_t            digits;
    ngx_noom_json_tok_t   key;

    if (p == last) {
        return NULL;
    }

    start = p;
    tok->data = p;
    tok->type = NGX_NOOM_JSON_VALUE;

    switch (*p) {

    case '"':
        return ngx_noom_json_string(first, p, last, tok);

    case '{':
    case '[':
        if (depth > NGX_NOOM_JSON_MAX_DEPTH) {
            return NULL;
        }

        close = (*p == '{') ? '}' : ']';
        p = ngx_noom_json_space(p + 1, last);

        if (p < last && *p == close) {
            p++;
            break;
        }

        for ( ;; ) {
            if (close == '}') {
                if (p == last || *p != '"') {
                    return NULL;
                }

                p = ngx_noom_json_string(first, p, last, &key);
                if (p == NULL) {
                    return NULL;
                }

                p = ngx_noom_json_space(p, last);

                if (p == last || *p != ':') {
                    return NULL;
                }

                p = ngx_noom_json_space(p + 1, last);
            }

            p = ngx_noom_json_value(first, p, last, depth + 1, &key);
            if (p == NULL) {
                return NULL;
            }

            p = ngx_noom_json_space(p, last);

            if (p == last) {
                return NULL;
            }

            if (*p == close) {
                p++;
                break;
            }

            if (*p != ',') {
                return NULL;
            }

            p = ngx_noom_json_space(p + 1, last);
        }

        break;

    case 't':
    case 'f':
    case 'n':
        if (last - p >= 4 && ngx_strncmp(p, "true", 4) == 0) {
            p += 4;

        } else if (last - p >= 5 && ngx_strncmp(p, "false", 5) == 0) {
            p += 5;

        } else if (last - p >= 4 && ngx_strncmp(p, "null", 4) == 0) {
            tok->type = NGX_NOOM_JSON_NULL;
            p += 4;

        } else {
            return NULL;
        }

        if (p < last && ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')) {
            return NULL;
        }

        break;

    default:
        /* -?(0|[1-9][0-9]*), 18 digits at most: jansson's json_int_t */

        if (*p == '-') {
            p++;
        }

        digits = 0;

        while (p < last && *p >= '0' && *p <= '9') {
            if (digits == 18 || (digits == 1 && p[-1] == '0')) {
                return NULL;
            }

            digits++;
            p++;
        }

        if (digits == 0
            || (p < last && (*p == '.' || *p == 'e' || *p == 'E')))
        {
            return NULL;
        }
    }

    tok->len = p - start;

    return p;
}


/*
 * None of the 8 bytes at p is '"', '\\' or a control character: a byte
 * of a word is 0 after (v - 0x01..01) & ~v & 0x80..80 is 0 only if no
 * byte of v is zero (or, with 0x20..20, below 0x20); exact as a whole.
 */

static ngx_inline ngx_uint_t
ngx_noom_json_plain8(u_char *p)
{
    uint64_t  w, q, b;

    ngx_memcpy(&w, p, 8);

    q = w ^ (NGX_NOOM_ONES * '"');
    b = w ^ (NGX_NOOM_ONES * '\\');

    return ((((q - NGX_NOOM_ONES) & ~q)
             | ((b - NGX_NOOM_ONES) & ~b)
             | ((w - NGX_NOOM_ONES * 0x20) & ~w))
            & (NGX_NOOM_ONES * 0x80)) == 0;
}


#if (NGX_NOOM_SSE2)

/* a bit for each of 16 bytes that is '"', '\\' or a control character */

static ngx_inline int
ngx_noom_json_special16(__m128i v)
{
    /* a byte at most 0x1f is its own unsigned minimum with 0x1f */

    return _mm_movemask_epi8(
               _mm_or_si128(
                   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                   _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v)));
}


/*
 * NGX_OK: *p is moved to the first '"', '\\' or control character found
 * 16 bytes at a time; else to where fewer than 16 are left, or to last
 * when the buffer, which starts at first, holds 16 bytes before last: the
 * last ones are then read with those before them.
 */

static ngx_inline ngx_int_t
ngx_noom_json_plain16(u_char *first, u_char **pos, u_char *last)
{
    int       mask;
    u_char   *p;
    __m128i   v;

    for (p = *pos; last - p >= 16; p += 16) {
        v = _mm_loadu_si128((__m128i *) p);
        mask = ngx_noom_json_special16(v);

        if (mask) {
            *pos = p + __builtin_ctz(mask);
            return NGX_OK;
        }
    }

    if (p < last && last - first >= 16) {
        v = _mm_loadu_si128((__m128i *) (last - 16));
        mask = ngx_noom_json_special16(v) >> (16 - (last - p));

        if (mask) {
            *pos = p + __builtin_ctz(mask);
            return NGX_OK;
        }

        p = last;
    }

    *pos = p;

    return NGX_DECLINED;
}

#endif


/*
 * A string token from its opening quote at p.  Most are plain to their
 * closing quote, which 16 bytes at a time find with nothing else to keep;
 * the rest go on where that stopped.
 */

static u_char *
ngx_noom_json_string(u_char *first, u_char *p, u_char *last,
    ngx_noom_json_tok_t *tok)
{
#if (NGX_NOOM_SSE2)
    u_char  *q;

    q = p + 1;

    if (ngx_noom_json_plain16(first, &q, last) == NGX_OK && *q == '"') {
        tok->data = p;
        tok->len = q + 1 - p;
        tok->slen = tok->len - 2;
        tok->type = NGX_NOOM_JSON_STRING;
        tok->escaped = 0;

        return q + 1;
    }

    return ngx_noom_json_string_from(first, p, q, last, tok);
#else
    return ngx_noom_json_string_from(first, p, p + 1, last, tok);
#endif
}


/* the rest of a string token that opens at start, plain up to p */

static u_char *
ngx_noom_json_string_from(u_char *first, u_char *start, u_char *p,
    u_char *last, ngx_noom_json_tok_t *tok)
{
    u_char  *end;
    size_t   escapes;

    escapes = 0;

    while (p < last) {

        /* a chat line is mostly plain bytes: 16 or 8 at a time */

#if (NGX_NOOM_SSE2)
        if (ngx_noom_json_plain16(first, &p, last) != NGX_OK)
#endif
        {
            while (last - p >= 8 && ngx_noom_json_plain8(p)) {
                p += 8;
            }
        }

        /* then the word that is not, byte by byte */

        end = ngx_min(p + 8, last);

        for ( /* void */ ; p < end; p++) {

            if (*p == '"') {
                tok->data = start;
                tok->len = p + 1 - start;
                tok->slen = tok->len - 2 - escapes;
                tok->type = NGX_NOOM_JSON_STRING;
                tok->escaped = (escapes != 0);

                return p + 1;
            }

            if (*p < 0x20) {
                return NULL;
            }

            if (*p == '\\') {
                if (last - p < 2) {
                    return NULL;
                }

                switch (p[1]) {
                case '"':
                case '\\':
                case '/':
                case 'b':
                case 'f':
                case 'n':
                case 'r':
                case 't':
                    break;
                default:
                    /* \u and anything invalid */
                    return NULL;
                }

                escapes++;
                p++;
            }
        }
    }

    return NULL;
}


static u_char *
ngx_noom_json_space(u_char *p, u_char *last)
{
    /* compact JSON, as clients send it: no space at all */

    if (p < last && *p > ' ') {
        return p;
    }

    while (p < last
           && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    {
        p++;
    }

    return p;
}


/*
 * A string's bytes as JSON string content: '"' and '\\' escaped, control
 * characters as \u00XX.  dst holds 6 * len bytes at most.
 */

u_char *
ngx_noom_json_escape(u_char *dst, u_char *src, size_t len)
{
    u_char  *last;

    static u_char  hex[] = "0123456789abcdef";

    for (last = src + len; src < last; src++) {

        if (*src == '"' || *src == '\\') {
            *dst++ = '\\';
            *dst++ = *src;

        } else if (*src < 0x20) {
            dst = ngx_cpymem(dst, "\\u00", 4);
            *dst++ = hex[*src >> 4];
            *dst++ = hex[*src & 0xf];

        } else {
            *dst++ = *src;
        }
    }

    return dst;
}


/*
 * n in decimal: "%uL" of ngx_sprintf(), without reading a format.  Its
 * length first, then the digits straight to their place, two at a time
 * from a table: written into a buffer and copied, they were read back as
 * a word before their bytes were stored.
 */

u_char *
ngx_noom_sio_decimal(u_char *p, uint64_t n)
{
    u_char      *q, *last;
    uint64_t     x;
    ngx_uint_t   d;

    static u_char  pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";

    for (last = p + 1, x = n; x >= 10000; x /= 10000) {
        last += 4;
    }

    last += (x >= 1000) ? 3 : (x >= 100) ? 2 : (x >= 10) ? 1 : 0;

    /* an odd count of digits leaves one, a first digit, in n */

    for (q = last; n >= 10; n /= 100) {
        d = (ngx_uint_t) (n % 100) * 2;
        *--q = pairs[d + 1];
        *--q = pairs[d];
    }

    if (q > p) {
        *--q = (u_char) ('0' + n);
    }

    return last;
}


/*
 * Lone UTF-16 surrogate escapes in the strings of a JSON text become
 * "\ufffd", in place (six bytes for six bytes): a high surrogate escape not
 * followed by a low one, and a low one not preceded by a high one.
 * Browsers produce them when a string is cut inside a pair (slice()), and
 * jansson refuses them, which used to close the connection; U+FFFD is what
 * a browser's own decoders put in their place.  Text outside strings and
 * anything that is not JSON are left as they are, for the JSON parser to
 * judge.  Returns how many escapes were replaced.
 */

ngx_uint_t
ngx_noom_json_surrogates(u_char *p, size_t len)
{
    u_char      *last;
    ngx_int_t    c, lo;
    ngx_uint_t   n, in;

    n = 0;
    in = 0;
    last = p + len;

    while (p < last) {

        if (!in || *p == '"') {
            in ^= (*p == '"');
            p++;
            continue;
        }

        if (*p != '\\') {
            p++;
            continue;
        }

        if (last - p < 6 || p[1] != 'u') {
            p += (last - p < 2) ? 1 : 2;
            continue;
        }

        c = ngx_noom_json_hex4(p + 2);

        if (c < 0xd800 || c > 0xdfff) {
            p += (c < 0) ? 2 : 6;
            continue;
        }

        if (c <= 0xdbff && last - p >= 12 && p[6] == '\\' && p[7] == 'u') {
            lo = ngx_noom_json_hex4(p + 8);

            if (lo >= 0xdc00 && lo <= 0xdfff) {
                p += 12;
                continue;
            }
        }

        ngx_memcpy(p + 2, "fffd", 4);
        n++;
        p += 6;
    }

    return n;
}


static ngx_int_t
ngx_noom_json_hex4(u_char *p)
{
    u_char      ch;
    ngx_int_t   c;
    ngx_uint_t  i;

    c = 0;

    for (i = 0; i < 4; i++) {
        ch = p[i];

        if (ch >= '0' && ch <= '9') {
            c = c * 16 + ch - '0';

        } else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f') {
            c = c * 16 + (ch | 0x20) - 'a' + 10;

        } else {
            return -1;
        }
    }

    return c;
}
