/* The header collection (message.h) and the public read-only calls on it
 * (http.h: uvgo_http_headers_*), plus the validation of what is sent. */
#include <string.h>

#include "core/internal.h"
#include "http/message.h"

/* Bytes a field costs against max_bytes beyond its name and value: ": "
 * and CRLF on the wire. */
#define FIELD_OVERHEAD 4u

void uvgo__headers_init(uvgo_http_headers *h, size_t max_bytes,
                        uint32_t max_count) {
  memset(h, 0, sizeof *h);
  h->max_bytes = max_bytes;
  h->max_count = max_count;
}

void uvgo__headers_reset(uvgo_http_headers *h) {
  h->n = 0;
  h->len = 0;
  h->payload = 0;
  h->building = false;
  h->in_value = false;
}

void uvgo__headers_free(uvgo_http_headers *h) {
  uvgo__free(h->f);
  uvgo__free(h->arena);
  h->f = NULL;
  h->arena = NULL;
  h->cap = 0;
  h->arena_cap = 0;
  uvgo__headers_reset(h);
}

size_t uvgo__headers_heap_bytes(const uvgo_http_headers *h) {
  return h->arena_cap + (size_t)h->cap * sizeof *h->f;
}

/* Room for `more` arena bytes; doubles (from 512) so appends are
 * amortised O(1). The arena is indexed by 32-bit offsets. */
static int arena_reserve(uvgo_http_headers *h, size_t more) {
  if (more > UINT32_MAX - h->len)
    return UVGO_EHEADERTOOLARGE;
  size_t need = h->len + more;
  if (need <= h->arena_cap)
    return 0;
  size_t cap = h->arena_cap != 0 ? h->arena_cap : 512;
  while (cap < need)
    cap *= 2;
  if (cap > (size_t)UINT32_MAX + 1)
    cap = (size_t)UINT32_MAX + 1;
  char *a = uvgo__realloc(h->arena, cap);
  if (a == NULL)
    return UV_ENOMEM;
  h->arena = a;
  h->arena_cap = cap;
  return 0;
}

static int index_reserve(uvgo_http_headers *h) {
  if (h->n < h->cap)
    return 0;
  uint32_t cap = h->cap != 0 ? h->cap * 2 : 16;
  uvgo__hfield *f = uvgo__realloc(h->f, (size_t)cap * sizeof *f);
  if (f == NULL)
    return UV_ENOMEM;
  h->f = f;
  h->cap = cap;
  return 0;
}

/* Charge n payload bytes against the limit. */
static int charge(uvgo_http_headers *h, size_t n) {
  if (h->max_bytes != 0 && (n > h->max_bytes || h->payload > h->max_bytes - n))
    return UVGO_EHEADERTOOLARGE;
  h->payload += n;
  return 0;
}

int uvgo__headers_begin(uvgo_http_headers *h) {
  if (h->max_count != 0 && h->n >= h->max_count)
    return UVGO_ETOOMANYHEADERS;
  int err = charge(h, FIELD_OVERHEAD);
  if (err != 0)
    return err;
  if ((err = arena_reserve(h, 2)) != 0)
    return err;
  h->building = true;
  h->in_value = false;
  h->cur.name = (uint32_t)h->len;
  h->cur.name_len = 0;
  h->cur.value = 0;
  h->cur.value_len = 0;
  return 0;
}

static int append(uvgo_http_headers *h, const char *p, size_t n) {
  int err = charge(h, n);
  if (err == 0)
    err = arena_reserve(h, n + 1); /* + the NUL that will follow */
  if (err != 0)
    return err;
  memcpy(h->arena + h->len, p, n);
  h->len += n;
  return 0;
}

int uvgo__headers_name_append(uvgo_http_headers *h, const char *p, size_t n) {
  int err = append(h, p, n);
  if (err == 0)
    h->cur.name_len += (uint32_t)n;
  return err;
}

int uvgo__headers_value_append(uvgo_http_headers *h, const char *p,
                               size_t n) {
  if (!h->in_value) {
    int err = arena_reserve(h, 1);
    if (err != 0)
      return err;
    h->arena[h->len++] = '\0'; /* ends the name */
    h->cur.value = (uint32_t)h->len;
    h->in_value = true;
  }
  int err = append(h, p, n);
  if (err == 0)
    h->cur.value_len += (uint32_t)n;
  return err;
}

