/* Fan-out, collect through a buffered channel sized to the work: every
 * task can send without blocking, and main receives exactly len(urls)
 * results. No WaitGroup needed. (The article's fetchAll, with fake
 * fetches: a short sleep instead of http.Get.) */
#include <stdio.h>
#include <string.h>
#include <uvgo.h>

static const char *urls[] = {"https://a.example", "https://b.example",
                             "https://c.example", "https://bad.example"};
#define NURLS (sizeof urls / sizeof urls[0])

typedef struct {
  char text[64];
} result;

typedef struct {
  const char *url;
  uvgo_chan *results;
} job;

static void fetch(void *arg) {
  job *j = arg;
  result r;
  uvgo_sleep(5 + strlen(j->url) % 7); /* pretend to fetch */
  if (strstr(j->url, "bad") != NULL)
    snprintf(r.text, sizeof r.text, "error: %s unreachable", j->url);
  else
    snprintf(r.text, sizeof r.text, "%s: 200 OK", j->url);
  uvgo_chan_send(j->results, &r);
}

static void main_task(void *arg) {
  (void)arg;
  uvgo_chan *results = uvgo_chan_new(sizeof(result), NURLS);
  job jobs[NURLS];
  for (size_t i = 0; i < NURLS; i++) {
    jobs[i] = (job){urls[i], results};
    uvgo_go(fetch, &jobs[i]);
  }
  int ok = 0;
  for (size_t i = 0; i < NURLS; i++) {
    result r;
    uvgo_chan_recv(results, &r);
    printf("%s\n", r.text);
    ok += strncmp(r.text, "error", 5) != 0;
  }
  printf("collected %zu results, %d ok\n", NURLS, ok);
  uvgo_chan_release(results);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
