// Generated from the API's OpenAPI document by `python -m tests.web.openapi_ts`:
// do not edit. The web UI is type-checked against it (tests/web).

/** The answer to an accepted (or already accepted) batch. */
export type Accepted = {
  batch_id: string | null;
  host: string;
  points: number;
  fields: number;
  duplicate?: boolean;
};

/** A pending or firing alert. */
export type ActiveAlert = {
  rule_id: number;
  rule_name: string;
  severity: string;
  host: string;
  status: string;
  value: number | null;
  pending_since: string | null;
  firing_since: string | null;
  labels: { [key: string]: unknown };
  annotations: { [key: string]: unknown };
};

/** How samples inside one step are combined. */
export type Aggregate = "mean" | "min" | "max" | "last" | "sum" | "count" | "rate";

/** Alert state machine: inactive -> pending -> firing -> resolved. */
export type AlertStatus = "inactive" | "pending" | "firing" | "resolved";

/** The vocabulary of rules and channels, in the order a person reads it. */
export type AlertingOut = {
  /** least to most severe */
  severities: Array<string>;
  rule_kinds: Array<string>;
  aggregates: Array<string>;
  comparisons: Array<string>;
  channel_kinds: Array<ChannelKindOut>;
};

export type Body_login_api_v1_auth_token_post = {
  username: string;
  password: string;
};

/** Per-category query endpoints. */
export type Category = "cpu" | "memory" | "disk" | "network" | "processes";

/** Latest values of one category's measurements of a host, grouped by measurement. */
export type CategoryOut = {
  host: string;
  category: Category;
  measurements: { [key: string]: Array<SampleOut> };
};

/** A channel as written by an admin; `config` may hold secrets and is never read back. */
export type ChannelIn = {
  name: string;
  /** Channel kind; `config` keys per kind (others are kept write-only too): - `log`: A line in the worker's log (embedded default). Keys: level (shown back). - `slack`: Slack incoming webhook, Block Kit message. Keys: webhook_url (required). - `discord`: Discord webhook, one embed coloured by severity. Keys: webhook_url (required). - `webhook`: JSON POST, HMAC-SHA256 signed with `secret` if set. Keys: url (required). - `alertmanager`: Prometheus Alertmanager, POST /api/v2/alerts. Keys: url (required). - `ntfy`: ntfy topic (phone push); `url` is the topic URL. Keys: url (required). - `email`: Email over SMTP (STARTTLS by default). Keys: host (required), from (required), to (required), port (shown back), security (shown back), ca_file (shown back). */
  kind: "log" | "slack" | "discord" | "webhook" | "alertmanager" | "ntfy" | "email";
  config?: { [key: string]: unknown };
  min_severity?: Severity;
  send_resolved?: boolean;
  repeat_interval_s?: number;
  enabled?: boolean;
};

/** One notification channel kind, the config keys it needs and those shown back. */
export type ChannelKindOut = {
  kind: string;
  doc: string;
  required: Array<string>;
  /** config keys shown back; every other key is write-only (secret) */
  public: Array<string>;
};

/** A stored channel: secret config values are named, never shown. */
export type ChannelOut = {
  id: number;
  name: string;
  kind: string;
  config: { [key: string]: unknown };
  secret_keys: Array<string>;
  min_severity: string;
  send_resolved: boolean;
  repeat_interval_s: number;
  enabled: boolean;
  created_at: string;
};

/** The host's clock offset: the server's clock minus the host's. */
export type ClockOut = {
  offset_s: number;
  /** agent: measured by the agent against X-Fleetmon-Time (its timestamps are corrected by it); arrival: arrival time minus the newest point's time (line protocol senders; includes the time points waited to be sent) */
  source: string;
  measured_at: string;
};

/** How a rule compares the observed value with its threshold. */
export type Comparison = ">" | ">=" | "<" | "<=" | "==" | "!=";

/** The share of expected samples present over a window, its gaps and late fills. */
export type CompletenessOut = {
  host: string;
  start: string;
  end: string;
  /** the series counted, measurement.field{tags} */
  reference: string;
  /** collection interval: as given, else estimated from the data */
  interval_s: number | null;
  expected: number;
  present: number;
  /** present / expected, 0..1; None without data */
  ratio: number | null;
  gaps: Array<GapOut>;
  filled_late: Array<LateFillOut>;
};

