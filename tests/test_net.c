/* TCP, Unix sockets and DNS on loopback: the happy paths, then every fault
 * a network client meets (refused, unresolvable, silent peer, reset, one
 * byte at a time, half-close, descriptors running out, allocation
 * failure), cancellation states, and misuse. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

/* --- helpers --- */

typedef void (*net_main_fn)(void);
static void run_main(void *arg) { ((net_main_fn)arg)(); }
static void run1(net_main_fn fn) {
  uvgo_config cfg = {.workers = 1};
  ASSERT_OK(uvgo_run(&cfg, run_main, (void *)fn));
}
static void run2(net_main_fn fn) {
  uvgo_config cfg = {.workers = 2};
  ASSERT_OK(uvgo_run(&cfg, run_main, (void *)fn));
}

/* Read exactly len bytes. */
static int read_full(uvgo_ctx *ctx, uvgo_conn *c, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = uvgo_conn_read(ctx, c, (char *)buf + got, len - got);
    if (n < 0)
      return (int)n;
    got += (size_t)n;
  }
  return 0;
}

/* A server task: accept one connection and echo it until EOF, then
 * close (and the listener). */
static void echo_one(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_conn *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &c));
  char buf[4096];
  ssize_t n;
  while ((n = uvgo_conn_read(NULL, c, buf, sizeof buf)) > 0)
    ASSERT_OK(uvgo_conn_write(NULL, c, buf, (size_t)n));
  ASSERT_ERR(n, UV_EOF);
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_listener_close(ln));
}

static void echo_roundtrip(uvgo_conn *c) {
  const char msg[] = "hello, uvgo";
  char back[sizeof msg];
  ASSERT_OK(uvgo_conn_write(NULL, c, msg, sizeof msg));
  ASSERT_OK(read_full(NULL, c, back, sizeof back));
  ASSERT_STR_EQ(back, msg);
  ASSERT_OK(uvgo_conn_shutdown(NULL, c));
  ASSERT_ERR(uvgo_conn_read(NULL, c, back, sizeof back), UV_EOF);
  ASSERT_ERR(uvgo_conn_read(NULL, c, back, sizeof back), UV_EOF); /* sticky */
}

/* --- happy paths --- */

static void tcp_echo_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 16, &ln));
  unsigned port = uvgo_listener_port(ln);
  ASSERT_GT(port, 0);
  ASSERT_OK(uvgo_go(echo_one, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", port, &c));
  struct sockaddr_storage local, peer;
  ASSERT_OK(uvgo_conn_local_addr(c, &local));
  ASSERT_OK(uvgo_conn_peer_addr(c, &peer));
  ASSERT_EQ(peer.ss_family, AF_INET);
  ASSERT_EQ(ntohs(((struct sockaddr_in *)&peer)->sin_port), port);
  ASSERT_EQ(local.ss_family, AF_INET);
  ASSERT_OK(uvgo_conn_set_nodelay(c, 1));
  ASSERT_OK(uvgo_conn_set_keepalive(c, 1, 30));
  echo_roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_tcp_echo, net, 20) { run1(tcp_echo_main); run2(tcp_echo_main); }

static void tcp6_main(void) {
  uvgo_listener *ln;
  int err = uvgo_listen("::1", 0, 16, &ln);
  if (err == UV_EADDRNOTAVAIL || err == UV_EAFNOSUPPORT)
    return; /* no IPv6 loopback here */
  ASSERT_OK(err);
  ASSERT_OK(uvgo_go(echo_one, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "::1", uvgo_listener_port(ln), &c));
  struct sockaddr_storage peer;
  ASSERT_OK(uvgo_conn_peer_addr(c, &peer));
  ASSERT_EQ(peer.ss_family, AF_INET6);
  echo_roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_tcp6_echo, net, 20) { run1(tcp6_main); }

/* "localhost" goes through uv_getaddrinfo; it may resolve ::1 first, which
 * is refused (nobody listens there), so this also proves that every
 * resolved address is tried in order. */
static void localhost_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 16, &ln));
  ASSERT_OK(uvgo_go(echo_one, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "localhost", uvgo_listener_port(ln), &c));
  echo_roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_dial_localhost_by_name, net, 20) { run1(localhost_main); }

static char unix_path[108];
static void unix_main(void) {
  snprintf(unix_path, sizeof unix_path, "/tmp/uvgo-test-%d.sock", (int)getpid());
  unlink(unix_path);
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen_unix(unix_path, 8, &ln));
  ASSERT_EQ(uvgo_listener_port(ln), 0);
  ASSERT_OK(uvgo_go(echo_one, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial_unix(NULL, unix_path, &c));
  struct sockaddr_storage peer;
  ASSERT_OK(uvgo_conn_peer_addr(c, &peer));
  ASSERT_EQ(peer.ss_family, AF_UNIX);
  ASSERT_STR_EQ(((struct sockaddr_un *)&peer)->sun_path, unix_path);
  ASSERT_ERR(uvgo_conn_set_nodelay(c, 1), UV_ENOTSUP);
  echo_roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
  /* the listener removed its socket file on close */
  ASSERT_NE(access(unix_path, F_OK), 0);
  ASSERT_ERR(uvgo_dial_unix(NULL, unix_path, &c), UV_ENOENT);
  ASSERT_NULL(c);
}

