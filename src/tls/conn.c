/* TLS connections: the handshake, and the uvgo_conn_* calls on a TLS
 * connection (the net layer dispatches them here through uvgo__tls_ops).
 *
 * Life cycle. A record is made by uvgo_tls_client / uvgo_tls_server and
 * published only once its handshake succeeded. Public calls count
 * themselves in `ops`; close marks the record closing (no call touches raw
 * afterwards), closes raw — which wakes every call parked on it with
 * UVGO_ECONNCLOSED — and frees the record once the calls have left, as
 * the net layer does for sockets.
 *
 * Concurrency. Tasks of the owning worker may read and write at once: a
 * read holds rlock while it feeds OpenSSL from raw, a write holds wlock
 * while it sends; OpenSSL itself is only ever called between waits. */
#include <string.h>

#include <openssl/err.h>

#include "tls/tls_internal.h"

/* --- records --- */

static void free_tls(uvgo__tls_conn *t) {
  SSL_free(t->ssl); /* and the BIO */
  if (t->in != t->small)
    uvgo__free(t->in);
  uvgo__free(t->out);
  uvgo__free(t->spare);
  uvgo__free(t->cache_key);
  uvgo_tls_config_release(t->cfg);
  uvgo__net_free(&t->base.o);
}

/* Start a public call on a published record. */
static int enter(uvgo_conn *c, const char *call, bool need_task,
                 uvgo__tls_conn **out) {
  int err = uvgo__net_check(&c->o, UVGO__CONN_MAGIC, call);
  if (err != 0)
    return err;
  if (need_task && (err = uvgo__net_need_task(call)) != 0)
    return err;
  uvgo__tls_conn *t = (uvgo__tls_conn *)c;
  if (t->closing)
    return UVGO_ECONNCLOSED;
  t->ops++;
  *out = t;
  return 0;
}

static void leave(uvgo__tls_conn *t) {
  if (--t->ops != 0 || !t->close_called)
    return;
  if (t->closer != NULL) {
    if (uvgo__parker_claim(t->closer, 0))
      uvgo__parker_wake(t->closer);
    return;
  }
  if (!t->closer_task)
    free_tls(t); /* closed from a libuv callback: the last call frees */
}

/* An error that ends the stream for good, as the next calls report it:
 * a write aborted by its context left raw closed. */
static int sticky(int err) {
  return err == UV_ECANCELED || err == UV_ETIMEDOUT ? UVGO_ECONNCLOSED : err;
}

/* Send what an OpenSSL call outside a write produced (a KeyUpdate reply,
 * an alert), unless a write is sending already: it sends all of `out`. */
static void kick(uvgo__tls_conn *t, uvgo_ctx *ctx) {
  if (t->wlock.held || t->out_len == 0)
    return;
  t->wlock.held = true;
  int err = uvgo__tls_flush(t, ctx);
  if (err != 0 && t->write_err == 0)
    t->write_err = sticky(err);
  uvgo__tls_unlock(&t->wlock);
}

/* --- the handshake --- */

static int handshake(uvgo__tls_conn *t, uvgo_ctx *ctx) {
  int err;
  t->handshaking = true;
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, r);
    int fail = 0;
    if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ)
      fail = uvgo__tls_failure(t, e);
    /* Our flight, or the alert that explains the failure to the peer. */
    int ferr = uvgo__tls_flush(t, ctx);
    if (fail != 0 || ferr != 0 || e == SSL_ERROR_NONE) {
      err = fail != 0 ? fail : ferr;
      break;
    }
    err = uvgo__tls_fill(t, ctx);
    if (err == UV_EOF)
      continue; /* OpenSSL now sees the end and says what it means */
    if (err != 0)
      break;
  }
  t->handshaking = false;
  return err;
}

static unsigned peer_port(uvgo_conn *raw) {
  struct sockaddr_storage ss;
  if (uvgo_conn_peer_addr(raw, &ss) != 0)
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return 0;
}

