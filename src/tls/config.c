/* TLS configs: one SSL_CTX shared by every worker, reference counted,
 * immutable once a connection used it; and the client session cache.
 *
 * Setters run under the config's mutex and refuse (UV_EBUSY) once the
 * config is frozen. Freezing happens at the first handshake, also under
 * the mutex, so a setter racing a first use either lands before it or
 * fails; after that only SSL_new reads the SSL_CTX, which OpenSSL allows
 * from any thread. Every load is all-or-nothing: certificates and keys are
 * parsed and checked before the SSL_CTX is touched. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls/tls_internal.h"

static uv_once_t ex_once = UV_ONCE_INIT;
static int ex_index = -1;

static void make_ex_index(void) {
  ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

int uvgo__tls_ex_index(void) {
  uv_once(&ex_once, make_ex_index);
  return ex_index;
}

/* --- sessions --- */

/* OpenSSL hands a client every new session (TLS 1.3: every ticket). */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
  if (SSL_is_server(ssl))
    return 0;
  uvgo__tls_conn *t = SSL_get_ex_data(ssl, uvgo__tls_ex_index());
  const char *key = t != NULL ? t->cache_key : NULL;
  if (key == NULL || !SSL_SESSION_is_resumable(sess))
    return 0;
  uvgo__tls_cache_put(t->cfg, key, sess);
  return 0; /* the cache took its own copy */
}

SSL_SESSION *uvgo__tls_cache_get(uvgo_tls_config *cfg, const char *key) {
  SSL_SESSION *s = NULL;
  uv_mutex_lock(&cfg->mu);
  for (size_t i = 0; i < cfg->cache_n; i++)
    if (strcmp(cfg->cache[i].key, key) == 0) {
      /* A private copy, made under the lock: a session shared by two
       * handshakes on two workers is read by one (OpenSSL copies it while
       * resuming) while the other's put may drop the last reference, and
       * OpenSSL's own reference counting is invisible to TSan. */
      if (cfg->cache[i].sess != NULL) /* NULL: its copy failed (ENOMEM) */
        s = SSL_SESSION_dup(cfg->cache[i].sess);
      cfg->cache[i].used = ++cfg->cache_clock;
      break;
    }
  uv_mutex_unlock(&cfg->mu);
  return s;
}

void uvgo__tls_cache_put(uvgo_tls_config *cfg, const char *key,
                         SSL_SESSION *sess) {
  if (cfg->cache_max == 0)
    return;
  uv_mutex_lock(&cfg->mu);
  uvgo__tls_session *slot = NULL;
  for (size_t i = 0; i < cfg->cache_n; i++)
    if (strcmp(cfg->cache[i].key, key) == 0)
      slot = &cfg->cache[i];
  if (slot == NULL && cfg->cache == NULL)
    cfg->cache = uvgo__calloc(cfg->cache_max, sizeof *cfg->cache);
  if (slot == NULL && cfg->cache != NULL) {
    if (cfg->cache_n < cfg->cache_max) {
      char *k = uvgo__malloc(strlen(key) + 1);
      if (k != NULL) {
        strcpy(k, key);
        slot = &cfg->cache[cfg->cache_n++];
        slot->key = k;
        slot->sess = NULL;
      }
    } else {
      /* Full: reuse the least recently used entry (O(n), n is small). */
      slot = &cfg->cache[0];
      for (size_t i = 1; i < cfg->cache_n; i++)
        if (cfg->cache[i].used < slot->used)
          slot = &cfg->cache[i];
      char *k = uvgo__malloc(strlen(key) + 1);
      if (k == NULL) {
        slot = NULL;
      } else {
        strcpy(k, key);
        uvgo__free(slot->key);
        slot->key = k;
      }
    }
  }
  /* The cache keeps its own copy (see uvgo__tls_cache_get), not the
   * connection's session, which its handshake may still be using. */
  SSL_SESSION *copy = slot != NULL ? SSL_SESSION_dup(sess) : NULL;
  if (copy != NULL) {
    if (slot->sess != NULL)
      SSL_SESSION_free(slot->sess);
    slot->sess = copy;
    slot->used = ++cfg->cache_clock;
  }
  uv_mutex_unlock(&cfg->mu);
}

