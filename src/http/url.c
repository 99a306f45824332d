/* URLs through liburiparser (RFC 3986): parsing the absolute http(s) URLs
 * a request names, and resolving a redirect's Location against the URL
 * it came from. Nothing here parses URL syntax by hand: uriparser
 * validates, and the pieces are cut from its text ranges. */
#include <stdio.h>
#include <string.h>
#include <uriparser/Uri.h>

#include "http/client_internal.h"

static char *dup_range(const char *first, const char *after) {
  size_t n = (size_t)(after - first);
  char *s = uvgo__malloc(n + 1);
  if (s != NULL) {
    memcpy(s, first, n);
    s[n] = '\0';
  }
  return s;
}


static bool range_empty(const UriTextRangeA *r) {
  return r->first == NULL || r->afterLast == r->first;
}

static bool range_ieq(const UriTextRangeA *r, const char *s) {
  size_t n = (size_t)(r->afterLast - r->first);
  return strlen(s) == n && uvgo__http_ieq(s, r->first, n);
}

void uvgo__http_url_free(uvgo__http_url *u) {
  if (u == NULL)
    return;
  uvgo__free(u->host);
  uvgo__free(u->target);
  uvgo__free(u->userinfo);
  uvgo__free(u->text);
  memset(u, 0, sizeof *u);
}

/* The request target: from the first '/', '?' or '#' after the authority
 * up to the fragment. uriparser has validated the string, so the
 * authority holds none of those three bytes. */
static char *make_target(const char *text, const UriUriA *uri) {
  const char *p = uri->hostText.afterLast;
  if (!range_empty(&uri->portText))
    p = uri->portText.afterLast;
  while (*p != '\0' && *p != '/' && *p != '?' && *p != '#')
    p++;
  const char *end = strchr(p, '#');
  if (end == NULL)
    end = p + strlen(p);
  if (p == end || *p == '?') {
    size_t n = (size_t)(end - p);
    char *t = uvgo__malloc(n + 2);
    if (t != NULL) {
      t[0] = '/';
      memcpy(t + 1, p, n);
      t[n + 1] = '\0';
    }
    return t;
  }
  return dup_range(p, end);
}

int uvgo__http_url_parse(const char *s, uvgo__http_url *out) {
  memset(out, 0, sizeof *out);
  if (s == NULL || *s == '\0')
    return UVGO_EHTTPBADURL;
  UriUriA uri;
  const char *errpos;
  if (uriParseSingleUriA(&uri, s, &errpos) != URI_SUCCESS)
    return UVGO_EHTTPBADURL;
  int err = 0;
  if (range_empty(&uri.scheme)) {
    err = UVGO_EHTTPBADURL;
    goto done;
  }
  if (range_ieq(&uri.scheme, "https"))
    out->https = true;
  else if (!range_ieq(&uri.scheme, "http")) {
    err = UVGO_EUNSUPPORTEDSCHEME;
    goto done;
  }
  if (range_empty(&uri.hostText)) {
    err = UVGO_EHTTPBADURL;
    goto done;
  }
  out->host_ip6 = uri.hostData.ip6 != NULL;
  if (uri.hostData.ipFuture.first != NULL) {
    err = UVGO_EHTTPBADURL; /* "[v1.x]" addresses: nothing can dial them */
    goto done;
  }
  out->port = out->https ? 443 : 80;
  if (!range_empty(&uri.portText)) {
    size_t n = (size_t)(uri.portText.afterLast - uri.portText.first);
    unsigned long port = 0;
    for (size_t i = 0; i < n && port <= 65535; i++)
      port = port * 10 + (unsigned long)(uri.portText.first[i] - '0');
    if (n > 5 || port == 0 || port > 65535) {
      err = UVGO_EHTTPBADURL;
      goto done;
    }
    out->port = (unsigned)port;
    out->port_given = true;
  }
  out->host = dup_range(uri.hostText.first, uri.hostText.afterLast);
  out->target = make_target(s, &uri);
  const char *hash = strchr(s, '#');
  out->text = hash != NULL ? dup_range(s, hash) : uvgo__strdup(s);
  if (!range_empty(&uri.userInfo))
    out->userinfo = dup_range(uri.userInfo.first, uri.userInfo.afterLast);
  if (out->host == NULL || out->target == NULL || out->text == NULL ||
      (!range_empty(&uri.userInfo) && out->userinfo == NULL)) {
    err = UV_ENOMEM;
    goto done;
  }
  for (char *p = out->host; *p != '\0'; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p + 32);
done:
  uriFreeUriMembersA(&uri);
  if (err != 0)
    uvgo__http_url_free(out);
  return err;
}

int uvgo__http_url_resolve(const char *base, const char *ref, char **out) {
  *out = NULL;
  UriUriA b, r, abs;
  const char *errpos;
  if (uriParseSingleUriA(&b, base, &errpos) != URI_SUCCESS)
    return UVGO_EHTTPBADURL;
  if (uriParseSingleUriA(&r, ref, &errpos) != URI_SUCCESS) {
    uriFreeUriMembersA(&b);
    return UVGO_EHTTPBADURL;
  }
  int err = 0;
  if (uriAddBaseUriA(&abs, &r, &b) != URI_SUCCESS) {
    err = UVGO_EHTTPBADURL;
  } else {
    int chars = 0;
    if (uriToStringCharsRequiredA(&abs, &chars) != URI_SUCCESS) {
      err = UVGO_EHTTPBADURL;
    } else {
      char *s = uvgo__malloc((size_t)chars + 1);
      if (s == NULL)
        err = UV_ENOMEM;
      else if (uriToStringA(s, &abs, chars + 1, NULL) != URI_SUCCESS) {
        uvgo__free(s);
        err = UVGO_EHTTPBADURL;
      } else {
        *out = s;
      }
    }
    uriFreeUriMembersA(&abs);
  }
  uriFreeUriMembersA(&r);
  uriFreeUriMembersA(&b);
  return err;
}

int uvgo__http_url_authority(const uvgo__http_url *u, bool with_port,
                             char *buf, size_t cap) {
  /* By hand rather than snprintf: it runs for every request. */
  bool port = with_port || u->port != (u->https ? 443u : 80u);
  size_t hl = strlen(u->host);
  char digits[8];
  size_t dl = 0;
  for (unsigned p = u->port; port && (dl == 0 || p > 0); p /= 10)
    digits[dl++] = (char)('0' + p % 10);
  size_t need = hl + (u->host_ip6 ? 2 : 0) + (port ? 1 + dl : 0) + 1;
  if (need > cap)
    return UV_ENOBUFS;
  char *o = buf;
  if (u->host_ip6)
    *o++ = '[';
  memcpy(o, u->host, hl);
  o += hl;
  if (u->host_ip6)
    *o++ = ']';
  if (port) {
    *o++ = ':';
    while (dl > 0)
      *o++ = digits[--dl];
  }
  *o = '\0';
  return 0;
}