UVGO_TEST(net_unix_echo, net, 20) { run1(unix_main); }

/* --- faults --- */

static unsigned free_port(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 1, &ln));
  unsigned port = uvgo_listener_port(ln);
  ASSERT_OK(uvgo_listener_close(ln));
  return port;
}

static void refused_main(void) {
  uvgo_conn *c = (uvgo_conn *)1;
  ASSERT_ERR(uvgo_dial(NULL, "127.0.0.1", free_port(), &c), UV_ECONNREFUSED);
  ASSERT_NULL(c);
}

UVGO_TEST(net_dial_refused, net, 20) { run1(refused_main); }

static void unresolvable_main(void) {
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 5000, &ctx));
  uvgo_conn *c;
  int err = uvgo_dial(ctx, "nonexistent.invalid", 80, &c);
  /* NONAME with a resolver, AGAIN / FAIL without any network. */
  ASSERT(err == UV_EAI_NONAME || err == UV_EAI_AGAIN || err == UV_EAI_FAIL ||
         err == UV_EAI_NODATA);
  ASSERT_NULL(c);
  uvgo_ctx_cancel(ctx);
  uvgo_ctx_release(ctx);
}

UVGO_TEST(net_dial_unresolvable, net, 20) { run1(unresolvable_main); }

/* A context that has already ended cancels the lookup; the call still
 * waits for libuv's callback (uv_cancel or the lookup's end), and leaks
 * nothing. */
static void dns_cancel_main(void) {
  for (int i = 0; i < 20; i++) {
    uvgo_ctx *ctx;
    ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &ctx));
    ASSERT_OK(uvgo_ctx_cancel(ctx));
    uvgo_conn *c;
    ASSERT_ERR(uvgo_dial(ctx, i % 2 ? "localhost" : "nonexistent.invalid", 80,
                         &c),
               UV_ECANCELED);
    uvgo_ctx_release(ctx);
  }
}

UVGO_TEST(net_dial_cancel_during_dns, net, 20) { run1(dns_cancel_main); }

/* A listener that never accepts, with a backlog of 1: once its queue is
 * full the kernel drops SYNs and connects hang until the context's
 * deadline. The cancelled connect closes its socket and leaks nothing. */
static void dial_timeout_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 1, &ln));
  unsigned port = uvgo_listener_port(ln);
  uvgo_conn *conns[8] = {0};
  int timeouts = 0;
  for (int i = 0; i < 8; i++) {
    uvgo_ctx *ctx;
    ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 100, &ctx));
    int err = uvgo_dial(ctx, "127.0.0.1", port, &conns[i]);
    ASSERT(err == 0 || err == UV_ETIMEDOUT);
    timeouts += err == UV_ETIMEDOUT;
    uvgo_ctx_release(ctx);
  }
  ASSERT_GT(timeouts, 0);
  for (int i = 0; i < 8; i++)
    ASSERT_OK(uvgo_conn_close(conns[i]));
  ASSERT_OK(uvgo_listener_close(ln));
}

UVGO_TEST(net_dial_timeout, net, 30) { run1(dial_timeout_main); }

/* A server that accepts and never answers: a read bounded by a context
 * times out, the connection stays usable, and no byte is lost. */
static uvgo_chan *go_on;
static void silent_then_talk(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_conn *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &c));
  ASSERT_OK(uvgo_chan_recv(go_on, NULL)); /* silent until told */
  ASSERT_OK(uvgo_conn_write(NULL, c, "late", 4));
  char b;
  ASSERT_ERR(uvgo_conn_read(NULL, c, &b, 1), UV_EOF);
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_listener_close(ln));
}

static void silent_main(void) {
  go_on = uvgo_chan_new(0, 0);
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(silent_then_talk, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  char buf[16];
  for (int i = 0; i < 3; i++) {
    uvgo_ctx *ctx;
    ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 30, &ctx));
    ASSERT_ERR(uvgo_conn_read(ctx, c, buf, sizeof buf), UV_ETIMEDOUT);
    uvgo_ctx_release(ctx);
  }
  ASSERT_OK(uvgo_chan_send(go_on, NULL));
  ASSERT_OK(read_full(NULL, c, buf, 4));
  ASSERT_OK(memcmp(buf, "late", 4));
  ASSERT_OK(uvgo_conn_close(c));
  uvgo_chan_release(go_on);
}

UVGO_TEST(net_read_timeout_conn_still_usable, net, 20) { run1(silent_main); }

/* The task's own context cancels a read from another task. */
static void cancel_later(void *arg) {
  ASSERT_OK(uvgo_sleep(20));
  ASSERT_OK(uvgo_ctx_cancel(arg));
}
static void reader_under_ctx(void *arg) {
  uvgo_conn *c = arg;
  char b;
  ASSERT_ERR(uvgo_conn_read(NULL, c, &b, 1), UV_ECANCELED);
  /* the task's context has ended: every later blocking call says so */
  ASSERT_ERR(uvgo_conn_read(NULL, c, &b, 1), UV_ECANCELED);
}
static void task_ctx_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(echo_one, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &ctx));
  ASSERT_OK(uvgo_go_ctx(ctx, reader_under_ctx, c));
  ASSERT_OK(uvgo_go(cancel_later, ctx));
  ASSERT_OK(uvgo_sleep(60));
  uvgo_ctx_release(ctx);
  echo_roundtrip(c); /* the connection is unaffected */
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_read_cancelled_by_task_context, net, 20) { run1(task_ctx_main); }