static void cache_clear(uvgo_tls_config *cfg) {
  for (size_t i = 0; i < cfg->cache_n; i++) {
    uvgo__free(cfg->cache[i].key);
    if (cfg->cache[i].sess != NULL)
      SSL_SESSION_free(cfg->cache[i].sess);
  }
  uvgo__free(cfg->cache);
  cfg->cache = NULL;
  cfg->cache_n = 0;
}

/* --- ALPN on the server --- */

static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg) {
  uvgo_tls_config *cfg = arg;
  (void)ssl;
  if (cfg->alpn == NULL)
    return SSL_TLSEXT_ERR_NOACK; /* we speak no ALPN: ignore the offer */
  /* Server preference: the first of ours the client offered. */
  for (size_t i = 0; i < cfg->alpn_len; i += 1u + cfg->alpn[i])
    for (unsigned j = 0; j < inlen; j += 1u + in[j])
      if (in[j] == cfg->alpn[i] && j + 1u + in[j] <= inlen &&
          memcmp(in + j + 1, cfg->alpn + i + 1, in[j]) == 0) {
        *out = in + j + 1;
        *outlen = in[j];
        return SSL_TLSEXT_ERR_OK;
      }
  return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol, as Go */
}

/* --- life cycle --- */

int uvgo_tls_config_new(uvgo_tls_config **out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  *out = NULL;
  uvgo_tls_config *cfg = uvgo__calloc(1, sizeof *cfg);
  if (cfg == NULL)
    return UV_ENOMEM;
  if (uv_mutex_init(&cfg->mu) != 0) {
    uvgo__free(cfg);
    return UV_ENOMEM;
  }
  ERR_clear_error();
  cfg->ctx = SSL_CTX_new(TLS_method());
  if (cfg->ctx == NULL) {
    unsigned long e = ERR_peek_last_error();
    ERR_clear_error();
    uv_mutex_destroy(&cfg->mu);
    uvgo__free(cfg);
    return ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? UV_ENOMEM : UVGO_ETLS;
  }
  SSL_CTX *c = cfg->ctx;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, 0);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* Drop the record buffers while a connection is idle. */
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  /* Clients keep sessions in our cache; servers resume with tickets
   * (stateless), so no server-side store is needed. */
  SSL_CTX_set_session_cache_mode(
      c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c, on_new_session);
  SSL_CTX_set_session_id_context(c, (const unsigned char *)"uvgo", 4);
  SSL_CTX_set_alpn_select_cb(c, on_alpn, cfg);
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
  cfg->cache_max = UVGO_TLS_SESSION_CACHE_DEFAULT;
  cfg->magic = UVGO__TLS_CONFIG_MAGIC;
  atomic_init(&cfg->refs, 1);
  *out = cfg;
  return 0;
}

int uvgo_tls_config_retain(uvgo_tls_config *cfg) {
  int err = uvgo__tls_check_config(cfg, "uvgo_tls_config_retain");
  if (err != 0)
    return err;
  atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
  return 0;
}

int uvgo_tls_config_release(uvgo_tls_config *cfg) {
  if (cfg == NULL)
    return 0;
  int err = uvgo__tls_check_config(cfg, "uvgo_tls_config_release");
  if (err != 0)
    return err;
  long left = atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel);
  if (left <= 0) {
    atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return UVGO__MISUSE(UVGO_ERELEASED, "config released too often");
  }
  if (left > 1)
    return 0;
  cfg->magic = UVGO__DEAD_MAGIC;
  cache_clear(cfg);
  SSL_CTX_free(cfg->ctx);
  uvgo__free(cfg->alpn);
  uv_mutex_destroy(&cfg->mu);
  uvgo__free(cfg);
  return 0;
}

/* OpenSSL decodes a certificate's extensions (key identifiers, basic
 * constraints) on first use and publishes them with an atomic flag. Its
 * libcrypto is not built for TSan, so under TSan two workers verifying
 * against the same CA at once look like a race on the CA's key
 * identifier, and would be one on a library built without those
 * atomics. Decoding every shared certificate here, while one thread owns
 * the config, leaves only reads for the handshakes. Certificates a hashed
 * CA directory loads later are decoded by OpenSSL, under its own rules. */
