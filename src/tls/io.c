/* The TLS record layer's I/O: a custom memory BIO between OpenSSL and the
 * connection's buffers, and the moves between those buffers and raw.
 *
 * Reading. OpenSSL reads ciphertext from `in`; when `in` is empty the BIO
 * says "retry" and notes how much OpenSSL wanted, the OpenSSL call returns
 * SSL_ERROR_WANT_READ, and the caller (outside OpenSSL) refills `in` with
 * one uvgo_conn_read on raw. So at most one read's worth of ciphertext is
 * ever buffered here, and raw's own bounded buffer and the kernel's window
 * push back on the peer exactly as for TCP. While the connection is idle
 * (at a record boundary, nothing buffered anywhere) the read waits with a
 * small buffer inside the record; a record-sized block is taken only while
 * records are arriving, and given back at the next idle wait.
 *
 * Writing. OpenSSL's output is appended to `out`. A flush hands the whole
 * buffer to uvgo_conn_write on raw and puts a fresh (spare) buffer in its
 * place first, so OpenSSL can append (an alert, a KeyUpdate reply from a
 * read) while the write is parked, and no pointer libuv holds ever moves. */
#include <string.h>

#include "tls/tls_internal.h"

/* --- the BIO --- */

static int bio_write(BIO *b, const char *data, size_t len, size_t *written) {
  uvgo__tls_conn *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (uvgo__tls_reserve(t, len) != 0) {
    t->oom = true;
    return 0; /* not a retry: OpenSSL fails the call */
  }
  memcpy(t->out + t->out_len, data, len);
  t->out_len += len;
  *written = len;
  return 1;
}

