/*
 * routes — which PATH_INFO reaches which page, and the query keys each one
 * accepts with their character classes and bounds (query.h). A key a route
 * does not list is refused with 400 before the page runs.
 */
#include "page.h"

#define WINDOW                                                                                     \
	{                                                                                          \
		"window", QUERY_WORD, 3                                                            \
	}
#define SORT                                                                                       \
	{                                                                                          \
		"sort", QUERY_WORD, 16                                                             \
	}
#define ORDER                                                                                      \
	{                                                                                          \
		"order", QUERY_WORD, 4                                                             \
	}
#define PROJECT                                                                                    \
	{                                                                                          \
		"project", QUERY_ID, 64                                                            \
	}
#define UUID                                                                                       \
	{                                                                                          \
		"uuid", QUERY_UUID, 36                                                             \
	}

static const struct query_key home_keys[] = {PROJECT, SORT, ORDER, {"refresh", QUERY_NUMBER, 4}};
static const struct query_key instance_keys[] = {UUID, WINDOW};
static const struct query_key host_keys[] = {{"name", QUERY_ID, 253}, WINDOW, SORT, ORDER};
static const struct query_key instances_keys[] = {SORT, ORDER};
static const struct query_key api_snapshot_keys[] = {PROJECT, SORT, ORDER};
static const struct query_key api_instance_keys[] = {UUID};
static const struct query_key api_series_keys[] = {
    UUID, {"host", QUERY_ID, 253}, {"metric", QUERY_ID, 255}, WINDOW};
static const struct query_key api_host_keys[] = {{"name", QUERY_ID, 253}};

#define KEYS(a) a, sizeof(a) / sizeof((a)[0])

const struct page_route page_routes[] = {
    {"/", KEYS(home_keys), page_home, false, true},
    {"/instance", KEYS(instance_keys), page_instance, false, true},
    {"/host", KEYS(host_keys), page_host, false, true},
    {"/instances", KEYS(instances_keys), page_instances, false, true},
    {"/api/v1", NULL, 0, api_index, true, false},
    {"/api/v1/projects", NULL, 0, api_projects, true, true},
    {"/api/v1/snapshot", KEYS(api_snapshot_keys), api_snapshot, true, true},
    {"/api/v1/instance", KEYS(api_instance_keys), api_instance, true, true},
    {"/api/v1/series", KEYS(api_series_keys), api_series, true, true},
    {"/api/v1/hosts", NULL, 0, api_hosts, true, true},
    {"/api/v1/host", KEYS(api_host_keys), api_host, true, true},
    {NULL, NULL, 0, NULL, false, false},
};