static void decode_shared_certs(uvgo_tls_config *cfg) {
  X509_STORE *store = SSL_CTX_get_cert_store(cfg->ctx);
  if (X509_STORE_lock(store)) {
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
      X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
      if (x != NULL)
        X509_check_purpose(x, -1, 0);
    }
    X509_STORE_unlock(store);
  }
  X509 *leaf = SSL_CTX_get0_certificate(cfg->ctx);
  if (leaf != NULL)
    X509_check_purpose(leaf, -1, 0);
  STACK_OF(X509) *chain = NULL;
  if (SSL_CTX_get0_chain_certs(cfg->ctx, &chain) && chain != NULL)
    for (int i = 0; i < sk_X509_num(chain); i++)
      X509_check_purpose(sk_X509_value(chain, i), -1, 0);
  ERR_clear_error();
}

int uvgo__tls_config_freeze(uvgo_tls_config *cfg) {
  int err = 0;
  uv_mutex_lock(&cfg->mu);
  if (!cfg->frozen) {
    if (!cfg->have_ca) {
      /* The system store; SSL_CERT_FILE / SSL_CERT_DIR override it. A
       * machine without one simply trusts nothing. */
      ERR_set_mark();
      SSL_CTX_set_default_verify_paths(cfg->ctx);
      ERR_pop_to_mark();
    }
    decode_shared_certs(cfg);
    cfg->frozen = true;
  }
  uv_mutex_unlock(&cfg->mu);
  return err;
}

/* --- setters --- */

/* Lock cfg for a change; @return 0 (locked) or an error (not locked). */
static int begin(uvgo_tls_config *cfg, const char *call) {
  int err = uvgo__tls_check_config(cfg, call);
  if (err != 0)
    return err;
  uv_mutex_lock(&cfg->mu);
  if (cfg->frozen) {
    uv_mutex_unlock(&cfg->mu);
    return UV_EBUSY;
  }
  ERR_clear_error();
  return 0;
}

static int end(uvgo_tls_config *cfg, int err) {
  ERR_clear_error();
  uv_mutex_unlock(&cfg->mu);
  return err;
}

/* An OpenSSL failure while loading: out of memory, or bad data. */
static int load_error(void) {
  unsigned long e = ERR_peek_last_error();
  if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
    return UV_ENOMEM;
  return UVGO_ETLSCONFIG;
}

/* A memory BIO over a file's bytes or PEM text. */
static int open_source(const char *path, const char *pem, size_t len,
                       BIO **out) {
  *out = NULL;
  if (path != NULL) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
      return -errno;
    BIO *b = BIO_new_fp(f, BIO_CLOSE);
    if (b == NULL) {
      fclose(f);
      return UV_ENOMEM;
    }
    *out = b;
    return 0;
  }
  if (pem == NULL)
    return UV_EINVAL;
  if (len == 0)
    len = strlen(pem);
  if (len > INT32_MAX)
    return UV_EINVAL;
  *out = BIO_new_mem_buf(pem, (int)len);
  return *out != NULL ? 0 : UV_ENOMEM;
}

/* Every certificate in src; @return 0 (at least one), or an error. */
static int read_certs(BIO *src, STACK_OF(X509) **out) {
  STACK_OF(X509) *certs = sk_X509_new_null();
  if (certs == NULL)
    return UV_ENOMEM;
  for (;;) {
    X509 *x = PEM_read_bio_X509(src, NULL, NULL, NULL);
    if (x == NULL)
      break;
    if (!sk_X509_push(certs, x)) {
      X509_free(x);
      sk_X509_pop_free(certs, X509_free);
      return UV_ENOMEM;
    }
  }
  /* The loop ends at the end of the data (PEM_R_NO_START_LINE) or at a
   * malformed block. */
  unsigned long e = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(e) == ERR_LIB_PEM &&
                   ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
  if (!clean_end || sk_X509_num(certs) == 0) {
    int err = clean_end || e == 0 ? UVGO_ETLSCONFIG : load_error();
    sk_X509_pop_free(certs, X509_free);
    return err;
  }
  ERR_clear_error();
  *out = certs;
  return 0;
}

static int add_ca(uvgo_tls_config *cfg, const char *path, const char *pem,
                  size_t len, const char *call) {
  if ((path == NULL && pem == NULL) || (path != NULL && path[0] == '\0'))
    return uvgo__misuse(UV_EINVAL, call, "NULL or empty source",
                        __builtin_return_address(0));
  int err = begin(cfg, call);
  if (err != 0)
    return err;
  BIO *src;
  err = open_source(path, pem, len, &src);
  STACK_OF(X509) *certs = NULL;
  if (err == 0)
    err = read_certs(src, &certs);
  BIO_free(src);
  if (err == 0) {
    X509_STORE *store = SSL_CTX_get_cert_store(cfg->ctx);
    for (int i = 0; i < sk_X509_num(certs) && err == 0; i++)
      if (!X509_STORE_add_cert(store, sk_X509_value(certs, i)))
        err = load_error(); /* a duplicate is not an error in OpenSSL 3 */
    sk_X509_pop_free(certs, X509_free);
    if (err == 0)
      cfg->have_ca = true;
  }
  return end(cfg, err);
}

