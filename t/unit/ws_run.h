
/*
 * Copyright (C) noom authors
 *
 * Runs ngx_noom_ws_parse() over an input cut into chunks, checks the
 * parser's invariants on every call and writes the events as a normalized
 * line, the same however the input was cut:
 *
 *   text(5) "Hello" end:text         a frame, its payload, its end
 *   text~(3) "Hel" end cont(2) ...   ~: not the final fragment
 *   ping(0) end                      control frames end with a bare "end"
 *   error:1002@2                     an error, its code and input offset
 *   error:1007                       invalid UTF-8 inside a payload: no
 *                                    offset (it is where the chunk ended)
 *                                    and the frame's payload is left out
 *   error:1002@2 dead                the parser cannot find the next frame
 *
 * After an error the parser skips the rest of the failed frame, forgets the
 * message it belonged to and goes on with the next frame (so that a close
 * frame that follows is still read); the line goes on too, until "dead".
 *
 * Payload is printed as a C string; a frame still open when the input ends
 * shows what arrived.  Used by t/unit and by fuzz/.
 */


#ifndef _NOOM_WS_RUN_H_INCLUDED_
#define _NOOM_WS_RUN_H_INCLUDED_


#include "ngx_noom_parse.h"


typedef struct {
    char       *s;           /* the event line, NUL terminated */
    size_t      len;
    size_t      size;
    int         failed;      /* an invariant was broken */
    char        why[512];    /* the first one */
    size_t      errors;      /* NGX_NOOM_WS_ERROR returns */
    int         dead;        /* the parser gave up for good */
    size_t      calls;
    size_t      frames;
} ws_log_t;


void ws_log_init(ws_log_t *log);
void ws_log_free(ws_log_t *log);

/* for writers of the same line (fuzz/ws_ref.c): an item, a payload */
void ws_log_add(ws_log_t *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ws_log_data(ws_log_t *log, const u_char *p, size_t n);

extern const char  *ws_names[16];

/*
 * Feeds in[0..len) to a parser the caller has initialized, as the chunks
 * [0, cuts[0]), [cuts[0], cuts[1]), ... [cuts[n-1], len); cuts must be
 * sorted and <= len (equal cuts give empty chunks).  Every chunk is copied
 * to its own heap buffer that is freed once the parser is done with it, so
 * a pointer kept across calls is a use after free.  Returns 0, or -1 when an
 * invariant failed (log->why says which).
 */
int ws_run(ngx_noom_ws_parser_t *p, const u_char *in, size_t len,
    const size_t *cuts, size_t ncuts, ws_log_t *log);

/* a fresh parser with that limit, fed whole */
int ws_run_whole(const u_char *in, size_t len, uint64_t max,
    ngx_uint_t unmasked, ws_log_t *log);

/*
 * Compares the whole run against cuts at every single position (when len
 * <= every_limit, else the first and last 64 and 128 between), one byte
 * at a time, and at every pair of positions when len <= pair_limit, each
 * with and without whole messages (p->whole).  Returns 0 when all runs
 * agree and keep the invariants; else -1 and a description in why.
 */
int ws_run_splits(const u_char *in, size_t len, uint64_t max,
    ngx_uint_t unmasked, size_t every_limit, size_t pair_limit,
    char *why, size_t why_size);


#endif /* _NOOM_WS_RUN_H_INCLUDED_ */
