/* The HTTP message layer: the header collection, validation, and the
 * llhttp glue (src/http/message.h, src/http/parser.h), without sockets. */
#include "harness.h"

#include "http/parser.h"

typedef struct sink {
  char data[8192];
  size_t len;
} sink;

static int to_sink(void *arg, const char *p, size_t n) {
  sink *s = arg;
  ASSERT(s->len + n <= sizeof s->data);
  memcpy(s->data + s->len, p, n);
  s->len += n;
  return 0;
}

/* Feed `msg` in pieces of `step` bytes (0 = all at once), setting the body
 * sink at the head stop. Returns the first error, or the bytes consumed
 * up to the end of the first message. */
static ssize_t parse_all(uvgo__http_parser *p, const char *msg, size_t len,
                         size_t step, sink *s) {
  size_t off = 0;
  while (!p->message_done) {
    size_t n = len - off;
    if (step != 0 && n > step)
      n = step;
    if (n == 0) {
      int err = uvgo__http_parser_eof(p);
      if (err != 0)
        return err;
      break;
    }
    ssize_t used = uvgo__http_parser_feed(p, msg + off, n);
    if (used < 0)
      return used;
    off += (size_t)used;
    if (p->head_done && p->on_body == NULL)
      uvgo__http_parser_set_body(p, to_sink, s);
  }
  return (ssize_t)off;
}

static ssize_t parse_response(const char *msg, size_t step, sink *s,
                              uvgo_http_headers *h, uvgo__http_parser *p) {
  uvgo__headers_init(h, 4096, 32);
  uvgo__http_parser_init(p, UVGO__HTTP_RESPONSE, h, 4096);
  memset(s, 0, sizeof *s);
  return parse_all(p, msg, strlen(msg), step, s);
}

UVGO_TEST(http_headers_collection, http, 10) {
  uvgo_http_headers h;
  uvgo__headers_init(&h, 0, 0);
  ASSERT_OK(uvgo__headers_add(&h, "Set-Cookie", 10, "a=1", 3));
  ASSERT_OK(uvgo__headers_add(&h, "Content-Type", 12, "text/plain", 10));
  ASSERT_OK(uvgo__headers_add(&h, "set-cookie", 10, "b=2", 3));
  ASSERT_UEQ(uvgo_http_headers_count(&h), 3);
  ASSERT_STR_EQ(uvgo_http_headers_get(&h, "CONTENT-TYPE"), "text/plain");
  ASSERT_STR_EQ(uvgo_http_headers_get(&h, "set-COOKIE"), "a=1");
  ASSERT_NULL(uvgo_http_headers_get(&h, "Content"));
  ASSERT_NULL(uvgo_http_headers_get(&h, "Content-Type-X"));
  /* In order, names as given. */
  size_t it = 0;
  uvgo_http_header f;
  ASSERT_OK(uvgo_http_headers_next(&h, &it, &f));
  ASSERT_STR_EQ(f.name, "Set-Cookie");
  ASSERT_OK(uvgo_http_headers_next(&h, &it, &f));
  ASSERT_STR_EQ(f.name, "Content-Type");
  ASSERT_OK(uvgo_http_headers_next(&h, &it, &f));
  ASSERT_STR_EQ(f.value, "b=2");
  ASSERT_ERR(uvgo_http_headers_next(&h, &it, &f), UV_EOF);
  /* Repeated fields, each kept. */
  const char *v;
  it = 0;
  ASSERT_OK(uvgo_http_headers_next_named(&h, "SET-cookie", &it, &v));
  ASSERT_STR_EQ(v, "a=1");
  ASSERT_OK(uvgo_http_headers_next_named(&h, "SET-cookie", &it, &v));
  ASSERT_STR_EQ(v, "b=2");
  ASSERT_ERR(uvgo_http_headers_next_named(&h, "SET-cookie", &it, &v), UV_EOF);
  ASSERT_OK(uvgo__headers_set(&h, "set-cookie", "c=3"));
  ASSERT_UEQ(uvgo_http_headers_count(&h), 2);
  ASSERT_STR_EQ(uvgo_http_headers_get(&h, "Set-Cookie"), "c=3");
  uvgo__headers_del(&h, "content-type");
  ASSERT_UEQ(uvgo_http_headers_count(&h), 1);
  /* NULLs. */
  ASSERT_NULL(uvgo_http_headers_get(NULL, "a"));
  ASSERT_NULL(uvgo_http_headers_get(&h, NULL));
  ASSERT_ERR(uvgo_http_headers_next(NULL, &it, &f), UV_EINVAL);
  ASSERT_UEQ(uvgo_http_headers_count(NULL), 0);
  uvgo__headers_free(&h);
}

