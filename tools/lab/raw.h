/*
 * raw.h - raw TCP clients of causewayd for the lab: the attacker's side of
 * tests/integration/hostile_test.c and of cw-attack (cw-bench hostile).
 * They speak the bytes of the wire (docs/protocol.md: nng's SP header,
 * then length-prefixed frames) without the SDK, so they can do what no
 * SDK client does: hold a connection and send nothing, never read a
 * reply, send a frame of junk. Blocking sockets, one caller each.
 */
#ifndef CW_LAB_RAW_H
#define CW_LAB_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A TCP connection to port on 127.0.0.1 from address src (another
 * loopback address, 127.0.0.2 and up: another client host). Returns the
 * descriptor or -1, at most 5 s later. */
int lab_raw_connect(const char *src, int port);
/* The same within monotonic time end (lab_now_s) instead of 5 s: a
 * server may drop the SYNs of an address it blocked. lab_raw_connect
 * gives up after 5 s. */
int lab_raw_connect_until(const char *src, int port, double end);
/* lab_raw_connect, then the SP header both ways (at most 5 s for the
 * server's). Returns the descriptor or -1. */
int lab_sp_connect(const char *src, int port);
/* Sends the SP header of a REQ socket (8 bytes); 0 or -1. */
int lab_sp_hello(int fd);
/* Writes one request frame of body b[0..len) with request id id (flags
 * as send(2)'s, MSG_NOSIGNAL always). Returns what sendmsg returns. */
ssize_t lab_send_frame(
    int fd, uint32_t id, const void *b, size_t len, int flags);
/* Reads one reply frame from fd (at most ms), its body into *body (owned,
 * free()) and *len. Returns 0, or -1 (timeout, end of stream, error). */
int lab_recv_frame(int fd, int ms, uint8_t **body, size_t *len);
/* Whether the server closed fd (end of stream within ms), reading and
 * dropping what it sent first. */
bool lab_closed_by_server(int fd, int ms);
/* A figure of /proc/pid/status in kB ("VmRSS", "VmHWM"), or -1. */
long lab_proc_kb(pid_t pid, const char *field);

#endif /* CW_LAB_RAW_H */