/* A peer that never reads: the write parks once the kernel buffers fill,
 * times out, and leaves the connection aborted (UVGO_ECONNCLOSED). */
static void accept_and_hold(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_conn *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &c));
  ASSERT_OK(uvgo_chan_recv(go_on, NULL));
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_listener_close(ln));
}
static void write_timeout_main(void) {
  go_on = uvgo_chan_new(0, 0);
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(accept_and_hold, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  size_t big = 64u << 20;
  char *buf = calloc(1, big);
  ASSERT_NOT_NULL(buf);
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 100, &ctx));
  ASSERT_ERR(uvgo_conn_write(ctx, c, buf, big), UV_ETIMEDOUT);
  uvgo_ctx_release(ctx);
  ASSERT_ERR(uvgo_conn_write(NULL, c, "x", 1), UVGO_ECONNCLOSED);
  ASSERT_ERR(uvgo_conn_read(NULL, c, buf, 1), UVGO_ECONNCLOSED);
  ASSERT_ERR(uvgo_conn_shutdown(NULL, c), UVGO_ECONNCLOSED);
  struct sockaddr_storage ss;
  ASSERT_ERR(uvgo_conn_peer_addr(c, &ss), UVGO_ECONNCLOSED);
  ASSERT_OK(uvgo_conn_close(c));
  free(buf);
  ASSERT_OK(uvgo_chan_send(go_on, NULL));
  uvgo_chan_release(go_on);
}

UVGO_TEST(net_write_timeout_aborts_conn, net, 30) { run1(write_timeout_main); }

/* A peer that resets mid-stream (it closes with unread data, so the kernel
 * sends RST): writes and reads fail with an error code, and the process
 * is not killed by SIGPIPE. */
static void reset_server(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_conn *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &c));
  char b;
  ASSERT_EQ(uvgo_conn_read(NULL, c, &b, 1), 1); /* more is still unread */
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_listener_close(ln));
}
static void reset_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(reset_server, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  char chunk[1024] = {1};
  ASSERT_OK(uvgo_conn_write(NULL, c, chunk, sizeof chunk));
  int err = 0;
  for (int i = 0; i < 1000 && err == 0; i++) {
    ASSERT_OK(uvgo_sleep(1));
    err = uvgo_conn_write(NULL, c, chunk, sizeof chunk);
  }
  ASSERT(err == UV_EPIPE || err == UV_ECONNRESET);
  ssize_t n = uvgo_conn_read(NULL, c, chunk, sizeof chunk);
  ASSERT(n == UV_ECONNRESET || n == UV_EOF);
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_peer_reset_mid_stream, net, 20) { run1(reset_main); }

/* A peer that sends one byte at a time: every byte arrives, in order. */
#define TRICKLE 300
static void trickle_server(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_conn *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &c));
  for (int i = 0; i < TRICKLE; i++) {
    unsigned char b = (unsigned char)i;
    ASSERT_OK(uvgo_conn_write(NULL, c, &b, 1));
    if (i % 7 == 0)
      ASSERT_OK(uvgo_sleep(1));
    else
      ASSERT_OK(uvgo_yield());
  }
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_listener_close(ln));
}
static void trickle_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(trickle_server, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  unsigned char buf[TRICKLE];
  ASSERT_OK(read_full(NULL, c, buf, sizeof buf));
  for (int i = 0; i < TRICKLE; i++)
    ASSERT_EQ(buf[i], (unsigned char)i);
  ASSERT_ERR(uvgo_conn_read(NULL, c, buf, 1), UV_EOF);
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_peer_sends_one_byte_at_a_time, net, 20) { run1(trickle_main); }

/* Half-close: the client sends its request and shuts down its side; the
 * server reads to EOF, answers, and the client still reads the answer. */
static void half_close_server(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_conn *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &c));
  char buf[64];
  size_t got = 0;
  ssize_t n;
  while ((n = uvgo_conn_read(NULL, c, buf + got, sizeof buf - got)) > 0)
    got += (size_t)n;
  ASSERT_ERR(n, UV_EOF);
  ASSERT_UEQ(got, 5);
  ASSERT_OK(uvgo_conn_write(NULL, c, "got 5", 5));
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_listener_close(ln));
}
static void half_close_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(half_close_server, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  ASSERT_OK(uvgo_conn_write(NULL, c, "hello", 5));
  ASSERT_OK(uvgo_conn_shutdown(NULL, c));
  ASSERT_ERR(uvgo_conn_write(NULL, c, "more", 4), UV_EPIPE);
  char buf[8];
  ASSERT_OK(read_full(NULL, c, buf, 5));
  ASSERT_OK(memcmp(buf, "got 5", 5));
  ASSERT_ERR(uvgo_conn_read(NULL, c, buf, 1), UV_EOF);
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_half_close, net, 20) { run1(half_close_main); }

/* Back-pressure: a server floods a client that does not read. uvgo stops
 * reading at UVGO_CONN_BUFFER_SIZE, so the flood stalls in the kernel's
 * buffers (the writer stays parked) instead of in uvgo's memory; then the
 * client reads every byte, intact. */
