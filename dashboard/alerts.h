/*
 * alerts — the alerts firing now, as stackmon-alert's firing file has them
 * (src/store/firing.h), in the tenant page and the instance page: only the
 * rows of the project or instance the page is about, which the page has
 * already checked the requester may read (the same access rules as every
 * other figure). Without alert_dir in the configuration, nothing is shown.
 */
#ifndef DASH_ALERTS_H
#define DASH_ALERTS_H

#include "dash.h"

/* Writes the "Firing alerts" section for project `project_id` (uuid NULL)
 * or for the instance `uuid` (project_id NULL). A missing file shows as no
 * alert; an unreadable one says so (and is logged). */
void alerts_write(struct dash *d, const char *project_id, const char *uuid);

#endif
