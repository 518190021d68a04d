/*
 * am — see am.h. The queue is JSON text already: transitions are
 * rendered when they happen (the instance may be gone by the flush).
 */
#include "am.h"

#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert_json.h"
#include "sm_log.h"

#define QUEUE_MAX   (8u << 20) /* bytes of queued transitions kept while unreachable */
#define BATCH_MAX   500	       /* alerts in one request (Prometheus sends 64; ours are smaller) */
#define BACKOFF_MAX 30.0       /* seconds between tries at most */

struct am {
	char **urls; /* "<base>/api/v2/alerts" */
	size_t n;
	double resend_s, timeout_s;
	CURL *curl;
	struct jbuf
	    queue;     /* transitions: one JSON object a line (JSON text holds no raw newline) */
	size_t queued; /* objects in queue */
	double next_resend, next_try;
	unsigned fails; /* consecutive failed flushes */
	struct am_counters c;
	struct sm_complaint down; /* one line per outage */
};

struct am *am_new(const char *const *urls, size_t n, double resend_s, double timeout_s)
{
	struct am *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->resend_s = resend_s;
	a->timeout_s = timeout_s;
	a->urls = calloc(n ? n : 1, sizeof(*a->urls));
	a->curl = curl_easy_init();
	if (!a->urls || !a->curl)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(urls[i]);

		while (len > 0 && urls[i][len - 1] == '/')
			len--;
		a->urls[i] = malloc(len + sizeof("/api/v2/alerts"));
		if (!a->urls[i])
			goto fail;
		memcpy(a->urls[i], urls[i], len);
		strcpy(a->urls[i] + len, "/api/v2/alerts");
		a->n++;
	}
	return a;
fail:
	am_destroy(&a);
	return NULL;
}

void am_destroy(struct am **ap)
{
	struct am *a = ap ? *ap : NULL;

	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->urls[i]);
	free(a->urls);
	if (a->curl)
		curl_easy_cleanup(a->curl);
	jbuf_free(&a->queue);
	free(a);
	*ap = NULL;
}

const struct am_counters *am_counters(const struct am *a)
{
	return &a->c;
}

void am_note(struct am *a, const struct alert_info *x, double now)
{
	if (a->queue.len > QUEUE_MAX) {
		a->c.dropped++;
		return;
	}
	alert_json(&a->queue, x, now, 4 * a->resend_s, false);
	jbuf_raw(&a->queue, "\n");
	a->queued++;
}

struct resend_ctx {
	struct jbuf *b;
	size_t *count;
	double now, valid;
};

static void add_firing(void *ctx, const struct alert_info *x)
{
	struct resend_ctx *r = ctx;

	if (x->state != ALERT_FIRING)
		return;
	alert_json(r->b, x, r->now, r->valid, false);
	jbuf_raw(r->b, "\n");
	(*r->count)++;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

/* POSTs body to one URL; 0 on a 2xx answer. */
static int post(struct am *a, const char *url, const struct jbuf *body, char *why, size_t whylen)
{
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	long code = 0;
	CURLcode rc;

	curl_easy_reset(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_URL, url);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, body->p);
	curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, (long)(a->timeout_s * 1000));
	curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(a->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(a->curl);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		snprintf(why, whylen, "HTTP status %ld", code);
		return -1;
	}
	return 0;
}

/* POSTs the lines of `all` (one alert object each) to every URL, at most
 * BATCH_MAX a request. Returns the URLs that failed (why and bad set). */
static size_t post_all(struct am *a, const struct jbuf *all, size_t count, char *why, size_t whylen,
		       const char **bad)
{
	struct jbuf body = {0};
	size_t failed = 0;

	for (size_t i = 0; i < a->n; i++) {
		const char *p = all->p;
		bool ok = true;

		while (ok && p && *p) {
			size_t k = 0;

			jbuf_reset(&body);
			jbuf_raw(&body, "[");
			while (*p && k < BATCH_MAX) {
				const char *nl = strchr(p, '\n');
				size_t len = nl ? (size_t)(nl - p) : strlen(p);

				if (k++)
					jbuf_raw(&body, ",");
				jbuf_put(&body, p, len);
				p += len + (nl != NULL);
			}
			jbuf_raw(&body, "]");
			ok = !body.failed && post(a, a->urls[i], &body, why, whylen) == 0;
			if (body.failed)
				snprintf(why, whylen, "out of memory");
		}
		if (ok) {
			a->c.posts_ok++;
			a->c.alerts_sent += count;
		} else {
			failed++;
			*bad = a->urls[i];
			a->c.posts_failed++;
		}
	}
	jbuf_free(&body);
	return failed;
}

int am_flush(struct am *a, const struct eval *e, double now)
{
	bool resend = now >= a->next_resend;
	struct jbuf all = {0};
	size_t count = a->queued;
	struct resend_ctx rc = {.b = &all, .count = &count, .now = now, .valid = 4 * a->resend_s};
	size_t failed = 0;
	char why[CURL_ERROR_SIZE + 64] = "";
	const char *bad = NULL;

	if (a->n == 0 || (!resend && a->queued == 0) || now < a->next_try)
		return a->queued ? -1 : 0;
	if (a->queued)
		jbuf_raw(&all, a->queue.p);
	if (resend)
		eval_foreach(e, add_firing, &rc);
	if (all.failed) {
		jbuf_free(&all);
		return -1;
	}
	if (count > 0)
		failed = post_all(a, &all, count, why, sizeof(why), &bad);
	jbuf_free(&all);
	if (failed) {
		a->fails++;
		a->next_try = now + fmin(BACKOFF_MAX, ldexp(1, (int)fmin(a->fails, 8)));
		sm_complain(&a->down, SM_LOG_WARNING,
			    "alertmanager %s: %s; %zu of %zu unreachable, trying again (the "
			    "alerts wait)",
			    bad, why, failed, a->n);
		return -1;
	}
	a->fails = 0;
	a->next_try = 0;
	if (resend)
		a->next_resend = now + a->resend_s;
	jbuf_reset(&a->queue);
	a->queued = 0;
	sm_complaint_release(&a->down, "alertmanager reachable again");
	return 0;
}
