/* libFuzzer target: the HTTP client's response side without sockets —
 * the llhttp glue (head, header collection and its limits, Content-Length,
 * chunked and close-delimited bodies, pipelined messages, the EOF) and the
 * gzip decoder over whatever body comes out.
 *
 * Input: one flags byte, then the bytes "from the server".
 *   bits 0-3  feed piece size - 1 (1..16 bytes, every read boundary)
 *   bit 4     the request was HEAD (no body follows the head)
 *   bit 5     gunzip the body even without Content-Encoding
 *   bit 6     tight limits (256 head bytes, 4 fields)
 *
 * Built by tests/fuzz/run-fuzz.sh (clang -fsanitize=fuzzer,address,
 * undefined) from the sources named on the next line.
 * fuzz-sources: src/http/message.c src/http/parser.c src/http/gzip.c
 */
#include <stdlib.h>
#include <string.h>

#include "http/client_internal.h"

/* The library's allocator, for the files above. */
void *uvgo__malloc(size_t n) { return malloc(n); }
void *uvgo__calloc(size_t c, size_t n) { return calloc(c, n); }
void *uvgo__realloc(void *p, size_t n) { return realloc(p, n); }
void uvgo__free(void *p) { free(p); }

typedef struct body_sink {
  bool gzip;
  uvgo__http_gunzip gz;
  int err;
  size_t raw, plain;
} body_sink;

static int on_body(void *arg, const char *p, size_t n) {
  body_sink *s = arg;
  s->raw += n;
  if (!s->gzip || s->err != 0)
    return 0;
  char out[512]; /* small: many inflate steps per chunk */
  while (n > 0) {
    ssize_t made = uvgo__http_gunzip_step(&s->gz, &p, &n, out, sizeof out);
    if (made < 0) {
      s->err = (int)made;
      return 0; /* keep parsing: the framing is still checked */
    }
    s->plain += (size_t)made;
    if (made == 0 && n > 0)
      break; /* input the decoder refused to take: done with it */
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  unsigned flags = data[0];
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  size_t piece = (flags & 15) + 1;
  bool tight = flags & 64;
  uvgo_http_headers h;
  uvgo__headers_init(&h, tight ? 256 : 64 * 1024, tight ? 4 : 100);
  uvgo__http_parser p;
  uvgo__http_parser_init(&p, UVGO__HTTP_RESPONSE, &h, tight ? 256 : 64 * 1024);
  p.expect_no_body = flags & 16;
  body_sink sink;
  memset(&sink, 0, sizeof sink);
  size_t off = 0;
  int messages = 0;
  int stalls = 0; /* feeds in a row that consumed nothing */
  for (;;) {
    if (p.head_done && p.on_body == NULL) {
      /* The head's view: lookups and iteration over what was stored. */
      const char *ce = uvgo_http_headers_get(&h, "content-encoding");
      sink.gzip = (ce != NULL && uvgo__http_list_has(ce, "gzip")) ||
                  (flags & 32);
      uvgo__http_gunzip_init(&sink.gz);
      size_t it = 0;
      uvgo_http_header f;
      while (uvgo_http_headers_next(&h, &it, &f) == 0)
        if (strlen(f.name) == 0)
          abort(); /* an empty name never gets in */
      uvgo__http_parser_set_body(&p, on_body, &sink);
    }
    if (p.message_done) {
      if (sink.gzip && sink.err == 0)
        (void)uvgo__http_gunzip_finish(&sink.gz);
      uvgo__http_gunzip_free(&sink.gz);
      memset(&sink, 0, sizeof sink);
      if (++messages > 64 || p.upgrade)
        break;
      uvgo__headers_reset(&h);
      bool head = p.expect_no_body;
      uvgo__http_parser_next_message(&p, &h);
      p.expect_no_body = head;
    }
    if (off == len) {
      if (uvgo__http_parser_eof(&p) == 0 && p.message_done && sink.gzip)
        (void)uvgo__http_gunzip_finish(&sink.gz);
      break;
    }
    size_t n = len - off < piece ? len - off : piece;
    ssize_t used = uvgo__http_parser_feed(&p, in + off, n);
    if (used < 0)
      break;
    if ((size_t)used > n)
      abort();
    /* No progress three times running would hang the client's read
     * loops (each stop consumes nothing only once). */
    stalls = used == 0 ? stalls + 1 : 0;
    if (stalls > 3)
      abort();
    off += (size_t)used;
  }
  uvgo__http_gunzip_free(&sink.gz);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);
  return 0;
}