#define FLOOD (48u << 20)
static _Atomic int flood_done;
static void flood_server(void *arg) {
  uvgo_listener *ln = arg;
  uvgo_conn *c;
  ASSERT_OK(uvgo_accept(NULL, ln, &c));
  unsigned char *buf = malloc(FLOOD);
  ASSERT_NOT_NULL(buf);
  for (size_t i = 0; i < FLOOD; i++)
    buf[i] = (unsigned char)(i * 7);
  ASSERT_OK(uvgo_conn_write(NULL, c, buf, FLOOD));
  atomic_store(&flood_done, 1);
  free(buf);
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_listener_close(ln));
}
static void backpressure_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(flood_server, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  unsigned char buf[4096];
  /* Start reading (so uvgo's buffer fills), then stop. */
  ASSERT_GT(uvgo_conn_read(NULL, c, buf, 1), 0);
  ASSERT_OK(uvgo_sleep(50)); /* the buffer fills */
  long live0 = uvgo_test_live_allocations();
  ASSERT_OK(uvgo_sleep(250));
  ASSERT_EQ(atomic_load(&flood_done), 0);
  /* the flood goes on, uvgo's memory does not grow */
  ASSERT_LE(uvgo_test_live_allocations(), live0);
  size_t got = 1;
  ssize_t n;
  while ((n = uvgo_conn_read(NULL, c, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++)
      ASSERT_EQ(buf[i], (unsigned char)((got + (size_t)i) * 7));
    got += (size_t)n;
  }
  ASSERT_ERR(n, UV_EOF);
  ASSERT_UEQ(got, FLOOD);
  ASSERT_EQ(atomic_load(&flood_done), 1);
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_read_backpressure_bounded, net, 60) { run1(backpressure_main); }

/* accept bounded by a context: times out, the listener is unchanged. */
static void dial_after(void *arg) {
  unsigned port = (unsigned)(uintptr_t)arg;
  ASSERT_OK(uvgo_sleep(20));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", port, &c));
  echo_roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
}
static void accept_timeout_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 30, &ctx));
  uvgo_conn *c = (uvgo_conn *)1;
  ASSERT_ERR(uvgo_accept(ctx, ln, &c), UV_ETIMEDOUT);
  ASSERT_NULL(c);
  uvgo_ctx_release(ctx);
  ASSERT_OK(uvgo_go(dial_after, (void *)(uintptr_t)uvgo_listener_port(ln)));
  echo_one(ln);
}

UVGO_TEST(net_accept_timeout_listener_unchanged, net, 20) {
  run1(accept_timeout_main);
}

/* Close from another task wakes blocked calls with UVGO_ECONNCLOSED and
 * frees only after they have left. */
static void blocked_accept(void *arg) {
  uvgo_conn *c;
  ASSERT_ERR(uvgo_accept(NULL, arg, &c), UVGO_ECONNCLOSED);
}
static void blocked_read(void *arg) {
  char b;
  ASSERT_ERR(uvgo_conn_read(NULL, arg, &b, 1), UVGO_ECONNCLOSED);
}
static void close_wakes_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(blocked_accept, ln));
  ASSERT_OK(uvgo_go(blocked_accept, ln));
  ASSERT_OK(uvgo_yield());
  uvgo_conn *c, *s;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  /* one of the blocked accepters took it? No: they only fail on close.
   * Take it from here only if they did not: dial back through accept. */
  ASSERT_OK(uvgo_go(blocked_read, c));
  ASSERT_OK(uvgo_go(blocked_read, c));
  ASSERT_OK(uvgo_yield());
  ASSERT_OK(uvgo_conn_close(c));
  (void)s;
  ASSERT_OK(uvgo_listener_close(ln));
}

/* The accepters above would take the dialled connection; use two
 * listeners instead so they stay blocked. */
static void close_wakes_main2(void) {
  uvgo_listener *idle, *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &idle));
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(blocked_accept, idle));
  ASSERT_OK(uvgo_go(blocked_accept, idle));
  uvgo_conn *c, *s;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  ASSERT_OK(uvgo_accept(NULL, ln, &s));
  ASSERT_OK(uvgo_go(blocked_read, c));
  ASSERT_OK(uvgo_go(blocked_read, c));
  ASSERT_OK(uvgo_sleep(10));
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_listener_close(idle));
  ASSERT_OK(uvgo_conn_close(s));
  ASSERT_OK(uvgo_listener_close(ln));
}

UVGO_TEST(net_close_wakes_blocked_calls, net, 20) {
  (void)close_wakes_main;
  run1(close_wakes_main2);
}

/* A connection belongs to the worker that opened it. */
static uvgo_conn *foreign_conn;
static void touch_from_other_worker(void *arg) {
  (void)arg;
  char b;
  ASSERT_ERR(uvgo_conn_read(NULL, foreign_conn, &b, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_conn_write(NULL, foreign_conn, "x", 1), UV_EINVAL);
  ASSERT_ERR(uvgo_conn_close(foreign_conn), UV_EINVAL);
  ASSERT_OK(uvgo_chan_send(go_on, NULL));
}
static void wrong_worker_main(void) {
  go_on = uvgo_chan_new(0, 0);
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(echo_one, ln));
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &foreign_conn));
  ASSERT_OK(uvgo_go_on(1 - (unsigned)uvgo_worker_id(), touch_from_other_worker,
                       NULL));
  ASSERT_OK(uvgo_chan_recv(go_on, NULL));
  echo_roundtrip(foreign_conn);
  ASSERT_OK(uvgo_conn_close(foreign_conn));
  uvgo_chan_release(go_on);
}