static int start(uvgo_ctx *ctx, uvgo_conn *raw, uvgo_tls_config *cfg,
                 bool server, const char *name, uvgo_conn **out,
                 const char *call) {
  if (out == NULL)
    return uvgo__misuse(UV_EINVAL, call, "NULL out",
                        __builtin_return_address(0));
  *out = NULL;
  uvgo__tls_keep_handshake_reason("");
  int err = uvgo__net_check(raw != NULL ? &raw->o : NULL, UVGO__CONN_MAGIC,
                            call);
  if (err != 0)
    return err;
  if (raw->ops != NULL)
    return uvgo__misuse(UV_EINVAL, call, "raw is already a TLS connection",
                        __builtin_return_address(0));
  if (raw->o.close_called || raw->o.handle_closing)
    return UVGO_ECONNCLOSED;
  if ((err = uvgo__tls_check_config(cfg, call)) != 0)
    return err;
  if ((err = uvgo__net_need_task(call)) != 0)
    return err;
  if ((err = uvgo__tls_config_freeze(cfg)) != 0)
    return err;
  if (server && !cfg->have_cert) {
    uvgo__tls_keep_handshake_reason("the server config has no certificate");
    return UVGO__MISUSE(UVGO_ETLSCONFIG, "server config without certificate");
  }
  if (!server && !cfg->insecure && (name == NULL || name[0] == '\0'))
    return uvgo__misuse(UV_EINVAL, call,
                        "either a server name or insecure_skip_verify must "
                        "be given",
                        __builtin_return_address(0));
  BIO_METHOD *meth = uvgo__tls_bio_method();
  if (meth == NULL)
    return UV_ENOMEM;
  uvgo__tls_conn *t = uvgo__calloc(1, sizeof *t);
  if (t == NULL)
    return UV_ENOMEM;
  t->base.o.home = raw->o.home;
  t->base.o.is_pipe = raw->o.is_pipe;
  t->raw = raw;
  t->cfg = cfg;
  uvgo_tls_config_retain(cfg);
  t->server = server;
  t->in = t->small;
  t->in_cap = UVGO__TLS_IN_SMALL;
  ERR_clear_error();
  err = UV_ENOMEM;
  t->ssl = SSL_new(cfg->ctx);
  if (t->ssl != NULL)
    t->bio = BIO_new(meth);
  if (t->bio != NULL) {
    BIO_set_data(t->bio, t);
    SSL_set_bio(t->ssl, t->bio, t->bio); /* one reference, for both */
    err = SSL_set_ex_data(t->ssl, uvgo__tls_ex_index(), t) ? 0 : UV_ENOMEM;
  }
  if (err == 0 && server) {
    SSL_set_accept_state(t->ssl);
    int mode = SSL_VERIFY_NONE;
    if (cfg->client_auth == UVGO_TLS_CLIENT_AUTH_REQUEST)
      mode = SSL_VERIFY_PEER;
    else if (cfg->client_auth == UVGO_TLS_CLIENT_AUTH_REQUIRE)
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_set_verify(t->ssl, mode, NULL);
  } else if (err == 0) {
    SSL_set_connect_state(t->ssl);
    err = uvgo__tls_setup_client(t, name, peer_port(raw));
  }
  if (err == 0)
    err = handshake(t, ctx);
  if (err != 0) {
    if (t->err[0] != '\0')
      uvgo__tls_keep_handshake_reason(t->err);
    else
      uvgo__tls_keep_handshake_reason(uvgo_strerror(err));
    ERR_clear_error();
    t->base.o.magic = UVGO__CONN_MAGIC; /* uvgo__net_free marks it dead */
    free_tls(t);
    return err;
  }
  t->base.o.magic = UVGO__CONN_MAGIC;
  t->base.ops = &uvgo__tls_ops;
  uvgo__tls_trim(t);
  *out = &t->base;
  return 0;
}

int uvgo_tls_client(uvgo_ctx *ctx, uvgo_conn *raw, uvgo_tls_config *cfg,
                    const char *server_name, uvgo_conn **out) {
  return start(ctx, raw, cfg, false, server_name, out, "uvgo_tls_client");
}

int uvgo_tls_server(uvgo_ctx *ctx, uvgo_conn *raw, uvgo_tls_config *cfg,
                    uvgo_conn **out) {
  return start(ctx, raw, cfg, true, NULL, out, "uvgo_tls_server");
}