/** Latest value of every series of a host. */
export type CurrentOut = {
  host: string;
  series: Array<SampleOut>;
};

/** Data of the host that was not stored, for one kind and reason. */
export type DropOut = {
  /** agent: points its agent dropped (the agent's reason); refused: points this server refused (too_old, in_future, invalid, store_dropped, too_large); quarantine: spool files its agent set aside (reason `files`) */
  kind: string;
  reason: string;
  /** points (files for quarantine) since first_at */
  count: number;
  first_at: string;
  /** when the count last grew */
  last_at: string;
};

/** What an agent sends to enroll. */
export type EnrollIn = {
  token: string;
  name: string;
  labels?: { [key: string]: string };
};

/** The new host and its API key (shown once; only its hash is stored). */
export type EnrollOut = {
  host_id: number;
  host: string;
  api_key: string;
};

/** One state transition from the history. */
export type EventOut = {
  id: number;
  rule_id: number | null;
  rule_name: string;
  host: string;
  severity: string;
  from_status: string;
  to_status: string;
  value: number | null;
  at: string;
  details: { [key: string]: unknown };
};

/** A stretch without any sample of the reference series. */
export type GapOut = {
  start: string;
  end: string;
  /** expected samples in it */
  missing: number;
};

export type HTTPValidationError = {
  detail?: Array<ValidationError>;
};

/** Bucketed values of one metric of a host. */
export type HistoryOut = {
  host: string;
  metric: string;
  aggregate: Aggregate;
  /** bucket width in seconds */
  interval: number;
  start: number;
  end: number;
  series: Array<HistorySeries>;
};

/** One series of a history answer: [epoch seconds, value or null] per bucket. */
export type HistorySeries = {
  tags: { [key: string]: string };
  /** the coarsest storage tier that answered: raw, 5m, 1h or 1d */
  tier: string;
  /** every tier's part, oldest first: the chosen tier where its windows are rolled up, finer tiers for the rest up to the end */
  tiers: Array<TierPart>;
  points: Array<[number, number | null]>;
};

/** One host of the inventory. */
export type HostOut = {
  id: number;
  name: string;
  labels: { [key: string]: string };
  agent_version: string | null;
  first_seen: string | null;
  last_seen: string | null;
  /** up, stale or down, from last_seen */
  status: string;
  active_keys: number;
  /** None until the host's clock was measured */
  clock: ClockOut | null;
  /** what was not stored, by kind and reason */
  drops: Array<DropOut>;
};

/** How a host's status follows from the age of its last contact. */
export type HostStatusOut = {
  /** up while last seen at most this long ago */
  stale_after_s: number;
  /** stale until this long, then down */
  down_after_s: number;
};

/** A new host key (shown once). */
export type KeyOut = {
  host: string;
  api_key: string;
  previous_keys_expire_at: string;
};

/** A stretch whose samples arrived late: replayed from the agent's spool. */
export type LateFillOut = {
  start: string;
  end: string;
  /** late points of the host in it (every measurement) */
  points: number;
  arrived_first: string;
  arrived_last: string;
};

/** Who the token belongs to. */
export type MeOut = {
  username: string;
  role: string;
};

/** One notification to one channel and what became of it. */
export type NotificationOut = {
  id: number;
  channel_id: number;
  event_id: number;
  /** pending until the alert worker delivers it or gives up */
  status: NotificationStatus;
  attempts: number;
  next_attempt_at: string;
  sent_at: string | null;
  /** the receiver's answer; never a URL or secret */
  last_error: string | null;
};

/** A channel's message for one notification, as the worker would send it. */
export type NotificationPreviewOut = {
  channel_id: number;
  kind: string;
  /** a sample alert, or the stored state of the alert asked for */
  source: "sample" | "alert";
  status: "firing" | "resolved";
  /** what the reader sees first: subject, header, log line */
  title: string;
  /** json: the request body the channel posts; text: the message as shown */
  format: "json" | "text";
  body: string;
  /** whether the worker would send this notification to this channel */
  would_send: boolean;
  /** when it would not: the reason, in words (a resolution also goes only to channels that were notified of the firing) */
  why_not: string | null;
};

