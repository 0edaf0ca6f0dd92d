/*
 * testutil.h - what the cmocka tests share: cmocka's includes in the
 * order it needs, the lab (temporary directories, real causewayd
 * processes: tools/lab/lab.h) and a replayable seed.
 */
#ifndef CW_TESTUTIL_H
#define CW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#include "lab.h"

/* A seed for random tests: $CW_SEED or the time; printed so a failure can
 * be replayed. */
unsigned tu_seed(void);

#endif
