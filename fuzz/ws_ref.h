
/*
 * Copyright (C) noom authors
 */


#ifndef _NOOM_WS_REF_H_INCLUDED_
#define _NOOM_WS_REF_H_INCLUDED_


#include "ws_run.h"


/* the events of in[0..len) as ws_run() prints them, from a simple
 * whole-buffer reading of RFC 6455 */
void ws_ref(const u_char *in, size_t len, uint64_t max, int unmasked,
    ws_log_t *log);


#endif /* _NOOM_WS_REF_H_INCLUDED_ */