int uvgo_tls_dial(uvgo_ctx *ctx, const char *host, unsigned port,
                  uvgo_tls_config *cfg, uvgo_conn **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  int err = uvgo__tls_check_config(cfg, "uvgo_tls_dial");
  if (err != 0)
    return err;
  if (!cfg->insecure && (host == NULL || host[0] == '\0'))
    return UVGO__MISUSE(UV_EINVAL, "NULL or empty host");
  uvgo_conn *raw;
  if ((err = uvgo_dial(ctx, host, port, &raw)) != 0)
    return err;
  err = uvgo_tls_client(ctx, raw, cfg, host, out);
  if (err != 0)
    uvgo_conn_close(raw);
  return err;
}

/* --- the calls on a TLS connection --- */

static ssize_t tls_read(uvgo_ctx *ctx, uvgo_conn *c, void *buf, size_t len) {
  uvgo__tls_conn *t;
  int err = enter(c, "uvgo_conn_read", true, &t);
  if (err != 0)
    return err;
  ssize_t r;
  if (buf == NULL || len == 0) {
    r = UVGO__MISUSE(UV_EINVAL, "NULL buffer or zero length");
    goto out;
  }
  if (len > INT32_MAX)
    len = INT32_MAX;
  if ((r = uvgo__tls_lock(&t->rlock, ctx, "uvgo_conn_read")) != 0)
    goto out;
  for (;;) {
    if (t->closing) {
      r = UVGO_ECONNCLOSED;
      break;
    }
    if (t->read_err != 0) {
      r = t->read_err;
      break;
    }
    ERR_clear_error();
    size_t got = 0;
    int ok = SSL_read_ex(t->ssl, buf, len, &got);
    int e = ok ? SSL_ERROR_NONE : SSL_get_error(t->ssl, 0);
    int fail = 0;
    if (e == SSL_ERROR_ZERO_RETURN) {
      ERR_clear_error();
      fail = UV_EOF; /* close_notify: the clean end */
    } else if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ) {
      fail = uvgo__tls_failure(t, e);
    }
    kick(t, ctx);
    if (ok) {
      r = (ssize_t)got;
      break;
    }
    if (fail != 0) {
      t->read_err = fail;
      r = fail;
      break;
    }
    err = uvgo__tls_fill(t, ctx);
    if (err == UV_EOF)
      continue; /* OpenSSL reports the truncation */
    if (err != 0) {
      r = err; /* a cancel or no memory leaves the connection usable */
      break;
    }
  }
  uvgo__tls_unlock(&t->rlock);
out:
  leave(t);
  return r;
}

static int tls_write(uvgo_ctx *ctx, uvgo_conn *c, const void *buf,
                     size_t len) {
  uvgo__tls_conn *t;
  int err = enter(c, "uvgo_conn_write", true, &t);
  if (err != 0)
    return err;
  if (buf == NULL && len > 0) {
    err = UVGO__MISUSE(UV_EINVAL, "NULL buffer");
    goto out;
  }
  if (len == 0 || (err = uvgo__tls_lock(&t->wlock, ctx, "uvgo_conn_write")) != 0)
    goto out;
  err = t->write_err;
  for (size_t off = 0; err == 0 && off < len;) {
    if (t->closing) {
      err = UVGO_ECONNCLOSED;
      break;
    }
    size_t chunk = len - off < UVGO__TLS_WRITE_CHUNK ? len - off
                                                     : UVGO__TLS_WRITE_CHUNK;
    /* Room for the ciphertext first, so OpenSSL's write cannot fail
     * half-way for want of memory (the connection stays usable). */
    if ((err = uvgo__tls_reserve(t, chunk + (chunk / 16384 + 1) * 256)) != 0)
      break;
    ERR_clear_error();
    size_t w = 0;
    if (!SSL_write_ex(t->ssl, (const char *)buf + off, chunk, &w)) {
      err = t->write_err = uvgo__tls_failure(t, SSL_get_error(t->ssl, 0));
      break;
    }
    off += w;
    if ((err = uvgo__tls_flush(t, ctx)) != 0)
      t->write_err = sticky(err);
  }
  uvgo__tls_unlock(&t->wlock);
  uvgo__tls_trim(t);
out:
  leave(t);
  return err;
}