int uvgo_tls_config_set_ca_file(uvgo_tls_config *cfg, const char *path) {
  return add_ca(cfg, path, NULL, 0, "uvgo_tls_config_set_ca_file");
}

int uvgo_tls_config_set_ca_pem(uvgo_tls_config *cfg, const char *pem,
                               size_t len) {
  return add_ca(cfg, NULL, pem, len, "uvgo_tls_config_set_ca_pem");
}

int uvgo_tls_config_set_ca_dir(uvgo_tls_config *cfg, const char *path) {
  if (path == NULL || path[0] == '\0')
    return UVGO__MISUSE(UV_EINVAL, "NULL or empty directory");
  int err = begin(cfg, "uvgo_tls_config_set_ca_dir");
  if (err != 0)
    return err;
  DIR *d = opendir(path);
  if (d == NULL)
    return end(cfg, -errno);
  closedir(d);
  if (!SSL_CTX_load_verify_locations(cfg->ctx, NULL, path))
    err = load_error();
  else
    cfg->have_ca = true;
  return end(cfg, err);
}

static int set_cert(uvgo_tls_config *cfg, const char *chain_path,
                    const char *key_path, const char *chain_pem,
                    size_t chain_len, const char *key_pem, size_t key_len,
                    const char *call) {
  int err = begin(cfg, call);
  if (err != 0)
    return err;
  BIO *src;
  STACK_OF(X509) *certs = NULL;
  EVP_PKEY *key = NULL;
  err = open_source(chain_path, chain_pem, chain_len, &src);
  if (err == 0) {
    err = read_certs(src, &certs);
    BIO_free(src);
  }
  if (err == 0)
    err = open_source(key_path, key_pem, key_len, &src);
  if (err == 0) {
    key = PEM_read_bio_PrivateKey(src, NULL, NULL, NULL);
    if (key == NULL)
      err = load_error();
    BIO_free(src);
  }
  if (err == 0) {
    X509 *leaf = sk_X509_shift(certs);
    if (!X509_check_private_key(leaf, key))
      err = UVGO_ETLSKEY;
    else if (!SSL_CTX_use_cert_and_key(cfg->ctx, leaf, key, certs, 1))
      err = load_error();
    else
      cfg->have_cert = true;
    X509_free(leaf);
  }
  EVP_PKEY_free(key);
  sk_X509_pop_free(certs, X509_free);
  return end(cfg, err);
}

int uvgo_tls_config_set_cert_files(uvgo_tls_config *cfg,
                                   const char *chain_path,
                                   const char *key_path) {
  if (chain_path == NULL || key_path == NULL || chain_path[0] == '\0' ||
      key_path[0] == '\0')
    return UVGO__MISUSE(UV_EINVAL, "NULL or empty path");
  return set_cert(cfg, chain_path, key_path, NULL, 0, NULL, 0,
                  "uvgo_tls_config_set_cert_files");
}

int uvgo_tls_config_set_cert_pem(uvgo_tls_config *cfg, const char *chain_pem,
                                 size_t chain_len, const char *key_pem,
                                 size_t key_len) {
  if (chain_pem == NULL || key_pem == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL PEM");
  return set_cert(cfg, NULL, NULL, chain_pem, chain_len, key_pem, key_len,
                  "uvgo_tls_config_set_cert_pem");
}

int uvgo_tls_config_set_alpn(uvgo_tls_config *cfg, const char *const *protos,
                             size_t n) {
  if (n > 0 && protos == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL protocol list");
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = protos[i] != NULL ? strlen(protos[i]) : 0;
    if (l == 0 || l > 255)
      return UVGO__MISUSE(UV_EINVAL, "ALPN protocol not 1..255 bytes");
    len += 1 + l;
  }
  if (len > 65535)
    return UVGO__MISUSE(UV_EINVAL, "ALPN list too long");
  int err = begin(cfg, "uvgo_tls_config_set_alpn");
  if (err != 0)
    return err;
  unsigned char *wire = NULL;
  if (n > 0) {
    wire = uvgo__malloc(len);
    if (wire == NULL)
      return end(cfg, UV_ENOMEM);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
      size_t l = strlen(protos[i]);
      wire[off++] = (unsigned char)l;
      memcpy(wire + off, protos[i], l);
      off += l;
    }
  }
  /* 0 is success for this one. */
  if (SSL_CTX_set_alpn_protos(cfg->ctx, wire, (unsigned)len) != 0) {
    uvgo__free(wire);
    return end(cfg, UV_ENOMEM);
  }
  uvgo__free(cfg->alpn);
  cfg->alpn = wire;
  cfg->alpn_len = len;
  return end(cfg, 0);
}

