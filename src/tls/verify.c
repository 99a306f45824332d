/* Verification set-up for a client (names, IP addresses, SNI) and the
 * classification of OpenSSL failures into uvgo's codes, with the reason
 * kept per connection (and per worker thread for failed handshakes). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls_internal.h"

static _Thread_local char handshake_reason[256];

void uvgo__tls_keep_handshake_reason(const char *why) {
  snprintf(handshake_reason, sizeof handshake_reason, "%s", why);
}

const char *uvgo__tls_handshake_reason(void) { return handshake_reason; }

void uvgo__tls_set_reason(uvgo__tls_conn *t, const char *why) {
  snprintf(t->err, sizeof t->err, "%s", why);
}

/* An IP literal ("127.0.0.1", "::1", "[::1]") into buf without brackets;
 * false for a name. */
static bool ip_literal(const char *name, char *buf, size_t cap) {
  size_t len = strlen(name);
  if (len >= 2 && name[0] == '[' && name[len - 1] == ']') {
    name++;
    len -= 2;
  }
  if (len == 0 || len >= cap)
    return false;
  memcpy(buf, name, len);
  buf[len] = '\0';
  unsigned char tmp[16];
  return inet_pton(AF_INET, buf, tmp) == 1 || inet_pton(AF_INET6, buf, tmp) == 1;
}

int uvgo__tls_setup_client(uvgo__tls_conn *t, const char *server_name,
                           unsigned port) {
  SSL *ssl = t->ssl;
  bool verify = !t->cfg->insecure;
  SSL_set_verify(ssl, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
  const char *name = server_name != NULL ? server_name : "";
  char ip[64];
  if (name[0] != '\0') {
    if (ip_literal(name, ip, sizeof ip)) {
      /* No SNI for an IP (RFC 6066); check the certificate's IP SANs. */
      if (verify &&
          !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip))
        return UV_EINVAL;
    } else {
      if (!SSL_set_tlsext_host_name(ssl, name))
        return UV_ENOMEM;
      if (verify) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (!SSL_set1_host(ssl, name))
          return UV_ENOMEM;
      }
    }
  }
  if (t->cfg->cache_max > 0 && name[0] != '\0') {
    size_t klen = strlen(name) + 8;
    t->cache_key = uvgo__malloc(klen);
    if (t->cache_key == NULL)
      return UV_ENOMEM;
    snprintf(t->cache_key, klen, "%s:%u", name, port);
    SSL_SESSION *s = uvgo__tls_cache_get(t->cfg, t->cache_key);
    if (s != NULL) {
      SSL_set_session(ssl, s); /* takes its own reference */
      SSL_SESSION_free(s);
    }
  }
  return 0;
}

/* Reasons meaning the bytes were not TLS at all. */
static bool not_tls(int reason) {
  switch (reason) {
  case SSL_R_WRONG_VERSION_NUMBER:
  case SSL_R_HTTP_REQUEST:
  case SSL_R_HTTPS_PROXY_REQUEST:
  case SSL_R_UNKNOWN_PROTOCOL:
  case SSL_R_PACKET_LENGTH_TOO_LONG:
  case SSL_R_RECORD_LENGTH_MISMATCH:
  case SSL_R_UNSUPPORTED_PROTOCOL:
  case SSL_R_WRONG_SSL_VERSION:
  case SSL_R_UNEXPECTED_MESSAGE:
  case SSL_R_UNEXPECTED_RECORD:
  case SSL_R_LENGTH_MISMATCH:
  case SSL_R_BAD_PACKET_LENGTH:
  case SSL_R_BAD_RECORD_TYPE:
    return true;
  default:
    return false;
  }
}

int uvgo__tls_failure(uvgo__tls_conn *t, int ssl_err) {
  unsigned long first = ERR_peek_error();
  unsigned long last = ERR_peek_last_error();
  ERR_clear_error();
  if (t->oom) {
    t->oom = false;
    uvgo__tls_set_reason(t, "out of memory");
    return UV_ENOMEM;
  }
  if (ssl_err == SSL_ERROR_SYSCALL || (first == 0 && ssl_err == SSL_ERROR_SSL)) {
    /* Our BIO never fails but for EOF: the peer closed mid-stream. */
    if (t->raw_eof) {
      uvgo__tls_set_reason(t, t->handshaking
                                  ? "peer closed the connection during the "
                                    "handshake"
                                  : "peer closed the connection without "
                                    "close_notify");
      return t->handshaking ? UVGO_ETLSHANDSHAKE : UVGO_ETLSTRUNCATED;
    }
    uvgo__tls_set_reason(t, "TLS failure without a reason");
    return UVGO_ETLS;
  }
  unsigned long e = first != 0 ? first : last;
  int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
  if (reason == ERR_R_MALLOC_FAILURE || ERR_GET_REASON(last) == ERR_R_MALLOC_FAILURE) {
    uvgo__tls_set_reason(t, "out of memory");
    return UV_ENOMEM;
  }
  long vr = SSL_get_verify_result(t->ssl);
  if (lib == ERR_LIB_SSL && reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    uvgo__tls_set_reason(t, vr != X509_V_OK
                                ? X509_verify_cert_error_string(vr)
                                : "certificate verify failed");
    return UVGO_ETLSVERIFY;
  }
  if (lib == ERR_LIB_SSL && reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    uvgo__tls_set_reason(t, "peer closed the connection without close_notify");
    return t->handshaking ? UVGO_ETLSHANDSHAKE : UVGO_ETLSTRUNCATED;
  }
  const char *why = ERR_reason_error_string(e);
  uvgo__tls_set_reason(t, why != NULL ? why : "TLS error");
  if (lib == ERR_LIB_SSL && not_tls(reason) && t->handshaking)
    return UVGO_ETLSRECORD;
  if (t->handshaking)
    return UVGO_ETLSHANDSHAKE;
  return UVGO_ETLS;
}
