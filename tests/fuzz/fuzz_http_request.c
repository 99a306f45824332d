/* libFuzzer target: the HTTP server's request side without sockets — the
 * llhttp glue in request mode driven as the server drives it (parse a
 * head, take its body through a bounded sink, next message: pipelining),
 * with the server's limits on head bytes and fields, and the invariants
 * the server relies on checked on every message:
 *   - the head never consumed more than the limit allows;
 *   - every stored field name is a token, every value a clean C string
 *     (no CR, LF, NUL: nothing a handler reads can smuggle a header);
 *   - a body is never handed more bytes than were fed;
 *   - Content-Length and chunking never both frame one body.
 *
 * Input: one flags byte, then the bytes "from the client".
 *   bits 0-3  feed piece size - 1 (1..16 bytes, every read boundary)
 *   bit 4     tight limits (256 head bytes, 4 fields)
 *   bit 5     the peer closes at the end (parser_eof)
 *
 * Built by tests/fuzz/run-fuzz.sh from the sources on the next line.
 * fuzz-sources: src/http/message.c src/http/parser.c
 */
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

void *uvgo__malloc(size_t n) { return malloc(n); }
void *uvgo__calloc(size_t c, size_t n) { return calloc(c, n); }
void *uvgo__realloc(void *p, size_t n) { return realloc(p, n); }
void uvgo__free(void *p) { free(p); }

typedef struct sink {
  size_t room; /* what the last feed allowed */
  size_t got;
} sink;

static int on_body(void *arg, const char *p, size_t n) {
  sink *s = arg;
  (void)p;
  if (n > s->room)
    abort(); /* more body than bytes fed */
  s->room -= n;
  s->got += n;
  return 0;
}

static void check_head(const uvgo__http_parser *p, const uvgo_http_headers *h,
                       size_t limit) {
  if (limit != 0 && p->head_bytes > limit)
    abort();
  if (p->chunked && p->has_length)
    abort(); /* smuggling: llhttp must refuse CL + TE */
  for (uint32_t i = 0; i < h->n; i++) {
    const char *name = uvgo__headers_name(h, i);
    const char *value = uvgo__headers_value(h, i);
    if (strlen(name) != h->f[i].name_len || strlen(value) != h->f[i].value_len)
      abort(); /* a NUL inside */
    /* a token (the send-side check also caps the length at 256; a
     * received name may be longer, within the head limit) */
    for (size_t k = 0; k < h->f[i].name_len; k += 200) {
      size_t m = h->f[i].name_len - k < 200 ? h->f[i].name_len - k : 200;
      if (!uvgo__http_is_token(name + k, m))
        abort();
    }
    if (h->f[i].name_len == 0)
      abort();
    if (strpbrk(value, "\r\n") != NULL)
      abort();
  }
  if (p->target != NULL && strlen(p->target) != p->target_len)
    abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (size < 1)
    return 0;
  unsigned flags = data[0];
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  size_t piece = (flags & 15u) + 1;
  bool tight = (flags & 16u) != 0;
  size_t limit = tight ? 256 : 32 * 1024;
  uvgo_http_headers h;
  uvgo__headers_init(&h, limit, tight ? 4 : 100);
  uvgo__http_parser p;
  uvgo__http_parser_init(&p, UVGO__HTTP_REQUEST, &h, limit);
  sink s = {0, 0};
  size_t off = 0;
  bool head_checked = false;
  while (off < len) {
    size_t n = len - off < piece ? len - off : piece;
    if (p.head_done && !head_checked) {
      check_head(&p, &h, limit);
      head_checked = true;
      uvgo__http_parser_set_body(&p, on_body, &s);
    }
    s.room = n;
    ssize_t used = uvgo__http_parser_feed(&p, in + off, n);
    if (used < 0)
      break; /* the server answers 400/431 and closes */
    if ((size_t)used > n)
      abort();
    off += (size_t)used;
    if (p.head_done && !head_checked) {
      check_head(&p, &h, limit);
      head_checked = true;
      uvgo__http_parser_set_body(&p, on_body, &s);
    }
    if (p.message_done) {
      if (p.upgrade)
        break; /* the server stops parsing after an upgrade */
      uvgo__headers_reset(&h);
      uvgo__http_parser_next_message(&p, &h);
      head_checked = false;
    } else if (used == 0 && !p.head_done) {
      break; /* nothing taken: a stop the driver cannot pass */
    }
  }
  if (flags & 32u)
    (void)uvgo__http_parser_eof(&p);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);
  return 0;
}
