/* HTTP client test fixtures: a real nginx started by the test on a free
 * loopback port with a generated configuration, and a scripted raw-socket
 * peer for hostile answers.
 *
 * nginx runs as `nginx -p DIR -c DIR/nginx.conf` with `daemon off;
 * master_process off;`, a child of the test's main thread that gets
 * SIGKILL when the test process dies (PR_SET_PDEATHSIG), so a failed case
 * cannot leave it running; http_nginx_stop kills it on the normal path and
 * removes the directory. Start it before uvgo_run (fork from the main
 * thread, never from a task). Start waits until nginx accepts. */
#ifndef UVGO_TEST_HTTP_FIXTURE_H
#define UVGO_TEST_HTTP_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Sizes of the static files nginx serves. */
#define HTTP_FX_SMALL 1024u
#define HTTP_FX_LARGE (5u * 1024u * 1024u)
/* Redirect chain length available at /chain/N (N = 0..HTTP_FX_CHAIN). */
#define HTTP_FX_CHAIN 12

typedef struct http_nginx {
  char dir[128];
  pid_t pid;
  unsigned port;     /* plain HTTP */
  unsigned tls_port; /* HTTPS (0 unless started with tls) */
  char ca_path[192]; /* the test CA that signed the server's certificate */
} http_nginx;

/* Start nginx. Locations (all on both ports):
 *   /1k.bin, /5m.bin      static files (byte i = (i * 7 + i / 251) & 0xff)
 *   /text.txt             64 KiB of text (gzip'ed when asked)
 *   /r301 /r302 /r303     redirects to /1k.bin; /r307, /r308 to /method
 *   /method               "METHOD\n" of the request
 *   /hdrs                 "auth=<Authorization>;cookie=<Cookie>\n"
 *   /cross                302 to http://localhost:PORT/hdrs (another host)
 *   /same                 302 to /hdrs (the same host)
 *   /chain/N              302 to /chain/N-1; /chain/0 answers "end"
 *   /ka/...               /... with keepalive_requests 2 (server closes)
 *   /dav/...              PUT and GET of files (WebDAV, 20 MB max)
 *   /nothing              204
 * tls: also an ssl server (certificate for localhost / 127.0.0.1 signed
 * by a test CA). Skips the test (exit 77) when nginx is missing. */
void http_nginx_start(http_nginx *n, bool tls);
/* Kill nginx, wait for it, remove the directory. Idempotent. */
void http_nginx_stop(http_nginx *n);
/* The expected byte i of /1k.bin and /5m.bin. */
static inline unsigned char http_fx_byte(size_t i) {
  return (unsigned char)((i * 7 + i / 251) & 0xff);
}

/* A scripted peer: a thread that accepts connections on 127.0.0.1 and
 * runs script(fd, index, arg) for each (index 0, 1, ... in accept order),
 * one at a time. Plain blocking sockets, writes with MSG_NOSIGNAL. */
typedef void (*http_peer_script)(int fd, int index, void *arg);
typedef struct http_peer {
  int lfd;
  unsigned port;
  http_peer_script script;
  void *arg;
  pthread_t thread;
  _Atomic int accepted; /* connections accepted so far */
  _Atomic int stop;
} http_peer;

void http_peer_start(http_peer *p, http_peer_script script, void *arg);
/* Stop accepting and join (a script still running must end on its own,
 * e.g. when the client closes). */
void http_peer_stop(http_peer *p);

/* Helpers for scripts. */
/* Read until the end of a request head ("\r\n\r\n"); the head (NUL-
 * terminated, cut to cap) into buf. @return head bytes, 0 on EOF, < 0. */
ssize_t http_peer_read_head(int fd, char *buf, size_t cap);
/* Write all of s (len; 0 = strlen). @return 0 or -1 (peer gone). */
int http_peer_send(int fd, const void *s, size_t len);
/* Close with a reset (SO_LINGER 0). */
void http_peer_reset(int fd);

#endif
