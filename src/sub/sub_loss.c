/*
 * sub_loss — see sub_loss.h. The table is the collector's, sized for as
 * many senders as a collector reports; a sender silent for an hour is
 * forgotten (its later frames count afresh).
 */
#include "sub_loss.h"

#include <stdlib.h>
#include <string.h>

#include "sm_clock.h"
#include "sm_loss.h"

#define EXPIRY_S 3600.0

struct sub_loss {
	struct loss_table *table;
	uint64_t leaps; /* seq leaps not counted */
};

struct sub_loss *sub_loss_new(void)
{
	struct sub_loss *self = calloc(1, sizeof(*self));

	if (!self)
		return NULL;
	self->table = loss_table_new(SM_WIRE_MAX_PUBLISHERS, EXPIRY_S);
	if (!self->table) {
		free(self);
		return NULL;
	}
	return self;
}

void sub_loss_destroy(struct sub_loss **self_p)
{
	struct sub_loss *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	loss_table_destroy(&self->table);
	free(self);
	*self_p = NULL;
}

uint64_t sub_loss_note(struct sub_loss *self, const struct sm_header *h, FILE *gaps)
{
	const char *kind = sm_wire_kind_name(h->kind);
	struct loss_note n;

	loss_table_note_frame(self->table, h, sm_clock_mono_ns(), &n);
	self->leaps += n.jumped > 0;
	if (!gaps)
		return n.lost;
	/* The host is one the decoder accepted: [A-Za-z0-9._-] only. */
	if (n.lost == 1)
		fprintf(gaps, "stackmon-sub: gap from %s (%s): seq %llu missing (1 frame)\n",
			h->host, kind ? kind : "?", (unsigned long long)n.first_missing);
	else if (n.lost > 1)
		fprintf(gaps,
			"stackmon-sub: gap from %s (%s): seq %llu-%llu missing (%llu frames)\n",
			h->host, kind ? kind : "?", (unsigned long long)n.first_missing,
			(unsigned long long)n.last_missing, (unsigned long long)n.lost);
	if (n.jumped > 0)
		fprintf(gaps,
			"stackmon-sub: seq from %s (%s) leapt to %llu, %llu frames ahead: not"
			" counted as loss\n",
			h->host, kind ? kind : "?", (unsigned long long)h->seq,
			(unsigned long long)n.jumped);
	fflush(gaps);
	return n.lost;
}

static int row_order(const void *a, const void *b)
{
	const struct sm_publisher_loss *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	return c ? c : (int)x->kind - (int)y->kind;
}

static double percent(uint64_t lost, uint64_t received)
{
	return lost + received ? 100.0 * (double)lost / (double)(lost + received) : 0.0;
}

void sub_loss_report(const struct sub_loss *self, FILE *out)
{
	size_t max = loss_table_senders(self->table) * 8 + 1, n;
	struct sm_publisher_loss *rows = calloc(max, sizeof(*rows));
	uint64_t received = 0, lost = 0;

	if (!rows) {
		fprintf(out, "stackmon-sub: no memory for the loss summary\n");
		return;
	}
	n = loss_table_rows(self->table, rows, max);
	qsort(rows, n, sizeof(*rows), row_order);
	for (size_t i = 0; i < n; i++) {
		const char *kind = sm_wire_kind_name(rows[i].kind);

		fprintf(out,
			"stackmon-sub: received from %s (%s): %llu frames, %llu lost (%.1f%%)\n",
			rows[i].host, kind ? kind : "?", (unsigned long long)rows[i].received,
			(unsigned long long)rows[i].lost, percent(rows[i].lost, rows[i].received));
		received += rows[i].received;
		lost += rows[i].lost;
	}
	fprintf(out,
		"stackmon-sub: loss in all: %llu frames received from %zu senders, %llu lost"
		" (%.1f%%), %llu duplicate or late, %llu seq leaps not counted\n",
		(unsigned long long)received, loss_table_senders(self->table),
		(unsigned long long)lost, percent(lost, received),
		(unsigned long long)loss_table_reordered(self->table),
		(unsigned long long)self->leaps);
	fflush(out);
	free(rows);
}