static int bio_read(BIO *b, char *buf, size_t len, size_t *readbytes) {
  uvgo__tls_conn *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  uint32_t have = t->in_end - t->in_start;
  if (have == 0) {
    if (t->raw_eof)
      return 0; /* EOF: OpenSSL reports it (no close_notify came) */
    t->want = len;
    BIO_set_retry_read(b);
    return 0;
  }
  size_t n = have < len ? have : len;
  memcpy(buf, t->in + t->in_start, n);
  t->in_start += (uint32_t)n;
  *readbytes = n;
  return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  uvgo__tls_conn *t = BIO_get_data(b);
  (void)num;
  (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1; /* the connection flushes after every OpenSSL call */
  case BIO_CTRL_PENDING:
    return t != NULL ? (long)(t->in_end - t->in_start) : 0;
  case BIO_CTRL_WPENDING:
    return t != NULL ? (long)t->out_len : 0;
  case BIO_CTRL_EOF:
    return t != NULL && t->raw_eof && t->in_end == t->in_start;
  default:
    return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int bio_destroy(BIO *b) {
  BIO_set_data(b, NULL);
  return 1;
}

static uv_once_t bio_once = UV_ONCE_INIT;
static BIO_METHOD *bio_meth;

static void make_bio_method(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                               "uvgo connection");
  if (m == NULL)
    return;
  if (!BIO_meth_set_write_ex(m, bio_write) ||
      !BIO_meth_set_read_ex(m, bio_read) || !BIO_meth_set_ctrl(m, bio_ctrl) ||
      !BIO_meth_set_create(m, bio_create) ||
      !BIO_meth_set_destroy(m, bio_destroy)) {
    BIO_meth_free(m);
    return;
  }
  bio_meth = m; /* process lifetime, like OpenSSL's own methods */
}

BIO_METHOD *uvgo__tls_bio_method(void) {
  uv_once(&bio_once, make_bio_method);
  return bio_meth;
}

/* --- buffers --- */

int uvgo__tls_reserve(uvgo__tls_conn *t, size_t n) {
  if (t->out_cap - t->out_len >= n)
    return 0;
  if (t->out == NULL && t->spare != NULL && t->spare_cap >= n) {
    t->out = t->spare;
    t->out_cap = t->spare_cap;
    t->spare = NULL;
    t->spare_cap = 0;
    return 0;
  }
  size_t cap = t->out_cap != 0 ? t->out_cap : 4096;
  while (cap - t->out_len < n)
    cap *= 2;
  char *p = uvgo__realloc(t->out, cap);
  if (p == NULL)
    return UV_ENOMEM;
  t->out = p;
  t->out_cap = cap;
  return 0;
}

void uvgo__tls_trim(uvgo__tls_conn *t) {
  if (!t->wlock.held && t->out_len == 0) {
    uvgo__free(t->out);
    uvgo__free(t->spare);
    t->out = t->spare = NULL;
    t->out_cap = t->spare_cap = 0;
  }
  if (!t->rlock.held && t->in_start == t->in_end && t->in != t->small) {
    uvgo__free(t->in);
    t->in = t->small;
    t->in_cap = UVGO__TLS_IN_SMALL;
    t->in_start = t->in_end = 0;
  }
}

/* --- moving bytes --- */

int uvgo__tls_fill(uvgo__tls_conn *t, uvgo_ctx *ctx) {
  if (t->closing)
    return UVGO_ECONNCLOSED;
  uvgo_conn *raw = t->raw;
  if (t->in_start == t->in_end)
    t->in_start = t->in_end = 0;
  bool idle = !t->handshaking && t->want <= 5 && t->in_end == 0 &&
              raw->start == raw->end;
  if (idle && t->in != t->small) {
    uvgo__free(t->in);
    t->in = t->small;
    t->in_cap = UVGO__TLS_IN_SMALL;
  } else if (!idle && t->in == t->small) {
    char *big = uvgo__malloc(UVGO__TLS_IN_BIG);
    if (big == NULL)
      return UV_ENOMEM;
    memcpy(big, t->small + t->in_start, t->in_end - t->in_start);
    t->in_end -= t->in_start;
    t->in_start = 0;
    t->in = big;
    t->in_cap = UVGO__TLS_IN_BIG;
  }
  if (t->in_end == t->in_cap) {
    memmove(t->in, t->in + t->in_start, t->in_end - t->in_start);
    t->in_end -= t->in_start;
    t->in_start = 0;
  }
  ssize_t n = uvgo_conn_read(ctx, raw, t->in + t->in_end,
                             t->in_cap - t->in_end);
  if (n > 0) {
    t->in_end += (uint32_t)n;
    t->want = 0;
    return 0;
  }
  if (n == UV_EOF)
    t->raw_eof = true;
  return (int)n;
}

int uvgo__tls_flush(uvgo__tls_conn *t, uvgo_ctx *ctx) {
  while (t->out_len > 0) {
    if (t->closing)
      return UVGO_ECONNCLOSED;
    char *p = t->out;
    size_t n = t->out_len, cap = t->out_cap;
    t->out = t->spare;
    t->out_cap = t->spare_cap;
    t->out_len = 0;
    t->spare = NULL;
    t->spare_cap = 0;
    int err = uvgo_conn_write(ctx, t->raw, p, n);
    if (t->spare == NULL) {
      t->spare = p;
      t->spare_cap = cap;
    } else {
      uvgo__free(p);
    }
    if (err != 0)
      return err;
  }
  return 0;
}

/* --- the FIFO lock --- */

int uvgo__tls_lock(uvgo__tls_fifo *l, uvgo_ctx *ctx, const char *call) {
  while (l->held) {
    uvgo__tls_waiter w;
    w.next = NULL;
    uvgo__parker_prepare(&w.p, call);
    uvgo__tls_waiter **pp = &l->head;
    while (*pp != NULL)
      pp = &(*pp)->next;
    *pp = &w;
    int r = uvgo__parker_wait_ctx(&w.p, UVGO__NO_DEADLINE, ctx);
    for (pp = &l->head; *pp != NULL; pp = &(*pp)->next)
      if (*pp == &w) {
        *pp = w.next;
        break;
      }
    if (r < 0)
      return r;
  }
  l->held = true;
  return 0;
}

void uvgo__tls_unlock(uvgo__tls_fifo *l) {
  l->held = false;
  /* Wake the first waiter a context has not already claimed. */
  for (uvgo__tls_waiter *w = l->head; w != NULL; w = w->next)
    if (uvgo__parker_claim(&w->p, 0)) {
      uvgo__parker_wake(&w->p);
      return;
    }
}