/** An outbox row: pending until delivered (sent) or given up (failed). */
export type NotificationStatus = "pending" | "sent" | "failed";

/** Sort direction. */
export type Order = "asc" | "desc";

/** One host of the fleet overview; a value is absent when the host sent none recently. */
export type OverviewHost = {
  name: string;
  /** up, stale or down */
  status: string;
  last_seen: string | null;
  labels: { [key: string]: string };
  /** 100 - cpu.usage_idle of cpu-total */
  cpu_percent?: number | null;
  /** mem.used_percent */
  mem_percent?: number | null;
  /** disk.used_percent of the fullest filesystem */
  disk_percent?: number | null;
  /** mount point (`path` tag) of the fullest filesystem */
  disk_path?: string | null;
  /** system.load1 */
  load1?: number | null;
  /** bytes/s received, summed over the interfaces except loopback */
  net_recv_bps?: number | null;
  /** bytes/s sent, summed over the interfaces except loopback */
  net_sent_bps?: number | null;
};

/** The fleet overview: one page of the matching hosts and the count of hosts per status. */
export type OverviewOut = {
  /** epoch seconds of the answer */
  time: number;
  /** epoch seconds when the store values were read */
  values_time: number;
  /** hosts per status, whole fleet (no filter) */
  counts: { [key: string]: number };
  /** hosts matching q and status (every page) */
  total: number;
  offset: number;
  hosts: Array<OverviewHost>;
};

/** One host the rule sees now. */
export type PreviewHost = {
  host: string;
  /** the condition holds on this host now */
  matches: boolean;
  /** the deciding value: the worst series' aggregate, or seconds since the last heartbeat for host_down */
  value: number | null;
  series: Array<PreviewSeries>;
};

/** What the rule sees now; the worker would make these hosts pending (firing after for_s). */
export type PreviewOut = {
  evaluated_at: string;
  /** null when the rule covers every host */
  hosts_in_scope: number | null;
  hosts_with_data: number;
  /** hosts on which the condition holds now */
  matching: number;
  /** matching hosts, if for_s is 0; otherwise 0 (they would be pending) */
  would_fire_now: number;
  /** matching hosts first, then the others by value; at most 200 */
  hosts: Array<PreviewHost>;
};

/** One series of a host with its aggregate over the window. */
export type PreviewSeries = {
  tags: { [key: string]: string };
  value: number;
  matches: boolean;
};

/** How a rule combines the samples of its window (authors say "avg", stores "mean"). */
export type RuleAggregate = "avg" | "mean" | "max" | "min" | "last" | "rate" | "sum" | "count";

/** A rule as written by an admin. */
export type RuleIn = {
  name: string;
  kind?: RuleKind;
  /** measurement.field; empty for host_down (optional), data_loss and clock_skew */
  metric?: string;
  tags?: { [key: string]: string };
  aggregate?: RuleAggregate;
  window_s?: number;
  comparison?: Comparison;
  threshold?: number;
  for_s?: number;
  keep_firing_for_s?: number;
  severity?: Severity;
  scope?: Scope;
  labels?: { [key: string]: string };
  annotations?: { [key: string]: string };
  channels?: Array<string>;
  enabled?: boolean;
};

/** What a rule watches. */
export type RuleKind = "threshold" | "host_down" | "agent_health" | "data_loss" | "clock_skew";

/** A stored rule. */
export type RuleOut = {
  name: string;
  kind?: RuleKind;
  /** measurement.field; empty for host_down (optional), data_loss and clock_skew */
  metric?: string;
  tags?: { [key: string]: string };
  aggregate?: RuleAggregate;
  window_s?: number;
  comparison?: Comparison;
  threshold?: number;
  for_s?: number;
  keep_firing_for_s?: number;
  severity?: Severity;
  scope?: Scope;
  labels?: { [key: string]: string };
  annotations?: { [key: string]: string };
  channels?: Array<string>;
  enabled?: boolean;
  id: number;
  builtin: boolean;
  created_at: string;
  updated_at: string;
};

/** The latest value of one series. */
export type SampleOut = {
  measurement: string;
  field: string;
  tags: { [key: string]: string };
  /** epoch seconds of the sample */
  time: number;
  value: boolean | number | string;
};

