/*
 * redis_out.h - the Redis Streams sink: alerts and stats of many sensors
 * into one place, for `vigil collect` or any other stream consumer.
 *
 * Each record is one XADD (with MAXLEN ~ [redis] maxlen) carrying the
 * fields
 *     sensor  the sensor name ([vigil] sensor_name, else the host name)
 *     type    "alert" or "stats"
 *     ts      the record's packet time, microseconds since the epoch
 *     seq     per-sink sequence number (1, 2, ...) of this run
 *     eve     the EVE JSON record, exactly as the EVE file has it
 *
 * The packet path only appends to a bounded in-memory queue; a worker
 * thread with its own connection drains it, reconnecting with backoff
 * while Redis is unreachable. When the queue is full the oldest record is
 * dropped and counted. close() waits up to [redis] drain_sec for the queue
 * to empty and reports what was not delivered.
 *
 * Settings ([redis] section):
 *     stream        alerts stream (vigil:alerts)
 *     stats_stream  stats stream (vigil:stats)
 *     maxlen        approximate stream length cap (1000000; 0 = none)
 *     queue_max     records held while Redis is slow or down (100000)
 *     drain_sec     close(): wait this long to deliver the rest (10)
 *     password      AUTH before use (optional)
 */
#ifndef VIGIL_REDIS_OUT_H
#define VIGIL_REDIS_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "output.h"

struct redisContext;

/* Open the sink on target "host:port", "host" (port 6379) or "unix:/path". */
int vigil_output_open_redis(const char *target, const struct vigil_output_env *env,
                            struct vigil_output *out, char *err, size_t errlen);

/* Counters of an open sink (out->self), for tests and summaries. */
struct vigil_redis_counters {
    uint64_t queued;            /* accepted into the queue */
    uint64_t delivered;         /* XADD acknowledged by Redis */
    uint64_t dropped;           /* pushed out of a full queue */
    uint64_t pending;           /* in the queue or in flight now */
    uint64_t reconnects;        /* connections (re)established */
    int connected;
};
void vigil_redis_out_counters(void *self, struct vigil_redis_counters *c);

/*
 * Connect to "host:port", "host" or "unix:/path" (NULL or "": 127.0.0.1:6379)
 * with a timeout for the connect and for each command, and AUTH when
 * password is set. NULL with the reason in err.
 */
struct redisContext *vigil_redis_connect(const char *target, int timeout_ms,
                                         const char *password, char *err, size_t errlen);

#endif