UVGO_TEST(http_headers_limits, http, 10) {
  uvgo_http_headers h;
  uvgo__headers_init(&h, 64, 3);
  ASSERT_OK(uvgo__headers_add(&h, "A", 1, "1", 1));
  ASSERT_OK(uvgo__headers_add(&h, "B", 1, "2", 1));
  ASSERT_OK(uvgo__headers_add(&h, "C", 1, "3", 1));
  ASSERT_ERR(uvgo__headers_add(&h, "D", 1, "4", 1), UVGO_ETOOMANYHEADERS);
  ASSERT_UEQ(uvgo_http_headers_count(&h), 3);
  uvgo__headers_reset(&h);
  char big[100];
  memset(big, 'x', sizeof big);
  ASSERT_ERR(uvgo__headers_add(&h, "Big", 3, big, sizeof big),
             UVGO_EHEADERTOOLARGE);
  ASSERT_UEQ(uvgo_http_headers_count(&h), 0);
  ASSERT_OK(uvgo__headers_add(&h, "Small", 5, big, 20));
  ASSERT_UEQ(uvgo_http_headers_count(&h), 1);
  uvgo__headers_free(&h);
}

UVGO_TEST(http_header_validation, http, 10) {
  ASSERT_OK(uvgo_http_header_check("X-Custom_1.~", "value with\ttab"));
  ASSERT_ERR(uvgo_http_header_check("Bad Name", "v"), UVGO_EHTTPBADHEADER);
  ASSERT_ERR(uvgo_http_header_check("", "v"), UVGO_EHTTPBADHEADER);
  ASSERT_ERR(uvgo_http_header_check("X:y", "v"), UVGO_EHTTPBADHEADER);
  ASSERT_ERR(uvgo_http_header_check("X\r\nInjected", "v"), UVGO_EHTTPBADHEADER);
  ASSERT_ERR(uvgo_http_header_check("X", "a\r\nInjected: 1"),
             UVGO_EHTTPBADHEADER);
  ASSERT_ERR(uvgo_http_header_check("X", "a\nb"), UVGO_EHTTPBADHEADER);
  ASSERT_ERR(uvgo_http_header_check("X", "a\rb"), UVGO_EHTTPBADHEADER);
  ASSERT_ERR(uvgo_http_header_check("X", "a\x01"), UVGO_EHTTPBADHEADER);
  ASSERT_ERR(uvgo_http_header_check(NULL, "v"), UV_EINVAL);
  ASSERT_ERR(uvgo_http_header_check("X", NULL), UV_EINVAL);
  ASSERT(uvgo__http_is_token("GET", 3));
  ASSERT(!uvgo__http_is_token("GE T", 4));
  ASSERT(uvgo__http_list_has("keep-alive, Upgrade", "upgrade"));
  ASSERT(uvgo__http_list_has("gzip", "GZIP"));
  ASSERT(!uvgo__http_list_has("gzipx, br", "gzip"));
}

static const char chunked_resp[] =
    "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: chunked\r\n"
    "X-Multi: one\r\n"
    "x-multi:   two  \r\n"
    "\r\n"
    "5\r\nhello\r\n"
    "7;ext=1\r\n, world\r\n"
    "0\r\n"
    "Trailer-Field: dropped\r\n"
    "\r\n";

UVGO_TEST(http_parser_response_every_split, http, 30) {
  /* The same message fed whole and in every piece size gives the same
   * head and body: state survives any read boundary. */
  for (size_t step = 0; step <= 40; step++) {
    uvgo_http_headers h;
    uvgo__http_parser p;
    sink s;
    ssize_t used = parse_response(chunked_resp, step, &s, &h, &p);
    ASSERT_EQ(used, (ssize_t)strlen(chunked_resp));
    ASSERT(p.message_done);
    ASSERT(p.keep_alive);
    ASSERT(p.chunked);
    ASSERT_EQ(p.status, 200);
    ASSERT_UEQ(s.len, 12);
    ASSERT(memcmp(s.data, "hello, world", 12) == 0);
    ASSERT_UEQ(uvgo_http_headers_count(&h), 3); /* trailer not kept */
    size_t it = 0;
    const char *v;
    ASSERT_OK(uvgo_http_headers_next_named(&h, "x-multi", &it, &v));
    ASSERT_STR_EQ(v, "one");
    ASSERT_OK(uvgo_http_headers_next_named(&h, "x-multi", &it, &v));
    ASSERT_STR_EQ(v, "two");
    uvgo__http_parser_free(&p);
    uvgo__headers_free(&h);
  }
}