/** Which hosts a rule covers: listed hosts and/or hosts with these labels (empty: all). */
export type Scope = {
  hosts?: Array<string>;
  labels?: { [key: string]: string };
};

/** How urgent an alert is; members are declared from least to most severe. */
export type Severity = "info" | "warning" | "critical";

/** Mute notifications matching every criterion given, between two instants. */
export type SilenceIn = {
  rule_id?: number | null;
  host?: string | null;
  labels?: { [key: string]: string };
  starts_at?: string | null;
  ends_at: string;
  comment?: string;
};

/** A stored silence. */
export type SilenceOut = {
  id: number;
  rule_id: number | null;
  host: string | null;
  labels: { [key: string]: string };
  starts_at: string;
  ends_at: string;
  comment: string;
  created_by: string | null;
  active: boolean;
};

/** Columns the overview sorts by. */
export type SortKey = "status" | "name" | "cpu" | "mem" | "disk" | "load" | "net" | "seen";

/** Host status to filter by. */
export type StatusFilter = "up" | "stale" | "down";

/** Statistics of one metric of a host over a range (every matching series together). */
export type SummaryOut = {
  host: string;
  metric: string;
  start: number;
  end: number;
  count: number;
  avg: number | null;
  min: number | null;
  max: number | null;
  p95: number | null;
  p99: number | null;
  /** true when p95/p99 come from rollups */
  approximate: boolean;
};

/** The part of a history answer one storage tier gave: [from, to) in epoch seconds. */
export type TierPart = {
  /** storage tier: raw, 5m, 1h or 1d */
  name: string;
  from: number;
  to: number;
};

/** The token value is shown only here. */
export type TokenCreated = {
  id: number;
  token: string;
  expires_at: string | null;
  max_uses: number | null;
};

/** Options of a new enrollment token. */
export type TokenIn = {
  description?: string;
  max_uses?: number | null;
  expires_in_s?: number | null;
  labels?: { [key: string]: string };
};

/** An OAuth2-style bearer token. */
export type TokenOut = {
  access_token: string;
  token_type?: string;
  expires_in: number;
};

/** Server settings the UI renders with instead of guessing. */
export type UiConfigOut = {
  host_status: HostStatusOut;
  /** interfaces left out of network rates (traffic that never leaves the host) */
  loopback_interfaces: Array<string>;
  alerting: AlertingOut;
};

export type ValidationError = {
  loc: Array<string | number>;
  msg: string;
  type: string;
  input?: unknown;
  ctx?: { [key: string]: unknown };
};