UVGO_TEST(net_conn_owned_by_its_worker, net, 20) { run2(wrong_worker_main); }

/* --- bad input --- */

static void bad_input_main(void) {
  uvgo_conn *c;
  uvgo_listener *ln;
  ASSERT_ERR(uvgo_dial(NULL, NULL, 80, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_dial(NULL, "", 80, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_dial(NULL, "127.0.0.1", 0, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_dial(NULL, "127.0.0.1", 65536, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_dial(NULL, "127.0.0.1", 80, NULL), UV_EINVAL);
  ASSERT_ERR(uvgo_dial_unix(NULL, "", &c), UV_EINVAL);
  ASSERT_ERR(uvgo_listen("127.0.0.1", 70000, 1, &ln), UV_EINVAL);
  ASSERT_ERR(uvgo_listen_unix(NULL, 1, &ln), UV_EINVAL);
  ASSERT_ERR(uvgo_accept(NULL, NULL, &c), UV_EINVAL);
  ASSERT_ERR(uvgo_conn_read(NULL, NULL, &c, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_conn_write(NULL, NULL, "x", 1), UV_EINVAL);
  ASSERT_OK(uvgo_conn_close(NULL));
  ASSERT_OK(uvgo_listener_close(NULL));
  ASSERT_EQ(uvgo_listener_port(NULL), 0);

  ASSERT_OK(uvgo_listen(NULL, 0, 4, &ln)); /* every IPv4 address */
  ASSERT_OK(uvgo_go(echo_one, ln));
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  ASSERT_ERR(uvgo_conn_read(NULL, c, NULL, 1), UV_EINVAL);
  ASSERT_ERR(uvgo_conn_read(NULL, c, &ln, 0), UV_EINVAL);
  ASSERT_ERR(uvgo_conn_write(NULL, c, NULL, 1), UV_EINVAL);
  ASSERT_OK(uvgo_conn_write(NULL, c, NULL, 0));
  ASSERT_ERR(uvgo_conn_set_keepalive(c, 1, 0), UV_EINVAL);
  ASSERT_ERR(uvgo_conn_local_addr(c, NULL), UV_EINVAL);
  echo_roundtrip(c);
  ASSERT_OK(uvgo_conn_close(c));
}

UVGO_TEST(net_bad_input, net, 20) {
  uvgo_conn *c;
  ASSERT_ERR(uvgo_dial(NULL, "127.0.0.1", 80, &c), UVGO_ENOTTASK);
  run1(bad_input_main);
}

/* Under UVGO_STRICT a second close, and a call after close, abort with a
 * message (closed records stay poisoned, not freed, for a while). */
static void double_close_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_listener_close(ln));
  uvgo_listener_close(ln);
  fprintf(stderr, "survived\n");
}
static void double_close_case(void) { run1(double_close_main); }
UVGO_TEST_HELPER(net_double_close) {
  exit(uvgo_test_run_as_case("net_double_close", double_close_case));
}

static void write_after_close_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  ASSERT_OK(uvgo_conn_close(c));
  uvgo_conn_write(NULL, c, "x", 1);
  fprintf(stderr, "survived\n");
}
static void write_after_close_case(void) { run1(write_after_close_main); }
UVGO_TEST_HELPER(net_write_after_close) {
  exit(uvgo_test_run_as_case("net_write_after_close", write_after_close_case));
}

static void accept_closed_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_listener_close(ln));
  uvgo_conn *c;
  uvgo_accept(NULL, ln, &c);
  fprintf(stderr, "survived\n");
}
static void accept_closed_case(void) { run1(accept_closed_main); }
UVGO_TEST_HELPER(net_accept_closed) {
  exit(uvgo_test_run_as_case("net_accept_closed", accept_closed_case));
}

static void expect_strict_abort(const char *helper, const char *call) {
  char out[8192];
  int status = uvgo_test_spawn_helper(helper, "UVGO_STRICT=1", out, sizeof out);
  ASSERT(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGABRT);
  ASSERT_STR_CONTAINS(out, call);
  ASSERT_STR_CONTAINS(out, "UVGO_ERELEASED");
  ASSERT(strstr(out, "survived") == NULL);
}

UVGO_TEST(net_close_twice_and_use_after_close_strict, net, 30) {
  expect_strict_abort("net_double_close", "uvgo_listener_close");
  expect_strict_abort("net_write_after_close", "uvgo_conn_write");
  expect_strict_abort("net_accept_closed", "uvgo_accept");
}

/* --- descriptors running out --- */

/* Injected: the socket fault site fails dial and accept with UV_EMFILE;
 * an accept that failed leaves the connection queued for the next. */
