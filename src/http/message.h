/* HTTP messages, internal side: the header collection both the client and
 * the server fill and read, and the validation of what is sent.
 *
 * A collection (struct uvgo_http_headers, the public opaque type) is an
 * ordered list of fields stored in one byte arena ("name\0value\0" per
 * field) plus an index of offsets. Repeated fields stay separate entries
 * in arrival order; lookups ignore case and are O(fields) — responses
 * carry a handful, and a linear scan over contiguous memory beats a hash
 * at that size. Two limits bound what a peer can make it hold: total
 * bytes (names + values, the arena's payload) and the number of fields;
 * appends beyond either fail and leave the collection as it was.
 *
 * Building a field in pieces (the parser gets names and values in spans
 * that may end at any read boundary): uvgo__headers_begin, then any
 * number of uvgo__headers_name_append / uvgo__headers_value_append (all
 * name bytes before any value byte), then uvgo__headers_end, which trims
 * surrounding blanks from the value and publishes the field. A field in
 * construction is invisible to lookups.
 *
 * Threads: none of this locks. The owner (a response, a server request)
 * fills it in one task; readers may read it from anywhere once filled. */
#ifndef UVGO_HTTP_MESSAGE_H
#define UVGO_HTTP_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uvgo.h"

/* One field: offsets into the arena; the name and the value are each
 * NUL-terminated there. */
typedef struct uvgo__hfield {
  uint32_t name;      /* offset of the name */
  uint32_t value;     /* offset of the value */
  uint32_t name_len;
  uint32_t value_len;
} uvgo__hfield;

struct uvgo_http_headers {
  uvgo__hfield *f;    /* published fields, in order */
  uint32_t n;         /* published fields */
  uint32_t cap;       /* capacity of f */
  char *arena;        /* field bytes */
  size_t len;         /* arena bytes used (published + in construction) */
  size_t arena_cap;   /* arena capacity */
  size_t payload;     /* bytes counted against max_bytes */
  size_t max_bytes;   /* limit on payload (names + values + 4 per field) */
  uint32_t max_count; /* limit on fields */
  /* The field in construction: */
  bool building;      /* begin called, end not yet */
  bool in_value;      /* its name is complete */
  uvgo__hfield cur;
};

/* An empty collection with the limits (0 = no limit). No allocation until
 * the first field. */
void uvgo__headers_init(uvgo_http_headers *h, size_t max_bytes,
                        uint32_t max_count);
/* Drop every field but keep the memory (for the next message on a
 * connection). */
void uvgo__headers_reset(uvgo_http_headers *h);
/* Free the memory; the collection is then empty and reusable. */
void uvgo__headers_free(uvgo_http_headers *h);
/* Bytes of heap the collection holds. */
size_t uvgo__headers_heap_bytes(const uvgo_http_headers *h);

/* Append a whole field (copied).
 * @return 0; UVGO_EHEADERTOOLARGE / UVGO_ETOOMANYHEADERS (a limit; the
 * collection is unchanged); UV_ENOMEM. Validation is the caller's
 * (uvgo__http_check_* below): this stores whatever it is given, but a NUL
 * inside would cut the stored string, so callers pass checked bytes. */
int uvgo__headers_add(uvgo_http_headers *h, const char *name, size_t nlen,
                      const char *value, size_t vlen);
/* Remove every field named `name` (case-insensitive). The arena bytes stay
 * until reset (a removed field's bytes still count toward the limit). */
void uvgo__headers_del(uvgo_http_headers *h, const char *name);
/* Replace: delete every `name`, then add one. @return as add. */
int uvgo__headers_set(uvgo_http_headers *h, const char *name,
                      const char *value);

/* Piecewise construction (see the top). Each @return 0 or the errors of
 * uvgo__headers_add; after an error the field is abandoned (call
 * uvgo__headers_abort or reset). */
int uvgo__headers_begin(uvgo_http_headers *h);
int uvgo__headers_name_append(uvgo_http_headers *h, const char *p, size_t n);
int uvgo__headers_value_append(uvgo_http_headers *h, const char *p, size_t n);
int uvgo__headers_end(uvgo_http_headers *h);
void uvgo__headers_abort(uvgo_http_headers *h);

/* Field i (0-based, < n): name and value. */
static inline const char *uvgo__headers_name(const uvgo_http_headers *h,
                                             uint32_t i) {
  return h->arena + h->f[i].name;
}
static inline const char *uvgo__headers_value(const uvgo_http_headers *h,
                                              uint32_t i) {
  return h->arena + h->f[i].value;
}
/* Index of the first field named `name` at or after `from`, or -1. */
long uvgo__headers_find(const uvgo_http_headers *h, const char *name,
                        size_t nlen, uint32_t from);

/* Case-insensitive comparison of a NUL-terminated string s with the n
 * bytes at p (ASCII only, as HTTP field names are). */
bool uvgo__http_ieq(const char *s, const char *p, size_t n);
/* Whether the comma-separated list in `value` holds `token`
 * (case-insensitive, blanks ignored): "keep-alive, Upgrade" has "upgrade". */
bool uvgo__http_list_has(const char *value, const char *token);

/* Validation of what we send (no request smuggling, no header injection):
 * a token (RFC 9110 tchar, 1..256 bytes) for names and methods; values
 * free of CR, LF, NUL and other controls but HTAB. */
bool uvgo__http_is_token(const char *p, size_t n);
/* Every one of the n bytes is a tchar (n may be 0): checks a span of a
 * name that arrives in pieces. */
bool uvgo__http_is_tchars(const char *p, size_t n);
bool uvgo__http_is_field_value(const char *p, size_t n);

#endif