/** Every operation: path and query parameters, request body, success answer. */
export interface Paths {
  "/agent/wheels/": {
    get: {
      path: never;
      query: never;
      body: never;
      response: unknown;
    };
  };
  "/agent/wheels/{name}": {
    get: {
      path: {
        name: string;
      };
      query: never;
      body: never;
      response: unknown;
    };
  };
  "/agent/{name}": {
    get: {
      path: {
        name: string;
      };
      query: never;
      body: never;
      response: unknown;
    };
  };
  "/api/v1/alerts/active": {
    get: {
      path: never;
      query: {
        host?: string | null;
        severity?: Severity | null;
        state?: "pending" | "firing" | null;
      };
      body: never;
      response: Array<ActiveAlert>;
    };
  };
  "/api/v1/alerts/channels": {
    get: {
      path: never;
      query: never;
      body: never;
      response: Array<ChannelOut>;
    };
    post: {
      path: never;
      query: never;
      body: ChannelIn;
      response: ChannelOut;
    };
  };
  "/api/v1/alerts/channels/{channel_id}": {
    put: {
      path: {
        channel_id: number;
      };
      query: never;
      body: ChannelIn;
      response: ChannelOut;
    };
    delete: {
      path: {
        channel_id: number;
      };
      query: never;
      body: never;
      response: null;
    };
  };
  "/api/v1/alerts/channels/{channel_id}/preview": {
    get: {
      path: {
        channel_id: number;
      };
      query: {
        rule_id?: number | null;
        host?: string | null;
        status?: "firing" | "resolved";
      };
      body: never;
      response: NotificationPreviewOut;
    };
  };
  "/api/v1/alerts/channels/{channel_id}/test": {
    post: {
      path: {
        channel_id: number;
      };
      query: never;
      body: never;
      response: NotificationOut;
    };
  };
  "/api/v1/alerts/history": {
    get: {
      path: never;
      query: {
        rule_id?: number | null;
        host?: string | null;
        severity?: Severity | null;
        to_status?: AlertStatus | null;
        start?: string | null;
        end?: string | null;
        limit?: number;
        before_id?: number | null;
      };
      body: never;
      response: Array<EventOut>;
    };
  };
  "/api/v1/alerts/notifications/{notification_id}": {
    get: {
      path: {
        notification_id: number;
      };
      query: never;
      body: never;
      response: NotificationOut;
    };
  };
  "/api/v1/alerts/rules": {
    get: {
      path: never;
      query: never;
      body: never;
      response: Array<RuleOut>;
    };
    post: {
      path: never;
      query: never;
      body: RuleIn;
      response: RuleOut;
    };
  };
  "/api/v1/alerts/rules/preview": {
    post: {
      path: never;
      query: never;
      body: RuleIn;
      response: PreviewOut;
    };
  };
  "/api/v1/alerts/rules/{rule_id}": {
    get: {
      path: {
        rule_id: number;
      };
      query: never;
      body: never;
      response: RuleOut;
    };
    put: {
      path: {
        rule_id: number;
      };
      query: never;
      body: RuleIn;
      response: RuleOut;
    };
    delete: {
      path: {
        rule_id: number;
      };
      query: never;
      body: never;
      response: null;
    };
  };
  "/api/v1/alerts/silences": {
    get: {
      path: never;
      query: {
        include_expired?: boolean;
      };
      body: never;
      response: Array<SilenceOut>;
    };
    post: {
      path: never;
      query: never;
      body: SilenceIn;
      response: SilenceOut;
    };
  };
  "/api/v1/alerts/silences/{silence_id}": {
    delete: {
      path: {
        silence_id: number;
      };
      query: never;
      body: never;
      response: null;
    };
  };
  "/api/v1/alerts/silences/{silence_id}/expire": {
    post: {
      path: {
        silence_id: number;
      };
      query: never;
      body: never;
      response: SilenceOut;
    };
  };
  "/api/v1/auth/me": {
    get: {
      path: never;
      query: never;
      body: never;
      response: MeOut;
    };
  };
  "/api/v1/auth/token": {
    post: {
      path: never;
      query: never;
      body: Body_login_api_v1_auth_token_post;
      response: TokenOut;
    };
  };
  "/api/v1/enroll-tokens": {
    get: {
      path: never;
      query: never;
      body: never;
      response: Array<{ [key: string]: unknown }>;
    };
    post: {
      path: never;
      query: never;
      body: TokenIn;
      response: TokenCreated;
    };
  };
  "/api/v1/enroll-tokens/{token_id}": {
    delete: {
      path: {
        token_id: number;
      };
      query: never;
      body: never;
      response: null;
    };
  };
  "/api/v1/hosts": {
    get: {
      path: never;
      query: never;
      body: never;
      response: Array<HostOut>;
    };
  };
  "/api/v1/hosts/enroll": {
    post: {
      path: never;
      query: never;
      body: EnrollIn;
      response: EnrollOut;
    };
  };
  "/api/v1/hosts/{host}": {
    get: {
      path: {
        host: string;
      };
      query: never;
      body: never;
      response: HostOut;
    };
    delete: {
      path: {
        host: string;
      };
      query: {
        purge?: boolean;
      };
      body: never;
      response: null;
    };
  };
  "/api/v1/hosts/{host}/completeness": {
    get: {
      path: {
        host: string;
      };
      query: {
        range?: string;
        interval?: number | null;
      };
      body: never;
      response: CompletenessOut;
    };
  };
  "/api/v1/hosts/{host}/keys/revoke": {
    post: {
      path: {
        host: string;
      };
      query: never;
      body: never;
      response: null;
    };
  };
  "/api/v1/hosts/{host}/keys/rotate": {
    post: {
      path: {
        host: string;
      };
      query: {
        overlap_s?: number;
      };
      body: never;
      response: KeyOut;
    };
  };
  "/api/v1/metrics/collect": {
    post: {
      path: never;
      query: never;
      body: {
        batch_id: string;
        agent?: {
          version: string;
          /** Points the agent dropped since its spool was created (sum of `dropped`) */
          dropped_points?: number;
          /** Points dropped so far, by reason (cumulative) */
          dropped?: { [key: string]: unknown };
          /** Spool files set aside as unreadable or refused so far (cumulative) */
          quarantined_files?: number;
          /** Server clock minus the agent's, as the agent measured it; the batch's timestamps are already corrected by it */
          clock_offset_s?: number;
        } | null;
        points: Array<{
          measurement: string;
          /** Unix time in seconds (fractions allowed) */
          time: number;
          tags?: { [key: string]: string };
          fields: { [key: string]: boolean | number | string };
        }>;
      };
      response: Accepted;
    };
  };
  "/api/v1/metrics/current": {
    get: {
      path: never;
      query: {
        host: string;
      };
      body: never;
      response: CurrentOut;
    };
  };
  "/api/v1/metrics/history": {
    get: {
      path: never;
      query: {
        host: string;
        metric: string;
        start?: string | null;
        end?: string | null;
        interval?: string | null;
        aggregate?: Aggregate | null;
        tag?: Array<string> | null;
      };
      body: never;
      response: HistoryOut;
    };
  };
  "/api/v1/metrics/overview": {
    get: {
      path: never;
      query: {
        q?: string;
        status?: StatusFilter | null;
        sort?: SortKey;
        order?: Order;
        limit?: number | null;
        offset?: number;
      };
      body: never;
      response: OverviewOut;
    };
  };
  "/api/v1/metrics/summary": {
    get: {
      path: never;
      query: {
        host: string;
        metric: string;
        start?: string | null;
        end?: string | null;
        tag?: Array<string> | null;
      };
      body: never;
      response: SummaryOut;
    };
  };
  "/api/v1/metrics/{category}": {
    get: {
      path: {
        category: Category;
      };
      query: {
        host: string;
      };
      body: never;
      response: CategoryOut;
    };
  };
  "/api/v1/ui/config": {
    get: {
      path: never;
      query: never;
      body: never;
      response: UiConfigOut;
    };
  };
  "/api/v2/write": {
    post: {
      path: never;
      query: {
        precision?: string;
        org?: string | null;
        bucket?: string | null;
      };
      body: never;
      response: null;
    };
  };
  "/health": {
    get: {
      path: never;
      query: never;
      body: never;
      response: unknown;
    };
  };
  "/install.sh": {
    get: {
      path: never;
      query: never;
      body: never;
      response: null;
    };
  };
  "/metrics": {
    get: {
      path: never;
      query: never;
      body: never;
      response: unknown;
    };
  };
  "/ping": {
    get: {
      path: never;
      query: {
        verbose?: string | null;
      };
      body: never;
      response: null;
    };
  };
  "/query": {
    get: {
      path: never;
      query: {
        q?: string | null;
        db?: string | null;
      };
      body: never;
      response: unknown;
    };
    post: {
      path: never;
      query: {
        q?: string | null;
        db?: string | null;
      };
      body: never;
      response: unknown;
    };
  };
  "/write": {
    post: {
      path: never;
      query: {
        precision?: string;
        db?: string | null;
      };
      body: never;
      response: null;
    };
  };
}

export type Method = "get" | "post" | "put" | "delete";
/** The paths that answer `M`. */
export type PathWith<M extends Method> = {
  [P in keyof Paths]: M extends keyof Paths[P] ? P : never;
}[keyof Paths];
export type Operation<P extends keyof Paths, M extends Method> = M extends keyof Paths[P]
  ? Paths[P][M]
  : never;
/** What a successful call of `M P` answers. */
export type ResponseOf<P extends keyof Paths, M extends Method> = Operation<P, M> extends {
  response: infer R;
}
  ? R
  : never;
type Field<O, K extends string> = O extends { [k in K]: infer T } ? T : never;
/** Path and query parameters, body and abort signal of one call. */
export type RequestOf<P extends keyof Paths, M extends Method> = {
  path?: Field<Operation<P, M>, "path">;
  query?: Field<Operation<P, M>, "query">;
  body?: Field<Operation<P, M>, "body">;
  signal?: AbortSignal;
};