static int tls_shutdown(uvgo_ctx *ctx, uvgo_conn *c) {
  uvgo__tls_conn *t;
  int err = enter(c, "uvgo_conn_shutdown", true, &t);
  if (err != 0)
    return err;
  if ((err = uvgo__tls_lock(&t->wlock, ctx, "uvgo_conn_shutdown")) != 0)
    goto out;
  err = t->write_err;
  if (err == 0 && !t->sent_close_notify) {
    ERR_clear_error();
    if ((err = uvgo__tls_reserve(t, 256)) == 0) {
      int r = SSL_shutdown(t->ssl); /* 0: sent, the peer's still to come */
      if (r < 0 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ)
        err = uvgo__tls_failure(t, SSL_get_error(t->ssl, r));
      ERR_clear_error();
    }
    if (err == 0) {
      t->sent_close_notify = true;
      err = uvgo__tls_flush(t, ctx);
    }
  }
  /* Then a FIN, as for TCP: reading goes on until the peer's end. */
  if (err == 0)
    err = t->closing ? UVGO_ECONNCLOSED : uvgo_conn_shutdown(ctx, t->raw);
  if (err != 0 && err != UV_ENOMEM)
    t->write_err = sticky(err);
  uvgo__tls_unlock(&t->wlock);
  uvgo__tls_trim(t);
out:
  leave(t);
  return err;
}

static int tls_close(uvgo_conn *c) {
  uvgo__tls_conn *t = (uvgo__tls_conn *)c;
  if (UVGO__UNLIKELY(t->base.o.home != uvgo__tls_worker))
    return UVGO__MISUSE(UV_EINVAL,
                        "called off the worker that owns the connection");
  if (UVGO__UNLIKELY(t->close_called))
    return UVGO__MISUSE(UVGO_ERELEASED, "closed twice");
  t->close_called = true;
  t->closing = true;
  t->closer_task = uvgo__current_task() != NULL;
  uvgo_conn *raw = t->raw;
  t->raw = NULL;
  /* Best effort, never waiting: tell the peer this is a clean end (Go's
   * Close sends close_notify too), unless a write is under way or the
   * stream already failed. */
  if (!t->sent_close_notify && !t->wlock.held && t->write_err == 0 &&
      !raw->o.handle_closing && uvgo__tls_reserve(t, 256) == 0) {
    ERR_clear_error();
    size_t before = t->out_len;
    if (SSL_shutdown(t->ssl) >= 0 && t->out_len > before && before == 0) {
      uv_buf_t b = uv_buf_init(t->out, (unsigned)t->out_len);
      (void)uv_try_write(&raw->o.h.stream, &b, 1);
    }
    ERR_clear_error();
    t->sent_close_notify = true;
  }
  /* Wakes the calls parked on raw; from a task, returns once raw is
   * freed. */
  uvgo_conn_close(raw);
  if (uvgo__current_task() == NULL) {
    if (t->ops == 0)
      free_tls(t);
    return 0; /* else the last call to leave frees it */
  }
  while (t->ops != 0) {
    uvgo__parker p;
    uvgo__parker_prepare(&p, "uvgo_conn_close");
    t->closer = &p;
    uvgo__net_wait_shielded(&p);
    t->closer = NULL;
  }
  free_tls(t);
  return 0;
}

static int tls_addr(uvgo_conn *c, bool peer, struct sockaddr_storage *out) {
  uvgo__tls_conn *t;
  int err = enter(c, peer ? "uvgo_conn_peer_addr" : "uvgo_conn_local_addr",
                  false, &t);
  if (err != 0)
    return err;
  err = peer ? uvgo_conn_peer_addr(t->raw, out)
             : uvgo_conn_local_addr(t->raw, out);
  leave(t);
  return err;
}

static int tls_nodelay(uvgo_conn *c, int enable) {
  uvgo__tls_conn *t;
  int err = enter(c, "uvgo_conn_set_nodelay", false, &t);
  if (err != 0)
    return err;
  err = uvgo_conn_set_nodelay(t->raw, enable);
  leave(t);
  return err;
}

static int tls_keepalive(uvgo_conn *c, int enable, unsigned delay_s) {
  uvgo__tls_conn *t;
  int err = enter(c, "uvgo_conn_set_keepalive", false, &t);
  if (err != 0)
    return err;
  err = uvgo_conn_set_keepalive(t->raw, enable, delay_s);
  leave(t);
  return err;
}

const uvgo__conn_ops uvgo__tls_ops = {
    .read = tls_read,
    .write = tls_write,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .addr = tls_addr,
    .set_nodelay = tls_nodelay,
    .set_keepalive = tls_keepalive,
};
