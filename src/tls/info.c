/* What a handshake settled (uvgo_tls_info) and the last failure's reason
 * (uvgo_tls_last_error). */
#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>

#include "tls/tls_internal.h"

static void copy(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void subject(X509 *cert, char *dst, size_t cap) {
  dst[0] = '\0';
  BIO *b = BIO_new(BIO_s_mem());
  if (b == NULL)
    return;
  if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
                         XN_FLAG_RFC2253) >= 0) {
    int n = BIO_read(b, dst, (int)cap - 1);
    dst[n > 0 ? n : 0] = '\0';
  }
  BIO_free(b);
}

int uvgo_tls_info(uvgo_conn *conn, uvgo_tls_conn_info *out) {
  if (out == NULL)
    return UVGO__MISUSE(UV_EINVAL, "NULL out");
  memset(out, 0, sizeof *out);
  int err = uvgo__net_check(conn != NULL ? &conn->o : NULL, UVGO__CONN_MAGIC,
                            "uvgo_tls_info");
  if (err != 0)
    return err;
  if (conn->ops != &uvgo__tls_ops)
    return UVGO_ENOTTLS;
  uvgo__tls_conn *t = (uvgo__tls_conn *)conn;
  if (t->closing)
    return UVGO_ECONNCLOSED;
  SSL *ssl = t->ssl;
  out->version = SSL_version(ssl);
  copy(out->version_name, sizeof out->version_name, SSL_get_version(ssl));
  const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
  if (c != NULL)
    copy(out->cipher, sizeof out->cipher, SSL_CIPHER_standard_name(c));
  const unsigned char *alpn = NULL;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn != NULL) {
    memcpy(out->alpn, alpn, alpn_len); /* <= 255 by the protocol */
    out->alpn[alpn_len] = '\0';
  }
  copy(out->server_name, sizeof out->server_name,
       SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
  out->resumed = SSL_session_reused(ssl) ? 1 : 0;
  X509 *peer = SSL_get0_peer_certificate(ssl);
  if (peer != NULL) {
    subject(peer, out->peer_subject, sizeof out->peer_subject);
    out->peer_verified = SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE &&
                         SSL_get_verify_result(ssl) == X509_V_OK;
  }
  return 0;
}

const char *uvgo_tls_last_error(uvgo_conn *conn) {
  if (conn == NULL)
    return uvgo__tls_handshake_reason();
  if (conn->o.magic != UVGO__CONN_MAGIC || conn->o.home != uvgo__tls_worker ||
      conn->ops != &uvgo__tls_ops)
    return NULL;
  uvgo__tls_conn *t = (uvgo__tls_conn *)conn;
  return t->closing ? NULL : t->err;
}
