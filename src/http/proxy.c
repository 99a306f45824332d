/* Proxies from the environment (Go's http.ProxyFromEnvironment):
 * HTTP_PROXY for http:// URLs, HTTPS_PROXY for https:// ones (through a
 * CONNECT tunnel, pool.c), NO_PROXY for the exceptions. Read once, when a
 * client that asks for it is made. */
#include <stdlib.h>
#include <string.h>

#include "http/client_internal.h"

static const char *env2(const char *upper, const char *lower) {
  const char *v = getenv(upper);
  if (v == NULL || *v == '\0')
    v = getenv(lower);
  return (v != NULL && *v != '\0') ? v : NULL;
}

/* A proxy variable: an http:// URL, or "host:port" taken as one. */
static int load_one(const char *value, uvgo__http_url **out) {
  *out = NULL;
  if (value == NULL)
    return 0;
  uvgo__http_url *u = uvgo__calloc(1, sizeof *u);
  if (u == NULL)
    return UV_ENOMEM;
  int err;
  if (strstr(value, "://") == NULL) {
    size_t n = strlen(value);
    char *full = uvgo__malloc(n + 8);
    if (full == NULL) {
      uvgo__free(u);
      return UV_ENOMEM;
    }
    memcpy(full, "http://", 7);
    memcpy(full + 7, value, n + 1);
    err = uvgo__http_url_parse(full, u);
    uvgo__free(full);
  } else {
    err = uvgo__http_url_parse(value, u);
  }
  if (err == 0 && u->https) {
    /* TLS to the proxy itself is not supported. */
    uvgo__http_url_free(u);
    err = UVGO_EUNSUPPORTEDSCHEME;
  }
  if (err != 0) {
    uvgo__free(u);
    return err == UV_ENOMEM ? err : UVGO_EHTTPBADURL;
  }
  *out = u;
  return 0;
}

int uvgo__http_proxy_env_load(uvgo__http_proxy_env *env) {
  memset(env, 0, sizeof *env);
  /* httpoxy: under CGI, HTTP_PROXY may come from a request header. */
  const char *hp = getenv("REQUEST_METHOD") != NULL
                       ? getenv("http_proxy")
                       : env2("HTTP_PROXY", "http_proxy");
  if (hp != NULL && *hp == '\0')
    hp = NULL;
  int err = load_one(hp, &env->http_proxy);
  if (err == 0)
    err = load_one(env2("HTTPS_PROXY", "https_proxy"), &env->https_proxy);
  const char *np = env2("NO_PROXY", "no_proxy");
  if (err == 0 && np != NULL) {
    size_t n = strlen(np) + 1;
    env->no_proxy = uvgo__malloc(n);
    if (env->no_proxy == NULL)
      err = UV_ENOMEM;
    else
      memcpy(env->no_proxy, np, n);
  }
  if (err != 0)
    uvgo__http_proxy_env_free(env);
  return err;
}

void uvgo__http_proxy_env_free(uvgo__http_proxy_env *env) {
  if (env->http_proxy != NULL) {
    uvgo__http_url_free(env->http_proxy);
    uvgo__free(env->http_proxy);
  }
  if (env->https_proxy != NULL) {
    uvgo__http_url_free(env->https_proxy);
    uvgo__free(env->https_proxy);
  }
  uvgo__free(env->no_proxy);
  memset(env, 0, sizeof *env);
}

/* One NO_PROXY entry against the host: "*" matches all; "example.com" and
 * ".example.com" match the name and its subdomains; an entry with a port
 * ("host:8080") matches only that port; IP literals match exactly. */
static bool entry_matches(const char *e, size_t n, const uvgo__http_url *u) {
  if (n == 1 && e[0] == '*')
    return true;
  unsigned port = 0;
  const char *colon = NULL;
  if (n > 0 && e[0] != '[') {
    const char *c1 = memchr(e, ':', n);
    if (c1 != NULL && memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - e)) == NULL)
      colon = c1; /* host:port (one colon: not an IPv6 address) */
  } else if (n > 0) {
    const char *rb = memchr(e, ']', n);
    if (rb != NULL && rb + 1 < e + n && rb[1] == ':')
      colon = rb + 1;
    if (rb != NULL) {
      e++;
      n = (size_t)(rb - e);
      if (colon != NULL)
        port = (unsigned)strtoul(colon + 1, NULL, 10);
      colon = NULL;
    }
  }
  if (colon != NULL) {
    port = (unsigned)strtoul(colon + 1, NULL, 10);
    n = (size_t)(colon - e);
  }
  if (port != 0 && port != u->port)
    return false;
  if (n > 0 && e[0] == '.') {
    e++;
    n--;
  }
  if (n == 0)
    return false;
  size_t hl = strlen(u->host);
  if (hl == n && uvgo__http_ieq(u->host, e, n))
    return true;
  /* A subdomain: the host ends with "." + entry. */
  return hl > n && u->host[hl - n - 1] == '.' &&
         uvgo__http_ieq(u->host + hl - n, e, n);
}

const uvgo__http_url *uvgo__http_proxy_for(const uvgo__http_proxy_env *env,
                                           const uvgo__http_url *u) {
  const uvgo__http_url *p = u->https ? env->https_proxy : env->http_proxy;
  if (p == NULL)
    return NULL;
  if (env->no_proxy != NULL) {
    const char *s = env->no_proxy;
    while (*s != '\0') {
      while (*s == ' ' || *s == ',')
        s++;
      const char *start = s;
      while (*s != '\0' && *s != ',' && *s != ' ')
        s++;
      if (s > start && entry_matches(start, (size_t)(s - start), u))
        return NULL;
    }
  }
  return p;
}