static void fault_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  unsigned port = uvgo_listener_port(ln);
  uvgo_conn *c, *s;
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_SOCKET, 1));
  ASSERT_ERR(uvgo_dial(NULL, "127.0.0.1", port, &c), UV_EMFILE);
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", port, &c));
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_SOCKET, 1));
  ASSERT_ERR(uvgo_accept(NULL, ln, &s), UV_EMFILE);
  ASSERT_OK(uvgo_accept(NULL, ln, &s));
  ASSERT_OK(uvgo_conn_write(NULL, s, "ok", 2));
  char buf[2];
  ASSERT_OK(read_full(NULL, c, buf, 2));
  ASSERT_OK(uvgo_conn_close(c));
  ASSERT_OK(uvgo_conn_close(s));
  ASSERT_OK(uvgo_fault_inject(UVGO_FAULT_SOCKET, 1));
  ASSERT_ERR(uvgo_dial_unix(NULL, "/nonexistent", &c), UV_EMFILE);
  ASSERT_OK(uvgo_listener_close(ln));
}

UVGO_TEST(net_emfile_injected, net, 20) { run1(fault_main); }

/* Real: a low RLIMIT_NOFILE. The client holds every connection it dials;
 * when its dial takes the last descriptor the server cannot accept (libuv
 * drops that connection), the next dial fails with UV_EMFILE, and once the
 * client lets go the server serves again. */
#define EMFILE_MAX 64
static uvgo_conn *held[EMFILE_MAX];
static int server_emfiles;
static void emfile_server(void *arg) {
  uvgo_listener *ln = arg;
  for (;;) {
    uvgo_conn *c;
    int err = uvgo_accept(NULL, ln, &c);
    if (err == UVGO_ECONNCLOSED)
      break;
    if (err == UV_EMFILE) {
      server_emfiles++;
      continue;
    }
    ASSERT_OK(err);
    ASSERT_OK(uvgo_conn_write(NULL, c, "hi", 2));
    ASSERT_OK(uvgo_conn_close(c));
  }
}
static int dial_and_hear(unsigned port, uvgo_conn **out) {
  int err = uvgo_dial(NULL, "127.0.0.1", port, out);
  if (err != 0)
    return err;
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 2000, &ctx));
  char b[2];
  err = read_full(ctx, *out, b, 2);
  uvgo_ctx_release(ctx);
  return err;
}
static void emfile_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 16, &ln));
  unsigned port = uvgo_listener_port(ln);
  ASSERT_OK(uvgo_go(emfile_server, ln));
  uvgo_conn *probe;
  ASSERT_OK(dial_and_hear(port, &probe)); /* libuv's lazy descriptors */
  /* New descriptors take the lowest free numbers and must stay below the
   * soft limit: allow a handful above the lowest free one (descriptors
   * inherited at high numbers do not matter). */
  int lowest = dup(0);
  ASSERT_GE(lowest, 0);
  close(lowest);
  struct rlimit rl;
  ASSERT_OK(getrlimit(RLIMIT_NOFILE, &rl));
  rl.rlim_cur = (rlim_t)lowest + 9;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &rl));
  int n = 0, dial_err = 0, dropped = 0;
  while (n < EMFILE_MAX) {
    int err = uvgo_dial(NULL, "127.0.0.1", port, &held[n]);
    if (err != 0) {
      dial_err = err;
      break;
    }
    uvgo_ctx *ctx;
    ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 2000, &ctx));
    char b[2];
    err = read_full(ctx, held[n], b, 2);
    uvgo_ctx_release(ctx);
    /* dropped by the server's EMFILE handling, or served */
    ASSERT(err == 0 || err == UV_EOF || err == UV_ECONNRESET);
    dropped += err != 0;
    n++;
  }
  ASSERT_ERR(dial_err, UV_EMFILE);
  /* libuv meets EMFILE in accept with its reserve-descriptor trick: it
   * accepts and closes the waiting connections and, when that empties the
   * backlog, reports nothing; otherwise accept returns UV_EMFILE. Either
   * way the client saw its connection end. */
  ASSERT_GT(dropped + server_emfiles, 0);
  for (int i = 0; i < n; i++)
    ASSERT_OK(uvgo_conn_close(held[i]));
  /* descriptors are free again: the server keeps serving */
  for (int i = 0; i < 3; i++) {
    uvgo_conn *c;
    ASSERT_OK(dial_and_hear(port, &c));
    ASSERT_OK(uvgo_conn_close(c));
  }
  ASSERT_OK(uvgo_conn_close(probe));
  ASSERT_OK(uvgo_listener_close(ln)); /* the server's accept ends */
}

UVGO_TEST(net_emfile_real_rlimit, net, 30) { run1(emfile_main); }

/* --- allocation failure --- */

/* Fail the nth allocation for n = 1, 2, ... through a dial, an accept, a
 * write and a read until a round needs no more: every failure is
 * UV_ENOMEM, and nothing leaks (the case's leak check). */