int uvgo__headers_end(uvgo_http_headers *h) {
  if (!h->in_value) {
    int err = uvgo__headers_value_append(h, "", 0);
    if (err != 0)
      return err;
  }
  int err = index_reserve(h);
  if (err != 0)
    return err;
  /* Trim blanks around the value (OWS, RFC 9110 5.5). */
  char *v = h->arena + h->cur.value;
  uint32_t vl = h->cur.value_len, lead = 0;
  while (lead < vl && (v[lead] == ' ' || v[lead] == '\t'))
    lead++;
  while (vl > lead && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
    vl--;
  h->cur.value += lead;
  h->cur.value_len = vl - lead;
  h->arena[h->cur.value + h->cur.value_len] = '\0';
  /* The arena has room for the NUL: append reserved one past each span. */
  h->arena[h->len] = '\0';
  h->len++;
  h->f[h->n++] = h->cur;
  h->building = false;
  h->in_value = false;
  return 0;
}

void uvgo__headers_abort(uvgo_http_headers *h) {
  if (h->building)
    h->len = h->cur.name;
  h->building = false;
  h->in_value = false;
}

int uvgo__headers_add(uvgo_http_headers *h, const char *name, size_t nlen,
                      const char *value, size_t vlen) {
  size_t saved_len = h->len, saved_payload = h->payload;
  int err = uvgo__headers_begin(h);
  if (err == 0)
    err = uvgo__headers_name_append(h, name, nlen);
  if (err == 0)
    err = uvgo__headers_value_append(h, value, vlen);
  if (err == 0)
    err = uvgo__headers_end(h);
  if (err != 0) {
    uvgo__headers_abort(h);
    h->len = saved_len;
    h->payload = saved_payload;
  }
  return err;
}

void uvgo__headers_del(uvgo_http_headers *h, const char *name) {
  size_t nlen = strlen(name);
  uint32_t out = 0;
  for (uint32_t i = 0; i < h->n; i++)
    if (!(h->f[i].name_len == nlen &&
          uvgo__http_ieq(name, h->arena + h->f[i].name, nlen)))
      h->f[out++] = h->f[i];
  h->n = out;
}

int uvgo__headers_set(uvgo_http_headers *h, const char *name,
                      const char *value) {
  uvgo__headers_del(h, name);
  return uvgo__headers_add(h, name, strlen(name), value, strlen(value));
}

static inline unsigned char lower(unsigned char c) {
  return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool uvgo__http_ieq(const char *s, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)p[i]))
      return false;
  }
  return s[n] == '\0';
}

long uvgo__headers_find(const uvgo_http_headers *h, const char *name,
                        size_t nlen, uint32_t from) {
  for (uint32_t i = from; i < h->n; i++)
    if (h->f[i].name_len == nlen &&
        uvgo__http_ieq(h->arena + h->f[i].name, name, nlen))
      return (long)i;
  return -1;
}

bool uvgo__http_list_has(const char *value, const char *token) {
  size_t tl = strlen(token);
  const char *p = value;
  while (*p != '\0') {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    const char *start = p;
    while (*p != '\0' && *p != ',')
      p++;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    if ((size_t)(end - start) == tl) {
      size_t i = 0;
      while (i < tl && lower((unsigned char)start[i]) ==
                           lower((unsigned char)token[i]))
        i++;
      if (i == tl)
        return true;
    }
  }
  return false;
}

/* RFC 9110 tchar: "!#$%&'*+-.^_`|~", digits, letters. */
static bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return true;
  return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool uvgo__http_is_tchars(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!is_tchar((unsigned char)p[i]))
      return false;
  return true;
}

bool uvgo__http_is_token(const char *p, size_t n) {
  if (n == 0 || n > 256)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_tchar((unsigned char)p[i]))
      return false;
  return true;
}

bool uvgo__http_is_field_value(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return false;
  }
  return true;
}

/* --- the public read-only side (http.h) --- */

const char *uvgo_http_headers_get(const uvgo_http_headers *h,
                                  const char *name) {
  if (h == NULL || name == NULL)
    return NULL;
  long i = uvgo__headers_find(h, name, strlen(name), 0);
  return i < 0 ? NULL : uvgo__headers_value(h, (uint32_t)i);
}

int uvgo_http_headers_next(const uvgo_http_headers *h, size_t *iter,
                           uvgo_http_header *out) {
  if (h == NULL || iter == NULL || out == NULL)
    return UV_EINVAL;
  if (*iter >= h->n)
    return UV_EOF;
  out->name = uvgo__headers_name(h, (uint32_t)*iter);
  out->value = uvgo__headers_value(h, (uint32_t)*iter);
  (*iter)++;
  return 0;
}

int uvgo_http_headers_next_named(const uvgo_http_headers *h, const char *name,
                                 size_t *iter, const char **value) {
  if (h == NULL || name == NULL || iter == NULL || value == NULL)
    return UV_EINVAL;
  if (*iter >= h->n)
    return UV_EOF;
  long i = uvgo__headers_find(h, name, strlen(name), (uint32_t)*iter);
  if (i < 0) {
    *iter = h->n;
    return UV_EOF;
  }
  *value = uvgo__headers_value(h, (uint32_t)i);
  *iter = (size_t)i + 1;
  return 0;
}

size_t uvgo_http_headers_count(const uvgo_http_headers *h) {
  return h == NULL ? 0 : h->n;
}

int uvgo_http_header_check(const char *name, const char *value) {
  if (name == NULL || value == NULL)
    return UV_EINVAL;
  if (!uvgo__http_is_token(name, strlen(name)) ||
      !uvgo__http_is_field_value(value, strlen(value)))
    return UVGO_EHTTPBADHEADER;
  return 0;
}
