// Package push is trainwatch's Pushgateway-compatible receiver: training
// scripts push their metrics (prometheus_client's push_to_gateway,
// pushadd_to_gateway and delete_from_gateway, or any Pushgateway client) to
// the agent, which keeps them per group, stores every push in its history
// and re-exposes the current values on its own /metrics.
//
// # Protocol
//
// The Gateway serves PUT, POST and DELETE on
// /metrics/job/<JOB>{/<LABEL_NAME>/<LABEL_VALUE>}, exactly as the
// Pushgateway does: the path's labels are the grouping key; a name ending
// in @base64 has a URL-safe base64 value (padding optional, "=" for an
// empty value); a "+" in a value is kept literally (Python's quote_plus
// sends spaces as "+", and the Pushgateway keeps them so). PUT replaces the
// whole group (an empty body empties it but still updates
// push_time_seconds), POST replaces only the families of the same names,
// DELETE (with an empty body) removes the group and always answers 202.
// Bodies are the text format 0.0.4 (the default), OpenMetrics
// (application/openmetrics-text, which must end with "# EOF") or delimited
// protobuf (application/vnd.google.protobuf;
// proto=io.prometheus.client.MetricFamily; encoding=delimited), optionally
// gzip-compressed. Text and OpenMetrics are parsed with Prometheus' own
// scrape parsers (model/textparse).
//
// The grouping key's labels replace the body's labels of the same names.
// A push is refused with 400 and an explanation when it is malformed, when
// a metric has another type in another group, when a series appears twice,
// when it uses a name reserved for the agent (Options.Reserved) or when it
// carries timestamps (unless Options.AllowTimestamps); larger bodies than
// Options.MaxBodyBytes get 413, one more group than Options.MaxGroups 429.
// A refused push changes nothing but its group's push_failure_time_seconds
// (creating the group, with push_time_seconds 0, as the Pushgateway does).
//
// Unlike the Pushgateway, the receiver can forget idle groups: Expire
// removes groups whose last push is older than Options.TTL.
//
// # History
//
// Every accepted push goes to Options.Append (the store) at push time: each
// pushed series with its complete label set (the body's labels plus the
// grouping key's: job, run, ...; no instance unless the grouping key or
// the body has one), histograms and summaries flattened, plus the group's
// push_time_seconds and push_failure_time_seconds. Series that a PUT or
// POST removes from a group, and every series of a deleted or expired
// group, get a staleness marker at that time, so queries stop showing them
// at once. Pushes get strictly increasing timestamps (a millisecond apart
// at least), so that quick pushes never collide.
//
// # Exposition
//
// The pushed series are stored when they are pushed, not at the agent's
// collection ticks, so the Gateway is not a collector of them: its Collect
// emits only the receiver's self-metrics (trainwatch_push_*). The web
// layer appends Families, the current content of all groups, to the
// families of the latest tick when it serves /metrics; the collection
// loop never sees them, so nothing is stored twice. A Prometheus scraping
// the agent with honor_labels: true then sees the pushed series as it
// would on a Pushgateway.
package push
