/*
 * testutil.h - helpers shared by the cmocka tests: temporary directories
 * and cmocka's includes in the order it needs.
 */
#ifndef CW_TESTUTIL_H
#define CW_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

/* A fresh directory under $TMPDIR (or /tmp). Returns an owned path. */
char *tu_tmpdir(void);
/* Removes path and everything below it. */
void tu_rmrf(const char *path);
/* A seed for random tests: $CW_SEED or the time; printed so a failure can
 * be replayed. */
unsigned tu_seed(void);

#endif
