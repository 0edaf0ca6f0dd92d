/*
 * cw_proxy.c - a TCP relay that can cut links, for demos and fault tests:
 *
 *   cw-proxy LISTEN_PORT:UPSTREAM_PORT ...
 *
 * Relays each 127.0.0.1:LISTEN_PORT to 127.0.0.1:UPSTREAM_PORT. SIGUSR1
 * cuts every relay (connections closed, new ones refused), SIGUSR2 heals
 * them, SIGTERM or SIGINT stops. Prints "ready" on stdout once listening.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy.h"

int
main(int argc, char **argv)
{
	tproxy *p[32];
	int     n = 0;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fprintf(argc < 2 ? stderr : stdout,
		    "usage: cw-proxy LISTEN_PORT:UPSTREAM_PORT ...\n"
		    "SIGUSR1 cuts every relay, SIGUSR2 heals them, SIGTERM "
		    "stops.\n");
		return argc < 2 ? 2 : 0;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	for (int i = 1; i < argc && n < 32; i++) {
		int lp, up;
		if (sscanf(argv[i], "%d:%d", &lp, &up) != 2 ||
		    proxy_start_on(&p[n], lp, up) != 0) {
			fprintf(
			    stderr, "cw-proxy: cannot relay '%s'\n", argv[i]);
			return 1;
		}
		n++;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		int sig;
		sigwait(&set, &sig);
		if (sig == SIGUSR1 || sig == SIGUSR2) {
			for (int i = 0; i < n; i++)
				proxy_cut(p[i], sig == SIGUSR1);
			fprintf(stderr, "cw-proxy: links %s\n",
			    sig == SIGUSR1 ? "cut" : "healed");
			continue;
		}
		break;
	}
	for (int i = 0; i < n; i++)
		proxy_stop(p[i]);
	return 0;
}
