/*
 * taxii.h - durable push of STIX 2.1 objects to a TAXII 2.1 collection.
 *
 * What is submitted is first appended to a spool on disk (spool.h); a
 * worker thread reads the spool, POSTs envelopes {"objects":[...]} to
 * {collection}/objects/ with libcurl, follows the status resource until it
 * is complete, and only then acknowledges the records. Connection errors,
 * 408, 429 and 5xx are retried with capped exponential backoff; 401, 403,
 * 404, 406 and 415 (credentials, permissions, address or media type: the
 * operator must act) are retried the same way with a clear message; any
 * other 4xx rejects the content: the record goes to the dead-letter file
 * (spool_dir/dead-letter.jsonl) with one error line. Nothing here blocks
 * the caller on the network. docs/sharing-taxii.md has the settings.
 */
#ifndef VIGIL_TAXII_H
#define VIGIL_TAXII_H

#include <stddef.h>
#include <stdint.h>

#include "output.h"
#include "spool.h"

/* TAXII 2.1 media type: Accept of every request, Content-Type of a POST. */
#define VIGIL_TAXII_MEDIA_TYPE "application/taxii+json;version=2.1"

struct vigil_taxii_options {
    const char *collection_url; /* https://host/api-root/collections/ID/ */
    const char *username;       /* HTTP Basic with password, or NULL */
    const char *password;
    const char *token;          /* Bearer token, or NULL */
    const char *ca_file;        /* trust anchors (PEM), NULL: the system's */
    int insecure;               /* do not verify the certificate (tests only) */
    int allow_http;             /* http:// even to a non-loopback host (never set it) */
    long connect_timeout_sec;   /* 0: 10 */
    long timeout_sec;           /* one request, 0: 30 */
    long status_timeout_sec;    /* following a pending status, 0: 60 */
    long retry_min_ms;          /* first backoff, 0: 500 */
    long retry_max_ms;          /* backoff cap, 0: 60000 */
    long drain_sec;             /* close() waits that long to deliver the rest */
    long sync_ms;               /* worker fsyncs the spool this often; 0: in every append */
    size_t batch_records;       /* records per POST, 0: 100 */
    size_t batch_bytes;         /* payload bytes per POST, 0: 1 MiB */
    struct vigil_spool_options spool;
};

struct vigil_taxii_counters {
    struct vigil_spool_counters spool;
    uint64_t posts;             /* POST requests made */
    uint64_t accepted;          /* records the server accepted */
    uint64_t retries;           /* failed attempts that will be retried */
    uint64_t dead_letter;       /* records (or objects) moved to the dead-letter file */
    uint64_t withheld;          /* alerts not shared by policy (counted by the sink) */
};

struct vigil_taxii;

/* Check the settings, open the spool (resuming it) and start the worker.
 * NULL with the reason in err. */
struct vigil_taxii *vigil_taxii_open(const struct vigil_taxii_options *opt, char *err,
                                     size_t errlen);

/*
 * Queue one record: the JSON text of an array of STIX objects. Returns 0
 * once it is in the spool; -1 when it was dropped (spool full with
 * drop_new, or a write error), counted either way.
 */
int vigil_taxii_submit(struct vigil_taxii *t, const char *objects_json, size_t len);

/*
 * Give the worker up to drain_sec to deliver what is spooled, then stop it.
 * What is left stays in the spool for the next run (said on stderr).
 * 0, or -1 if any record was lost this run (dropped, unwritable).
 */
int vigil_taxii_close(struct vigil_taxii *t);

void vigil_taxii_counters(struct vigil_taxii *t, struct vigil_taxii_counters *c);

/*
 * Split a collection URL into the URL to POST objects to and the status
 * URL prefix ({api-root}/status/). A missing final '/' is added. 0, or -1
 * with the reason in err (not http(s), credentials or query in the URL, no
 * /collections/ID/, or http:// to a host that is not loopback).
 */
int vigil_taxii_parse_url(const char *collection, int allow_http, char *objects_url,
                          size_t objects_len, char *status_prefix, size_t status_len,
                          char *err, size_t errlen);

/* The "taxii" sink: target is the collection URL, settings from [taxii]. */
int vigil_output_open_taxii(const char *target, const struct vigil_output_env *env,
                            struct vigil_output *out, char *err, size_t errlen);

#endif
