/* Streaming gunzip over caller buffers (client_internal.h), through zlib.
 * zlib allocates through uvgo's allocator, so its window (32 KiB) and
 * state (about 7 KiB) count like every other byte uvgo holds. */
#include <string.h>

#include "http/client_internal.h"

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return uvgo__calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  uvgo__free(p);
}

void uvgo__http_gunzip_init(uvgo__http_gunzip *g) {
  memset(g, 0, sizeof *g);
}

ssize_t uvgo__http_gunzip_step(uvgo__http_gunzip *g, const char **in,
                               size_t *in_len, char *out, size_t cap) {
  if (!g->started) {
    g->z.zalloc = z_alloc;
    g->z.zfree = z_free;
    g->z.opaque = NULL;
    /* 16 + MAX_WBITS: a gzip wrapper, not raw deflate or zlib. */
    int zerr = inflateInit2(&g->z, 16 + MAX_WBITS);
    if (zerr != Z_OK)
      return zerr == Z_MEM_ERROR ? UV_ENOMEM : UVGO_EHTTPBADRESPONSE;
    g->started = true;
  }
  size_t made = 0;
  while (made < cap && *in_len > 0) {
    if (g->ended) {
      /* Another member follows (gzip allows concatenation). */
      if (inflateReset(&g->z) != Z_OK)
        return UVGO_EHTTPBADRESPONSE;
      g->ended = false;
    }
    uInt in_n = *in_len > UINT32_MAX ? UINT32_MAX : (uInt)*in_len;
    size_t room = cap - made;
    uInt out_n = room > UINT32_MAX ? UINT32_MAX : (uInt)room;
    g->z.next_in = (Bytef *)*in;
    g->z.avail_in = in_n;
    g->z.next_out = (Bytef *)out + made;
    g->z.avail_out = out_n;
    int zerr = inflate(&g->z, Z_NO_FLUSH);
    size_t used = in_n - g->z.avail_in;
    size_t wrote = out_n - g->z.avail_out;
    *in += used;
    *in_len -= used;
    made += wrote;
    if (zerr == Z_STREAM_END) {
      g->ended = true;
      continue;
    }
    if (zerr == Z_MEM_ERROR)
      return UV_ENOMEM;
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
      return UVGO_EHTTPBADRESPONSE;
    if (used == 0 && wrote == 0)
      break; /* needs more input, or more room */
  }
  return (ssize_t)made;
}

int uvgo__http_gunzip_finish(const uvgo__http_gunzip *g) {
  /* No data at all is an empty body, not a gzip error (HEAD-like
   * answers, or servers that label an empty body). */
  if (!g->started || g->ended || g->z.total_in == 0)
    return 0;
  return UVGO_EHTTPBADRESPONSE;
}

void uvgo__http_gunzip_free(uvgo__http_gunzip *g) {
  if (g->started)
    inflateEnd(&g->z);
  g->started = false;
}
