/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

unsigned
tu_seed(void)
{
	const char *e = getenv("CW_SEED");
	unsigned    s = e ? (unsigned) strtoul(e, NULL, 10)
	                  : (unsigned) time(NULL) ^ (unsigned) getpid();
	fprintf(stderr, "seed %u (CW_SEED=%u replays it)\n", s, s);
	return s;
}