static int accept_enomem;
static void alloc_server(void *arg) {
  uvgo_listener *ln = arg;
  for (;;) {
    uvgo_conn *c;
    int err = uvgo_accept(NULL, ln, &c);
    if (err == UVGO_ECONNCLOSED)
      return;
    if (err == UV_ENOMEM) {
      accept_enomem++;
      continue; /* the connection stays queued */
    }
    ASSERT_OK(err);
    char buf[64];
    ssize_t n;
    while ((n = uvgo_conn_read(NULL, c, buf, sizeof buf)) > 0) {
      err = uvgo_conn_write(NULL, c, buf, (size_t)n);
      ASSERT(err == 0 || err == UV_ENOMEM);
    }
    ASSERT_OK(uvgo_conn_close(c));
  }
}
static void alloc_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 16, &ln));
  unsigned port = uvgo_listener_port(ln);
  ASSERT_OK(uvgo_go(alloc_server, ln));
  ASSERT_OK(uvgo_sleep(1));
  int failures = 0;
  for (long nth = 1; nth < 100; nth++) {
    uvgo_test_fail_allocation(nth);
    uvgo_conn *c;
    int err = uvgo_dial(NULL, "127.0.0.1", port, &c);
    if (err == UV_ENOMEM) {
      failures++;
      continue;
    }
    ASSERT_OK(err);
    err = uvgo_conn_write(NULL, c, "ping", 4);
    ASSERT(err == 0 || err == UV_ENOMEM);
    char buf[4];
    if (err == 0) {
      err = read_full(NULL, c, buf, 4);
      ASSERT(err == 0 || err == UV_ENOMEM || err == UV_EOF);
    }
    uvgo_test_fail_allocation(0);
    ASSERT_OK(uvgo_conn_close(c));
    if (err == 0 && uvgo_test_allocation_count() > 0 && nth > 3)
      break;
  }
  uvgo_test_fail_allocation(0);
  ASSERT_GT(failures, 0);      /* dial's record */
  ASSERT_GT(accept_enomem, 0); /* accept's record */
  ASSERT_OK(uvgo_listener_close(ln));
}

UVGO_TEST(net_allocation_failure, net, 30) { run1(alloc_main); }

/* A listener or connection nobody waits on does not hold the loop open:
 * a program that forgets to close one still sees uvgo_run return (the
 * objects leak, as the case expects). */
static void forget_main(void) {
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  char b;
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 10, &ctx));
  ASSERT_ERR(uvgo_conn_read(ctx, c, &b, 1), UV_ETIMEDOUT); /* reading on */
  uvgo_ctx_release(ctx);
}

static void forget_case(void) {
  uvgo_test_expect_leaks();
  run1(forget_main);
  printf("run returned\n");
}
UVGO_TEST_HELPER(net_forget_to_close) {
  exit(uvgo_test_run_as_case("net_forget_to_close", forget_case));
}

UVGO_TEST(net_unclosed_objects_do_not_hang_run, net, 20) {
  char out[4096];
  /* the leak is the point: keep LeakSanitizer quiet in the child */
  int status = uvgo_test_spawn_helper("net_forget_to_close",
                                      "ASAN_OPTIONS=detect_leaks=0", out,
                                      sizeof out);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_STR_CONTAINS(out, "run returned");
}

/* Close from a libuv callback on the owning loop (not a task): it returns
 * at once; a task blocked in read wakes with UVGO_ECONNCLOSED, and the
 * record is freed after that task has left (the leak check proves it). */
static uvgo_conn *cb_conn;
static void cb_reader(void *arg) {
  (void)arg;
  char b;
  ASSERT_ERR(uvgo_conn_read(NULL, cb_conn, &b, 1), UVGO_ECONNCLOSED);
  ASSERT_OK(uvgo_chan_send(go_on, NULL));
}
static void on_close_timer(uv_timer_t *t) {
  ASSERT_OK(uvgo_conn_close(cb_conn));
  uvgo_unpark(t->data);
}
static void on_timer_closed(uv_handle_t *h) { uvgo_unpark(h->data); }
static void close_from_callback_main(void) {
  go_on = uvgo_chan_new(0, 1);
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(echo_one, ln));
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &cb_conn));
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), cb_reader, NULL));
  uv_timer_t timer;
  timer.data = uvgo_self();
  ASSERT_OK(uv_timer_init(uvgo_loop(), &timer));
  ASSERT_OK(uv_timer_start(&timer, on_close_timer, 20, 0));
  ASSERT_OK(uvgo_park());
  ASSERT_OK(uvgo_chan_recv(go_on, NULL));
  uv_close((uv_handle_t *)&timer, on_timer_closed);
  ASSERT_OK(uvgo_park());
  uvgo_chan_release(go_on);
}

UVGO_TEST(net_close_from_libuv_callback, net, 20) {
  run1(close_from_callback_main);
}

/* A shutdown queued behind a write the peer never reads times out; the
 * abort closes the connection under both calls: the write wakes with
 * UVGO_ECONNCLOSED, and close still frees the record. */
static char *stuck_buf;
static uvgo_chan *writer_done;
#define STUCK_SIZE (64u << 20)
static void stuck_writer(void *arg) {
  ASSERT_ERR(uvgo_conn_write(NULL, arg, stuck_buf, STUCK_SIZE),
             UVGO_ECONNCLOSED);
  ASSERT_OK(uvgo_chan_send(writer_done, NULL));
}
static void shutdown_timeout_main(void) {
  go_on = uvgo_chan_new(0, 0);
  writer_done = uvgo_chan_new(0, 1);
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(accept_and_hold, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  stuck_buf = calloc(1, STUCK_SIZE);
  ASSERT_NOT_NULL(stuck_buf);
  ASSERT_OK(uvgo_go_on((unsigned)uvgo_worker_id(), stuck_writer, c));
  ASSERT_OK(uvgo_sleep(20)); /* the write is queued and parked */
  uvgo_ctx *ctx;
  ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 50, &ctx));
  ASSERT_ERR(uvgo_conn_shutdown(ctx, c), UV_ETIMEDOUT);
  uvgo_ctx_release(ctx);
  ASSERT_OK(uvgo_chan_recv(writer_done, NULL));
  ASSERT_OK(uvgo_conn_close(c));
  free(stuck_buf);
  ASSERT_OK(uvgo_chan_send(go_on, NULL)); /* release accept_and_hold */
  uvgo_chan_release(go_on);
  uvgo_chan_release(writer_done);
}