UVGO_TEST(http_parser_length_close_and_pipelining, http, 10) {
  uvgo_http_headers h;
  uvgo__http_parser p;
  sink s;
  /* Two responses back to back: the first stops at its end. */
  const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                     "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
  uvgo__headers_init(&h, 4096, 32);
  uvgo__http_parser_init(&p, UVGO__HTTP_RESPONSE, &h, 4096);
  memset(&s, 0, sizeof s);
  ssize_t used = parse_all(&p, two, sizeof two - 1, 0, &s);
  ASSERT_EQ(used, 41);
  ASSERT_UEQ(s.len, 3);
  uvgo__headers_reset(&h);
  uvgo__http_parser_next_message(&p, &h);
  memset(&s, 0, sizeof s);
  ssize_t used2 = parse_all(&p, two + used, sizeof two - 1 - (size_t)used, 0, &s);
  ASSERT_EQ(used2, (ssize_t)(sizeof two - 1) - used);
  ASSERT_EQ(p.status, 404);
  ASSERT_UEQ(s.len, 2);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);

  /* A body delimited by the close. */
  used = parse_response("HTTP/1.1 200 OK\r\n\r\nuntil the end", 5, &s, &h, &p);
  ASSERT_GT(used, 0);
  ASSERT(p.message_done);
  ASSERT(!p.keep_alive);
  ASSERT_UEQ(s.len, 13);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);

  /* A length that the close cuts short is an error, not a short body. */
  used = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0,
                        &s, &h, &p);
  ASSERT_EQ(used, UVGO_EHTTPUNEXPECTEDEOF);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);
}

UVGO_TEST(http_parser_no_body_cases, http, 10) {
  uvgo_http_headers h;
  uvgo__http_parser p;
  sink s;
  static const char *const msgs[] = {
      "HTTP/1.1 204 No Content\r\nX: y\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
    ssize_t used = parse_response(msgs[i], 0, &s, &h, &p);
    ASSERT_EQ(used, (ssize_t)strlen(msgs[i]));
    ASSERT(p.no_body);
    ASSERT(p.message_done);
    ASSERT_UEQ(s.len, 0);
    uvgo__http_parser_free(&p);
    uvgo__headers_free(&h);
  }
  /* HEAD: a Content-Length describes a body that is not sent. */
  const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
  uvgo__headers_init(&h, 4096, 32);
  uvgo__http_parser_init(&p, UVGO__HTTP_RESPONSE, &h, 4096);
  p.expect_no_body = true;
  memset(&s, 0, sizeof s);
  ASSERT_EQ(parse_all(&p, head, sizeof head - 1, 0, &s), (ssize_t)sizeof head - 1);
  ASSERT(p.message_done);
  ASSERT(p.keep_alive);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);
}