static bool known_version(int v) {
  return v == UVGO_TLS_VERSION_1_2 || v == UVGO_TLS_VERSION_1_3;
}

int uvgo_tls_config_set_min_version(uvgo_tls_config *cfg, int version) {
  if (!known_version(version))
    return UVGO__MISUSE(UV_EINVAL, "unknown TLS version");
  int err = begin(cfg, "uvgo_tls_config_set_min_version");
  if (err != 0)
    return err;
  if (!SSL_CTX_set_min_proto_version(cfg->ctx, version))
    err = UV_EINVAL;
  return end(cfg, err);
}

int uvgo_tls_config_set_max_version(uvgo_tls_config *cfg, int version) {
  if (version != 0 && !known_version(version))
    return UVGO__MISUSE(UV_EINVAL, "unknown TLS version");
  int err = begin(cfg, "uvgo_tls_config_set_max_version");
  if (err != 0)
    return err;
  if (!SSL_CTX_set_max_proto_version(cfg->ctx, version))
    err = UV_EINVAL;
  return end(cfg, err);
}

int uvgo_tls_config_set_ciphers(uvgo_tls_config *cfg, const char *tls12,
                                const char *tls13) {
  int err = begin(cfg, "uvgo_tls_config_set_ciphers");
  if (err != 0)
    return err;
  /* Check both before changing either (all-or-nothing). */
  SSL_CTX *probe = SSL_CTX_new(TLS_method());
  if (probe == NULL)
    return end(cfg, UV_ENOMEM);
  if ((tls12 != NULL && !SSL_CTX_set_cipher_list(probe, tls12)) ||
      (tls13 != NULL && !SSL_CTX_set_ciphersuites(probe, tls13)))
    err = UVGO_ETLSCONFIG;
  SSL_CTX_free(probe);
  if (err == 0 && tls12 != NULL && !SSL_CTX_set_cipher_list(cfg->ctx, tls12))
    err = load_error();
  if (err == 0 && tls13 != NULL && !SSL_CTX_set_ciphersuites(cfg->ctx, tls13))
    err = load_error();
  return end(cfg, err);
}

int uvgo_tls_config_set_client_auth(uvgo_tls_config *cfg,
                                    uvgo_tls_client_auth mode) {
  if (mode != UVGO_TLS_CLIENT_AUTH_NONE &&
      mode != UVGO_TLS_CLIENT_AUTH_REQUEST &&
      mode != UVGO_TLS_CLIENT_AUTH_REQUIRE)
    return UVGO__MISUSE(UV_EINVAL, "unknown client auth mode");
  int err = begin(cfg, "uvgo_tls_config_set_client_auth");
  if (err != 0)
    return err;
  cfg->client_auth = mode;
  return end(cfg, 0);
}

int uvgo_tls_config_set_insecure_skip_verify(uvgo_tls_config *cfg, int skip) {
  int err = begin(cfg, "uvgo_tls_config_set_insecure_skip_verify");
  if (err != 0)
    return err;
  cfg->insecure = skip != 0;
  return end(cfg, 0);
}

int uvgo_tls_config_set_session_cache(uvgo_tls_config *cfg,
                                      size_t max_sessions) {
  if (max_sessions > 1000000)
    return UVGO__MISUSE(UV_EINVAL, "session cache over 1,000,000 entries");
  int err = begin(cfg, "uvgo_tls_config_set_session_cache");
  if (err != 0)
    return err;
  cache_clear(cfg);
  cfg->cache_max = max_sessions;
  return end(cfg, 0);
}