UVGO_TEST(net_shutdown_timeout_aborts_conn, net, 30) {
  run1(shutdown_timeout_main);
}

/* A write or shutdown that its own context ends returns the context's
 * reason, UV_ECANCELED or UV_ETIMEDOUT, never UVGO_ECONNCLOSED (the abort
 * closes the socket, but the caller must be able to tell "I cancelled"
 * from "someone closed it"); later calls then see the closed connection.
 * Everything runs on one worker, so the order is fixed without timing:
 * the canceller and the queued writer are spawned first and run only once
 * the calling task has parked. The write parks because the peer never
 * reads and 64 MiB exceed any kernel buffer; the shutdown parks behind a
 * write stuck the same way. */
enum { CANCEL_BY_CANCEL, CANCEL_BY_TIMEOUT };
static int cancel_how;
static bool cancel_shutdown; /* else cancel the write */
static _Atomic bool stuck_started;
static void cancel_now(void *arg) { ASSERT_OK(uvgo_ctx_cancel(arg)); }
static void stuck_writer_flag(void *arg) {
  atomic_store(&stuck_started, true);
  /* Its own context never ends: the abort by the shutdown's context is
   * "someone closed it" for this call. */
  ASSERT_ERR(uvgo_conn_write(NULL, arg, stuck_buf, STUCK_SIZE),
             UVGO_ECONNCLOSED);
  ASSERT_OK(uvgo_chan_send(writer_done, NULL));
}
static void cancel_reason_main(void) {
  go_on = uvgo_chan_new(0, 0);
  writer_done = uvgo_chan_new(0, 1);
  uvgo_listener *ln;
  ASSERT_OK(uvgo_listen("127.0.0.1", 0, 4, &ln));
  ASSERT_OK(uvgo_go(accept_and_hold, ln));
  uvgo_conn *c;
  ASSERT_OK(uvgo_dial(NULL, "127.0.0.1", uvgo_listener_port(ln), &c));
  stuck_buf = calloc(1, STUCK_SIZE);
  ASSERT_NOT_NULL(stuck_buf);
  unsigned here = (unsigned)uvgo_worker_id();
  if (cancel_shutdown) {
    atomic_store(&stuck_started, false);
    ASSERT_OK(uvgo_go_on(here, stuck_writer_flag, c));
    /* One worker: once the writer has started, it has queued its write
     * and parked (nothing in between gives the thread back). */
    while (!atomic_load(&stuck_started))
      ASSERT_OK(uvgo_yield());
  }
  uvgo_ctx *ctx;
  int want;
  if (cancel_how == CANCEL_BY_TIMEOUT) {
    ASSERT_OK(uvgo_ctx_with_timeout(uvgo_ctx_current(), 50, &ctx));
    want = UV_ETIMEDOUT;
  } else {
    ASSERT_OK(uvgo_ctx_with_cancel(uvgo_ctx_current(), &ctx));
    ASSERT_OK(uvgo_go_on(here, cancel_now, ctx)); /* runs once we park */
    want = UV_ECANCELED;
  }
  if (cancel_shutdown)
    ASSERT_ERR(uvgo_conn_shutdown(ctx, c), want);
  else
    ASSERT_ERR(uvgo_conn_write(ctx, c, stuck_buf, STUCK_SIZE), want);
  ASSERT_ERR(uvgo_ctx_err(ctx), want);
  uvgo_ctx_release(ctx);
  if (cancel_shutdown)
    ASSERT_OK(uvgo_chan_recv(writer_done, NULL));
  /* the abort closed the connection: later calls say so */
  ASSERT_ERR(uvgo_conn_write(NULL, c, "x", 1), UVGO_ECONNCLOSED);
  ASSERT_ERR(uvgo_conn_shutdown(NULL, c), UVGO_ECONNCLOSED);
  ASSERT_OK(uvgo_conn_close(c));
  free(stuck_buf);
  ASSERT_OK(uvgo_chan_send(go_on, NULL)); /* release accept_and_hold */
  uvgo_chan_release(go_on);
  uvgo_chan_release(writer_done);
}
static void cancel_reason(bool shutdown, int how) {
  cancel_shutdown = shutdown;
  cancel_how = how;
  run1(cancel_reason_main);
}

UVGO_TEST(net_write_cancelled_returns_ecanceled, net, 30) {
  cancel_reason(false, CANCEL_BY_CANCEL);
}
UVGO_TEST(net_write_deadline_returns_etimedout, net, 30) {
  cancel_reason(false, CANCEL_BY_TIMEOUT);
}
UVGO_TEST(net_shutdown_cancelled_returns_ecanceled, net, 30) {
  cancel_reason(true, CANCEL_BY_CANCEL);
}
UVGO_TEST(net_shutdown_deadline_returns_etimedout, net, 30) {
  cancel_reason(true, CANCEL_BY_TIMEOUT);
}