UVGO_TEST(http_parser_hostile_responses, http, 10) {
  uvgo_http_headers h;
  uvgo__http_parser p;
  sink s;
  static const struct {
    const char *msg;
    int err;
  } bad[] = {
      /* Smuggling: both framings. */
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
       "\r\n0\r\n\r\n", UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
       UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
       UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "ffffffffffffffffff\r\n", UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", UVGO_EHTTPBADRESPONSE},
      /* An empty name (llhttp 8.1 lets ":value" through; found by the
       * fuzzer). */
      {"HTTP/1.1 200 OK\r\n:A 1\r\n\r\n", UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 200 OK\r\n:\r\n\r\n", UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 200 OK\r\nX: a\x01z\r\n\r\n", UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 2000 OK\r\n\r\n", UVGO_EHTTPBADRESPONSE},
      {"SMTP ready\r\n", UVGO_EHTTPBADRESPONSE},
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", UVGO_EHTTPUNEXPECTEDEOF},
      {"HTTP/1.1 200 OK\r\nX: y", UVGO_EHTTPUNEXPECTEDEOF},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    for (size_t step = 0; step <= 3; step++) {
      ssize_t r = parse_response(bad[i].msg, step, &s, &h, &p);
      if (r != bad[i].err)
        uvgo_test_fail(__FILE__, __LINE__, "case %zu step %zu: got %zd (%s)",
                       i, step, r, uvgo_err_name((int)r));
      uvgo__http_parser_free(&p);
      uvgo__headers_free(&h);
    }
  }
}

UVGO_TEST(http_parser_head_limits, http, 10) {
  /* A head that never ends stops at the limit, however it is fed. */
  uvgo_http_headers h;
  uvgo__http_parser p;
  uvgo__headers_init(&h, 0, 0);
  uvgo__http_parser_init(&p, UVGO__HTTP_RESPONSE, &h, 1024);
  char line[64];
  ASSERT(uvgo__http_parser_feed(&p, "HTTP/1.1 200 OK\r\n", 17) == 17);
  ssize_t r = 0;
  for (int i = 0; i < 1000 && r >= 0; i++) {
    int n = snprintf(line, sizeof line, "X-%d: padding-padding\r\n", i);
    r = uvgo__http_parser_feed(&p, line, (size_t)n);
  }
  ASSERT_EQ(r, UVGO_EHEADERTOOLARGE);
  ASSERT_EQ(uvgo__http_parser_feed(&p, "\r\n", 2), UVGO_EHEADERTOOLARGE);
  ASSERT_ULE(h.payload, 1024);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);

  /* One value larger than the limit, fed at once. */
  static char big[8192];
  memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
  memset(big + 20, 'a', sizeof big - 20);
  uvgo__headers_init(&h, 0, 0);
  uvgo__http_parser_init(&p, UVGO__HTTP_RESPONSE, &h, 4096);
  r = uvgo__http_parser_feed(&p, big, sizeof big);
  ASSERT_EQ(r, UVGO_EHEADERTOOLARGE);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);

  /* Too many fields: the collection's count limit. */
  uvgo__headers_init(&h, 0, 4);
  uvgo__http_parser_init(&p, UVGO__HTTP_RESPONSE, &h, 0);
  const char many[] = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n";
  ASSERT_EQ(uvgo__http_parser_feed(&p, many, sizeof many - 1),
            UVGO_ETOOMANYHEADERS);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);
}

UVGO_TEST(http_parser_requests, http, 10) {
  /* The server's side of the same interface. */
  uvgo_http_headers h;
  uvgo__http_parser p;
  sink s;
  const char reqs[] =
      "POST /upload?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
      "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  uvgo__headers_init(&h, 4096, 32);
  uvgo__http_parser_init(&p, UVGO__HTTP_REQUEST, &h, 4096);
  memset(&s, 0, sizeof s);
  ssize_t used = parse_all(&p, reqs, sizeof reqs - 1, 7, &s);
  ASSERT_GT(used, 0);
  ASSERT_STR_EQ(uvgo__http_parser_method_name(&p), "POST");
  ASSERT_STR_EQ(p.target, "/upload?x=1");
  ASSERT_UEQ(s.len, 4);
  ASSERT(p.keep_alive);
  uvgo__headers_reset(&h);
  uvgo__http_parser_next_message(&p, &h);
  memset(&s, 0, sizeof s);
  ssize_t used2 = parse_all(&p, reqs + used, sizeof reqs - 1 - (size_t)used, 3, &s);
  ASSERT_EQ(used2, (ssize_t)(sizeof reqs - 1) - used);
  ASSERT_STR_EQ(uvgo__http_parser_method_name(&p), "GET");
  ASSERT_STR_EQ(p.target, "/next");
  ASSERT(p.no_body);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);

  /* Request smuggling is refused. */
  const char smuggle[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  uvgo__headers_init(&h, 4096, 32);
  uvgo__http_parser_init(&p, UVGO__HTTP_REQUEST, &h, 4096);
  ASSERT_EQ(uvgo__http_parser_feed(&p, smuggle, sizeof smuggle - 1),
            UVGO_EHTTPBADREQUEST);
  uvgo__http_parser_free(&p);
  uvgo__headers_free(&h);
}
