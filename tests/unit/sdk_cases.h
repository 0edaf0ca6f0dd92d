/*
 * sdk_cases.h - SDK checks that must hold the same embedded
 * (client_test) and over the network (net_test): one body, two backends.
 */
#ifndef CW_SDK_CASES_H
#define CW_SDK_CASES_H

#include "causeway.h"

/* cw_read_many: every kind of read, per-read errors, buffered writes
 * seen, bad arguments refused before anything runs. Uses keys "rm:*". */
void sdk_case_read_many(cw_client *c);

#endif
